CREATE TABLE "batch_minutes" (
	"deployment_id" uuid NOT NULL,
	"replica" text NOT NULL,
	"minute" timestamp with time zone NOT NULL,
	"runs" integer NOT NULL,
	"rows" integer NOT NULL,
	"max_rows" integer NOT NULL,
	"requests" integer NOT NULL,
	CONSTRAINT "batch_minutes_deployment_id_replica_minute_pk" PRIMARY KEY("deployment_id","replica","minute")
);
--> statement-breakpoint
CREATE TABLE "replica_minutes" (
	"replica" text NOT NULL,
	"minute" timestamp with time zone NOT NULL,
	"cpu_pct" real NOT NULL,
	"cpu_max_pct" real NOT NULL,
	"rss_bytes" real NOT NULL,
	"heap_bytes" real NOT NULL,
	"in_flight_avg" real NOT NULL,
	"in_flight_max" integer NOT NULL,
	"loop_lag_ms" real NOT NULL,
	"requests" integer NOT NULL,
	CONSTRAINT "replica_minutes_replica_minute_pk" PRIMARY KEY("replica","minute")
);
--> statement-breakpoint
ALTER TABLE "drift_results" ADD COLUMN "prediction_drift" jsonb;--> statement-breakpoint
ALTER TABLE "batch_minutes" ADD CONSTRAINT "batch_minutes_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "replica_minutes_minute_idx" ON "replica_minutes" USING btree ("minute");