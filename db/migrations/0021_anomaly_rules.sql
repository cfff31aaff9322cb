ALTER TABLE "alert_rules" ADD COLUMN "kind" text DEFAULT 'threshold' NOT NULL;--> statement-breakpoint
ALTER TABLE "alert_rules" ADD COLUMN "sensitivity" text;