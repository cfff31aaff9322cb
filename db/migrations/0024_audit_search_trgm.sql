-- The audit explorer's free-text filter (server/audit/audit.service.ts, AUDIT_SEARCH_TEXT) reads
-- one expression over the searchable fields; a trigram index over the same expression answers
-- ILIKE '%…%' without reading every event of the workspace. pg_trgm is a trusted extension
-- (PostgreSQL 13+): the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "audit_events_search_trgm_idx" ON "audit_events" USING gin (
  ("action" || ' ' || "actor_label" || ' ' || coalesce("target_id", '') || ' ' || coalesce("metadata"::text, '') || ' ' || coalesce("changes"::text, '')) gin_trgm_ops
);
