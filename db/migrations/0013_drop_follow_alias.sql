-- Deployments are bound to an alias whether they follow it or are pinned (a pinned
-- deployment of production is still governed by production's policy).
UPDATE "deployments" SET "alias" = coalesce("follow_alias", 'production'), "following" = ("follow_alias" IS NOT NULL);--> statement-breakpoint
-- Who holds each alias now starts the alias history.
INSERT INTO "alias_history" ("workspace_id", "model_id", "alias", "model_version_id", "via", "from_at", "moved_by")
  SELECT "workspace_id", "model_id", "alias", "model_version_id", '{"migrated": true}'::jsonb, "updated_at", "updated_by" FROM "model_aliases";--> statement-breakpoint
ALTER TABLE "deployments" DROP COLUMN "follow_alias";
