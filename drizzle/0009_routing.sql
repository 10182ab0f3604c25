-- Routing strategies (src/auction/routing.ts): each round-robin rotation's turn counter, per
-- campaign and priority tier, which every process takes turns from in one atomic upsert; the buyer
-- that last bought each consumer of a campaign (by hashed dedup key), for sticky routing; and each
-- lead's routing decisions, shown in its trace (null for a lead routed by price alone).
CREATE TABLE "routing_sticky" (
	"campaign_id" text NOT NULL,
	"key_hash" text NOT NULL,
	"buyer_id" text NOT NULL,
	"channel_id" text NOT NULL,
	"lead_id" text NOT NULL,
	"sold_at" timestamp with time zone NOT NULL,
	CONSTRAINT "routing_sticky_campaign_id_key_hash_pk" PRIMARY KEY("campaign_id","key_hash")
);
--> statement-breakpoint
CREATE TABLE "routing_turns" (
	"campaign_id" text NOT NULL,
	"tier" integer NOT NULL,
	"turn" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "routing_turns_campaign_id_tier_pk" PRIMARY KEY("campaign_id","tier")
);
--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "routing" jsonb;