CREATE TABLE "report_bids" (
	"grain" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"test" boolean NOT NULL,
	"campaign_id" text NOT NULL,
	"channel_id" text NOT NULL,
	"step" integer NOT NULL,
	"bids" integer DEFAULT 0 NOT NULL,
	"wins" integer DEFAULT 0 NOT NULL,
	"posts" integer DEFAULT 0 NOT NULL,
	"accepted" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "report_bids_grain_at_test_campaign_id_channel_id_step_pk" PRIMARY KEY("grain","at","test","campaign_id","channel_id","step")
);
--> statement-breakpoint
CREATE TABLE "report_channels" (
	"grain" text NOT NULL,
	"level" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"test" boolean NOT NULL,
	"campaign_id" text NOT NULL,
	"supplier_id" text NOT NULL,
	"channel_id" text NOT NULL,
	"buyer_id" text NOT NULL,
	"leads" integer DEFAULT 0 NOT NULL,
	"excluded" integer DEFAULT 0 NOT NULL,
	"pings" integer DEFAULT 0 NOT NULL,
	"bids" integer DEFAULT 0 NOT NULL,
	"bid_cents" bigint DEFAULT 0 NOT NULL,
	"max_bid_cents" integer,
	"wins" integer DEFAULT 0 NOT NULL,
	"posts" integer DEFAULT 0 NOT NULL,
	"accepted" integer DEFAULT 0 NOT NULL,
	"post_rejects" integer DEFAULT 0 NOT NULL,
	"timeouts" integer DEFAULT 0 NOT NULL,
	"errors" integer DEFAULT 0 NOT NULL,
	"sold" integer DEFAULT 0 NOT NULL,
	"revenue_cents" bigint DEFAULT 0 NOT NULL,
	"payout_cents" bigint DEFAULT 0 NOT NULL,
	"ping_ms" integer[] NOT NULL,
	"post_ms" integer[] NOT NULL,
	CONSTRAINT "report_channels_grain_level_at_test_campaign_id_supplier_id_channel_id_buyer_id_pk" PRIMARY KEY("grain","level","at","test","campaign_id","supplier_id","channel_id","buyer_id")
);
--> statement-breakpoint
CREATE TABLE "report_leads" (
	"grain" text NOT NULL,
	"level" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"test" boolean NOT NULL,
	"campaign_id" text NOT NULL,
	"supplier_id" text NOT NULL,
	"source" text NOT NULL,
	"sub_id" text NOT NULL,
	"leads" integer DEFAULT 0 NOT NULL,
	"rejected" integer DEFAULT 0 NOT NULL,
	"duplicate" integer DEFAULT 0 NOT NULL,
	"auctioned" integer DEFAULT 0 NOT NULL,
	"sold" integer DEFAULT 0 NOT NULL,
	"unsold" integer DEFAULT 0 NOT NULL,
	"errors" integer DEFAULT 0 NOT NULL,
	"revenue_cents" bigint DEFAULT 0 NOT NULL,
	"payout_cents" bigint DEFAULT 0 NOT NULL,
	"pings" integer DEFAULT 0 NOT NULL,
	"bids" integer DEFAULT 0 NOT NULL,
	"bid_cents" bigint DEFAULT 0 NOT NULL,
	"max_bid_cents" integer,
	"wins" integer DEFAULT 0 NOT NULL,
	"posts" integer DEFAULT 0 NOT NULL,
	"accepted" integer DEFAULT 0 NOT NULL,
	"post_rejects" integer DEFAULT 0 NOT NULL,
	"timeouts" integer DEFAULT 0 NOT NULL,
	"decision_ms" integer[] NOT NULL,
	CONSTRAINT "report_leads_grain_level_at_test_campaign_id_supplier_id_source_sub_id_pk" PRIMARY KEY("grain","level","at","test","campaign_id","supplier_id","source","sub_id")
);
--> statement-breakpoint
CREATE TABLE "report_progress" (
	"name" text PRIMARY KEY NOT NULL,
	"rolled_to" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "report_reasons" (
	"grain" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"test" boolean NOT NULL,
	"campaign_id" text NOT NULL,
	"channel_id" text NOT NULL,
	"stage" text NOT NULL,
	"reason" text NOT NULL,
	"count" integer DEFAULT 0 NOT NULL,
	"orphans" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "report_reasons_grain_at_test_campaign_id_channel_id_stage_reason_pk" PRIMARY KEY("grain","at","test","campaign_id","channel_id","stage","reason")
);
--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "source" text;--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "sub_id" text;--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "sold_channel_id" text;--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "sold_buyer_id" text;--> statement-breakpoint
CREATE INDEX "leads_sold_channel_id_id_index" ON "leads" USING btree ("sold_channel_id","id");--> statement-breakpoint
CREATE INDEX "leads_sold_buyer_id_id_index" ON "leads" USING btree ("sold_buyer_id","id");--> statement-breakpoint
CREATE INDEX "leads_source_id_index" ON "leads" USING btree ("source","id");