CREATE TABLE "activities" (
	"id" uuid PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"user_id" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"kind" text NOT NULL,
	"description" text,
	"contact_id" text,
	"meta" jsonb
);
--> statement-breakpoint
CREATE TABLE "knocks" (
	"id" uuid PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"user_id" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"lat" double precision NOT NULL,
	"lng" double precision NOT NULL,
	"outcome" text NOT NULL,
	"address" text,
	"notes" text
);
--> statement-breakpoint
CREATE TABLE "leads" (
	"id" uuid PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"user_id" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"name" text NOT NULL,
	"phone" text,
	"email" text,
	"address" text,
	"lat" double precision,
	"lng" double precision,
	"notes" text,
	"interest" text,
	"dialer_status" text DEFAULT 'pending' NOT NULL,
	"dialer_attempts" smallint DEFAULT 0 NOT NULL,
	"dialer_delivered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "locations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"user_id" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"lat" double precision NOT NULL,
	"lng" double precision NOT NULL,
	"accuracy" real,
	"speed" real,
	"heading" real,
	"altitude" real,
	"battery" real
);
--> statement-breakpoint
CREATE INDEX "activities_team_user_at" ON "activities" USING btree ("team_id","user_id","at");--> statement-breakpoint
CREATE INDEX "knocks_team_user_at" ON "knocks" USING btree ("team_id","user_id","at");--> statement-breakpoint
CREATE INDEX "leads_team_user_at" ON "leads" USING btree ("team_id","user_id","at");--> statement-breakpoint
CREATE INDEX "leads_team_received" ON "leads" USING btree ("team_id","received_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "locations_team_user_at" ON "locations" USING btree ("team_id","user_id","at");