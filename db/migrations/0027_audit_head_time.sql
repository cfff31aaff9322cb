ALTER TABLE "audit_chain_heads" ADD COLUMN "occurred_at" timestamp (3) with time zone;--> statement-breakpoint
UPDATE "audit_chain_heads" h SET "occurred_at" = e."occurred_at"
FROM "audit_events" e
WHERE e."seq" = h."seq" AND e."workspace_id" IS NOT DISTINCT FROM h."workspace_id";
