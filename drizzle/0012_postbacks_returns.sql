-- After the sale: buyer postbacks (idempotent by buyer and event id) and returns (one per sale: pending, then accepted or rejected).
CREATE TABLE "buyer_postbacks" (
	"buyer_id" text NOT NULL,
	"event_id" text NOT NULL,
	"lead_id" text NOT NULL,
	"event" text NOT NULL,
	"value_cents" integer,
	"reason" text,
	"request_hash" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"answer_status" integer NOT NULL,
	"answer" jsonb NOT NULL,
	CONSTRAINT "buyer_postbacks_buyer_id_event_id_pk" PRIMARY KEY("buyer_id","event_id"),
	CONSTRAINT "buyer_postbacks_event" CHECK ("buyer_postbacks"."event" in ('contacted', 'converted', 'return_requested'))
);
--> statement-breakpoint
CREATE TABLE "lead_returns" (
	"id" text PRIMARY KEY NOT NULL,
	"lead_id" text NOT NULL,
	"buyer_id" text NOT NULL,
	"channel_id" text NOT NULL,
	"campaign_id" text NOT NULL,
	"supplier_id" text NOT NULL,
	"reason" text NOT NULL,
	"state" text NOT NULL,
	"requested_by" text NOT NULL,
	"requested_at" timestamp with time zone NOT NULL,
	"auto_accept_at" timestamp with time zone,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"note" text,
	"revenue_cents" integer NOT NULL,
	"clawback_cents" integer DEFAULT 0 NOT NULL,
	"caps_released" boolean DEFAULT false NOT NULL,
	CONSTRAINT "lead_returns_state" CHECK ("lead_returns"."state" in ('pending', 'accepted', 'rejected'))
);
--> statement-breakpoint
ALTER TABLE "lead_returns" ADD CONSTRAINT "lead_returns_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "buyer_postbacks_lead_id_index" ON "buyer_postbacks" USING btree ("lead_id");--> statement-breakpoint
CREATE INDEX "buyer_postbacks_received_at_index" ON "buyer_postbacks" USING btree ("received_at");--> statement-breakpoint
CREATE UNIQUE INDEX "lead_returns_lead_id_buyer_id_index" ON "lead_returns" USING btree ("lead_id","buyer_id");--> statement-breakpoint
CREATE INDEX "lead_returns_buyer_id_requested_at_index" ON "lead_returns" USING btree ("buyer_id","requested_at");--> statement-breakpoint
CREATE INDEX "lead_returns_state_auto_accept_at_index" ON "lead_returns" USING btree ("state","auto_accept_at");