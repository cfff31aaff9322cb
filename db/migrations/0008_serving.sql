CREATE TABLE "deployment_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"deployment_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"summary" text NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"actor_label" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "deployment_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"deployment_id" uuid NOT NULL,
	"name" text NOT NULL,
	"key_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "deployments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"name" text NOT NULL,
	"environment" text NOT NULL,
	"model_id" uuid NOT NULL,
	"follow_alias" text,
	"primary_version_id" uuid NOT NULL,
	"previous_primary_version_id" uuid,
	"canary_version_id" uuid,
	"canary_percent" integer DEFAULT 0 NOT NULL,
	"shadow_version_id" uuid,
	"settings" jsonb NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"revision" integer DEFAULT 1 NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "prediction_feedback" (
	"request_id" text NOT NULL,
	"workspace_id" uuid NOT NULL,
	"deployment_id" uuid NOT NULL,
	"label" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "prediction_logs" (
	"at" timestamp with time zone NOT NULL,
	"request_id" text NOT NULL,
	"workspace_id" uuid NOT NULL,
	"deployment_id" uuid NOT NULL,
	"model_version_id" uuid NOT NULL,
	"role" text NOT NULL,
	"status" text NOT NULL,
	"latency_ms" real NOT NULL,
	"rows" integer NOT NULL,
	"inputs" jsonb,
	"outputs" jsonb,
	"error" text
) PARTITION BY RANGE ("at");
--> statement-breakpoint
-- Rows outside every daily partition land here rather than fail; steward_ensure_prediction_partitions() makes the daily ones.
CREATE TABLE "prediction_logs_default" PARTITION OF "prediction_logs" DEFAULT;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION steward_ensure_prediction_partitions(days_ahead integer DEFAULT 7) RETURNS void LANGUAGE plpgsql AS $$
DECLARE d date;
BEGIN
  FOR i IN 0..days_ahead LOOP
    d := (now() AT TIME ZONE 'UTC')::date + i;
    BEGIN
      EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF prediction_logs FOR VALUES FROM (%L) TO (%L)',
        'prediction_logs_' || to_char(d, 'YYYYMMDD'), (d::text || ' 00:00:00+00')::timestamptz, ((d + 1)::text || ' 00:00:00+00')::timestamptz
      );
    EXCEPTION WHEN others THEN
      -- Rows for that day already sit in the default partition (a long outage): leave them there.
      RAISE NOTICE 'prediction_logs partition for % not created: %', d, SQLERRM;
    END;
  END LOOP;
END $$;
--> statement-breakpoint
SELECT steward_ensure_prediction_partitions(7);
--> statement-breakpoint
ALTER TABLE "deployment_events" ADD CONSTRAINT "deployment_events_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_events" ADD CONSTRAINT "deployment_events_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_keys" ADD CONSTRAINT "deployment_keys_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_keys" ADD CONSTRAINT "deployment_keys_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_keys" ADD CONSTRAINT "deployment_keys_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_primary_version_id_model_versions_id_fk" FOREIGN KEY ("primary_version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_previous_primary_version_id_model_versions_id_fk" FOREIGN KEY ("previous_primary_version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_canary_version_id_model_versions_id_fk" FOREIGN KEY ("canary_version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_shadow_version_id_model_versions_id_fk" FOREIGN KEY ("shadow_version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prediction_feedback" ADD CONSTRAINT "prediction_feedback_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prediction_feedback" ADD CONSTRAINT "prediction_feedback_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "deployment_events_deployment_idx" ON "deployment_events" USING btree ("deployment_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "deployment_keys_hash_key" ON "deployment_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "deployments_workspace_name_key" ON "deployments" USING btree ("workspace_id","name");--> statement-breakpoint
CREATE INDEX "deployments_model_idx" ON "deployments" USING btree ("model_id");--> statement-breakpoint
CREATE UNIQUE INDEX "prediction_feedback_request_key" ON "prediction_feedback" USING btree ("deployment_id","request_id");--> statement-breakpoint
CREATE INDEX "prediction_logs_deployment_at_idx" ON "prediction_logs" USING btree ("deployment_id","at");