CREATE TABLE "reference_bounds" (
	"deployment_id" uuid PRIMARY KEY NOT NULL,
	"workspace_id" uuid NOT NULL,
	"model_version_id" uuid NOT NULL,
	"bounds" jsonb NOT NULL,
	"computed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "prediction_rollups" ADD COLUMN "checked" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "prediction_rollups" ADD COLUMN "outliers" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "prediction_rollups" ADD COLUMN "incomplete" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "prediction_rollups" ADD COLUMN "predictions" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "prediction_rollups" ADD COLUMN "prediction_sum" double precision DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "prediction_rollups" ADD COLUMN "prediction_sq_sum" double precision DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reference_bounds" ADD CONSTRAINT "reference_bounds_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reference_bounds" ADD CONSTRAINT "reference_bounds_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reference_bounds" ADD CONSTRAINT "reference_bounds_model_version_id_model_versions_id_fk" FOREIGN KEY ("model_version_id") REFERENCES "public"."model_versions"("id") ON DELETE cascade ON UPDATE no action;