-- Suppliers that ping first (inbound_pings) and leads held until a channel opens (held_leads, lead statuses held and expired).
CREATE TABLE "held_leads" (
	"lead_id" text PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"release_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inbound_pings" (
	"id" text PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"supplier_id" text NOT NULL,
	"test" boolean DEFAULT false NOT NULL,
	"source" text,
	"sub_id" text,
	"data" jsonb NOT NULL,
	"contact_hashes" jsonb,
	"received_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"quote_cents" integer DEFAULT 0 NOT NULL,
	"bids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"attempts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"excluded" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"ranking" jsonb,
	"events" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"state" text DEFAULT 'open' NOT NULL,
	"posted_at" timestamp with time zone,
	"answer_status" integer,
	"answer" jsonb,
	CONSTRAINT "inbound_pings_status" CHECK ("inbound_pings"."status" in ('bid', 'no_bid')),
	CONSTRAINT "inbound_pings_state" CHECK ("inbound_pings"."state" in ('open', 'posting', 'posted'))
);
--> statement-breakpoint
ALTER TABLE "leads" DROP CONSTRAINT "leads_status";--> statement-breakpoint
ALTER TABLE "held_leads" ADD CONSTRAINT "held_leads_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "held_leads_release_at_index" ON "held_leads" USING btree ("release_at");--> statement-breakpoint
CREATE INDEX "inbound_pings_received_at_index" ON "inbound_pings" USING btree ("received_at");--> statement-breakpoint
-- Added NOT VALID and then validated: the scan of every existing lead holds a lock that lets leads be written meanwhile.
ALTER TABLE "leads" ADD CONSTRAINT "leads_status" CHECK ("leads"."status" in ('received', 'rejected', 'duplicate', 'auctioning', 'held', 'expired', 'sold', 'unsold', 'error', 'returned')) NOT VALID;--> statement-breakpoint
ALTER TABLE "leads" VALIDATE CONSTRAINT "leads_status";