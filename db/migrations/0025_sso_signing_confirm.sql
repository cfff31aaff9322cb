ALTER TABLE "signing_challenges" ADD COLUMN "confirm_hash" text;--> statement-breakpoint
ALTER TABLE "signing_challenges" ADD COLUMN "auth_time" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "signing_challenges" ADD COLUMN "issuer" text;