CREATE TABLE "rejected_events" (
	"team_id" text NOT NULL,
	"id" uuid NOT NULL,
	"kind" text NOT NULL,
	"user_id" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"rejected_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sqlstate" text,
	"error" text NOT NULL,
	"body" text NOT NULL,
	CONSTRAINT "rejected_events_pkey" PRIMARY KEY("team_id","id")
);
--> statement-breakpoint
ALTER TABLE "knocks" ALTER COLUMN "lat" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "knocks" ALTER COLUMN "lng" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "locations" ALTER COLUMN "accuracy" SET DATA TYPE double precision;--> statement-breakpoint
ALTER TABLE "locations" ALTER COLUMN "speed" SET DATA TYPE double precision;--> statement-breakpoint
ALTER TABLE "locations" ALTER COLUMN "heading" SET DATA TYPE double precision;--> statement-breakpoint
ALTER TABLE "locations" ALTER COLUMN "altitude" SET DATA TYPE double precision;--> statement-breakpoint
ALTER TABLE "locations" ALTER COLUMN "battery" SET DATA TYPE double precision;--> statement-breakpoint
-- Ids are per team: the key moves from (id) to (team_id, id); every existing row keeps its place.
ALTER TABLE "activities" DROP CONSTRAINT "activities_pkey", ADD CONSTRAINT "activities_pkey" PRIMARY KEY("team_id","id");--> statement-breakpoint
-- Ids are per team: the key moves from (id) to (team_id, id); every existing row keeps its place.
ALTER TABLE "knocks" DROP CONSTRAINT "knocks_pkey", ADD CONSTRAINT "knocks_pkey" PRIMARY KEY("team_id","id");--> statement-breakpoint
-- Ids are per team: the key moves from (id) to (team_id, id); every existing row keeps its place.
ALTER TABLE "leads" DROP CONSTRAINT "leads_pkey", ADD CONSTRAINT "leads_pkey" PRIMARY KEY("team_id","id");--> statement-breakpoint
-- Ids are per team: the key moves from (id) to (team_id, id); every existing row keeps its place.
ALTER TABLE "locations" DROP CONSTRAINT "locations_pkey", ADD CONSTRAINT "locations_pkey" PRIMARY KEY("team_id","id");--> statement-breakpoint
ALTER TABLE "knocks" ADD COLUMN "accuracy" double precision;--> statement-breakpoint
ALTER TABLE "knocks" ADD COLUMN "position_source" text;