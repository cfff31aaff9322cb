CREATE TABLE "process_exits" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"process" text NOT NULL,
	"hostname" text NOT NULL,
	"pid" integer,
	"exit_code" integer,
	"signal" text,
	"restart_in_ms" integer,
	"gave_up" boolean DEFAULT false NOT NULL,
	"crashes_in_window" integer NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "process_exits_at_index" ON "process_exits" USING btree ("at");