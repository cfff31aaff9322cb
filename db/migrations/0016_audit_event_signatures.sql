ALTER TABLE "audit_events" ADD COLUMN "signature" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "key_id" text;