CREATE TABLE "instance_settings" (
	"id" text PRIMARY KEY DEFAULT 'instance' NOT NULL,
	"signup_open" boolean,
	"signup_domains" text[] DEFAULT '{}'::text[] NOT NULL,
	"workspace_creation" text DEFAULT 'anyone' NOT NULL,
	"command_steps" text DEFAULT 'all' NOT NULL,
	"command_step_workspaces" uuid[] DEFAULT '{}'::uuid[] NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" uuid,
	CONSTRAINT "instance_settings_single_row" CHECK ("instance_settings"."id" = 'instance'),
	CONSTRAINT "instance_settings_workspace_creation" CHECK ("instance_settings"."workspace_creation" in ('anyone', 'admins')),
	CONSTRAINT "instance_settings_command_steps" CHECK ("instance_settings"."command_steps" in ('all', 'selected', 'none'))
);
--> statement-breakpoint
ALTER TABLE "instance_settings" ADD CONSTRAINT "instance_settings_updated_by_users_id_fk" FOREIGN KEY ("updated_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;