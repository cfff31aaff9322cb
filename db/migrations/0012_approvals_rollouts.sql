CREATE TABLE "alias_history" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"model_id" uuid NOT NULL,
	"alias" text NOT NULL,
	"model_version_id" uuid NOT NULL,
	"via" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"from_at" timestamp with time zone DEFAULT now() NOT NULL,
	"until_at" timestamp with time zone,
	"moved_by" uuid
);
--> statement-breakpoint
CREATE TABLE "inference_replicas" (
	"replica" text PRIMARY KEY NOT NULL,
	"hostname" text NOT NULL,
	"pid" integer NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"ready" boolean DEFAULT false NOT NULL,
	"stopped_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "replica_deployments" (
	"replica" text NOT NULL,
	"deployment_id" uuid NOT NULL,
	"workspace_id" uuid NOT NULL,
	"revision" integer NOT NULL,
	"primary_version_id" uuid,
	"canary_version_id" uuid,
	"shadow_version_id" uuid,
	"failed_revision" integer,
	"error" text,
	"reported_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "replica_deployments_replica_deployment_id_pk" PRIMARY KEY("replica","deployment_id")
);
--> statement-breakpoint
CREATE TABLE "rollouts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"deployment_id" uuid NOT NULL,
	"revision" integer NOT NULL,
	"cause" text NOT NULL,
	"primary_version_id" uuid NOT NULL,
	"canary_version_id" uuid,
	"canary_percent" integer DEFAULT 0 NOT NULL,
	"shadow_version_id" uuid,
	"from_revision" integer,
	"from_primary_version_id" uuid,
	"from_canary_version_id" uuid,
	"from_canary_percent" integer DEFAULT 0 NOT NULL,
	"from_shadow_version_id" uuid,
	"emergency_reason" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"reason" text,
	"failed_replica" text,
	"reports" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"actor_label" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"settled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "policy_changes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"alias" text NOT NULL,
	"rules" jsonb NOT NULL,
	"active" boolean NOT NULL,
	"base_version" integer NOT NULL,
	"reason" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"proposed_by" uuid NOT NULL,
	"decided_by" uuid,
	"decided_at" timestamp with time zone,
	"decision_note" text,
	"applied_version" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "workspaces" ADD COLUMN "frameworks" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "owner_id" uuid;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "intended_use" text;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "risk_tier" text;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "risk_rationale" text;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "risk_answers" jsonb;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "revalidation_days" integer;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "last_revalidated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "alias" text DEFAULT 'production' NOT NULL;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "following" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "prediction_feedback" ADD COLUMN "corrections" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "approval_policies" ADD COLUMN "approved_by" uuid;--> statement-breakpoint
ALTER TABLE "review_requests" ADD COLUMN "superseded_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "review_requests" ADD COLUMN "superseded_by_version_id" uuid;--> statement-breakpoint
ALTER TABLE "review_requests" ADD COLUMN "round" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "review_signatures" ADD COLUMN "alias_holder_version_id" uuid;--> statement-breakpoint
ALTER TABLE "review_signatures" ADD COLUMN "round" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "alias_history" ADD CONSTRAINT "alias_history_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alias_history" ADD CONSTRAINT "alias_history_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alias_history" ADD CONSTRAINT "alias_history_model_version_id_model_versions_id_fk" FOREIGN KEY ("model_version_id") REFERENCES "public"."model_versions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alias_history" ADD CONSTRAINT "alias_history_moved_by_users_id_fk" FOREIGN KEY ("moved_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "replica_deployments" ADD CONSTRAINT "replica_deployments_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "replica_deployments" ADD CONSTRAINT "replica_deployments_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_primary_version_id_model_versions_id_fk" FOREIGN KEY ("primary_version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_canary_version_id_model_versions_id_fk" FOREIGN KEY ("canary_version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_shadow_version_id_model_versions_id_fk" FOREIGN KEY ("shadow_version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_from_primary_version_id_model_versions_id_fk" FOREIGN KEY ("from_primary_version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_from_canary_version_id_model_versions_id_fk" FOREIGN KEY ("from_canary_version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_from_shadow_version_id_model_versions_id_fk" FOREIGN KEY ("from_shadow_version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "policy_changes" ADD CONSTRAINT "policy_changes_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "policy_changes" ADD CONSTRAINT "policy_changes_proposed_by_users_id_fk" FOREIGN KEY ("proposed_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "policy_changes" ADD CONSTRAINT "policy_changes_decided_by_users_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alias_history_model_alias_idx" ON "alias_history" USING btree ("model_id","alias","from_at");--> statement-breakpoint
CREATE INDEX "replica_deployments_deployment_idx" ON "replica_deployments" USING btree ("deployment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "rollouts_revision_key" ON "rollouts" USING btree ("deployment_id","revision");--> statement-breakpoint
CREATE INDEX "rollouts_pending_idx" ON "rollouts" USING btree ("status") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "policy_changes_workspace_idx" ON "policy_changes" USING btree ("workspace_id","status");--> statement-breakpoint
CREATE UNIQUE INDEX "policy_changes_pending_key" ON "policy_changes" USING btree ("workspace_id","alias") WHERE status = 'pending';--> statement-breakpoint
ALTER TABLE "models" ADD CONSTRAINT "models_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_policies" ADD CONSTRAINT "approval_policies_approved_by_users_id_fk" FOREIGN KEY ("approved_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_requests" ADD CONSTRAINT "review_requests_superseded_by_version_id_model_versions_id_fk" FOREIGN KEY ("superseded_by_version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;