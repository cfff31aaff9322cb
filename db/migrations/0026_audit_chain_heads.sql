CREATE TABLE "audit_chain_heads" (
	"chain" text PRIMARY KEY NOT NULL,
	"workspace_id" uuid,
	"seq" bigint NOT NULL,
	"hash" text NOT NULL
) WITH (fillfactor = 50);--> statement-breakpoint
-- Room on each page for the head's next version: every append updates one row, and a HOT update needs free space beside it.
INSERT INTO "audit_chain_heads" ("chain", "workspace_id", "seq", "hash")
SELECT DISTINCT ON ("workspace_id") coalesce("workspace_id"::text, 'instance'), "workspace_id", "seq", "hash"
FROM "audit_events" ORDER BY "workspace_id", "seq" DESC;
