ALTER TABLE "alert_incidents" ADD COLUMN "resolved_by" uuid;--> statement-breakpoint
ALTER TABLE "alert_incidents" ADD COLUMN "resolution_note" text;