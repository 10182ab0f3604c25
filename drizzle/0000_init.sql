CREATE TABLE "attempts" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "attempts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"lead_id" text NOT NULL,
	"kind" text NOT NULL,
	"channel_id" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"duration_ms" integer NOT NULL,
	"http_status" integer,
	"outcome" text NOT NULL,
	"price_cents" integer,
	"reason" text,
	"ping_ref" text,
	CONSTRAINT "attempts_kind" CHECK ("attempts"."kind" in ('ping', 'post'))
);
--> statement-breakpoint
CREATE TABLE "buyers" (
	"id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"config" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "campaigns" (
	"id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"config" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "channels" (
	"id" text PRIMARY KEY NOT NULL,
	"buyer_id" text NOT NULL,
	"campaign_id" text NOT NULL,
	"status" text NOT NULL,
	"config" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dedup_keys" (
	"campaign_id" text NOT NULL,
	"key_hash" text NOT NULL,
	"lead_id" text NOT NULL,
	"seen_at" timestamp with time zone NOT NULL,
	CONSTRAINT "dedup_keys_campaign_id_key_hash_pk" PRIMARY KEY("campaign_id","key_hash")
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"supplier_id" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"lead_id" text,
	"state" text NOT NULL,
	"response_status" integer,
	"response" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_supplier_id_key_pk" PRIMARY KEY("supplier_id","key"),
	CONSTRAINT "idempotency_state" CHECK ("idempotency_keys"."state" in ('running', 'done'))
);
--> statement-breakpoint
CREATE TABLE "lead_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "lead_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"lead_id" text NOT NULL,
	"status" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"reason" text
);
--> statement-breakpoint
CREATE TABLE "leads" (
	"id" text PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"supplier_id" text NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"test" boolean DEFAULT false NOT NULL,
	"data" jsonb NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"decided_at" timestamp with time zone,
	"deadline_at" timestamp with time zone,
	"price_cents" integer DEFAULT 0 NOT NULL,
	"revenue_cents" integer DEFAULT 0 NOT NULL,
	"sold_to" integer DEFAULT 0 NOT NULL,
	"excluded" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"overhead_ms" integer,
	CONSTRAINT "leads_status" CHECK ("leads"."status" in ('received', 'rejected', 'duplicate', 'auctioning', 'sold', 'unsold', 'error', 'returned'))
);
--> statement-breakpoint
CREATE TABLE "operator_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "operator_tokens_role" CHECK ("operator_tokens"."role" in ('admin', 'analyst'))
);
--> statement-breakpoint
CREATE TABLE "supplier_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"supplier_id" text NOT NULL,
	"key_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "suppliers" (
	"id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"config" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channels" ADD CONSTRAINT "channels_buyer_id_buyers_id_fk" FOREIGN KEY ("buyer_id") REFERENCES "public"."buyers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channels" ADD CONSTRAINT "channels_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lead_events" ADD CONSTRAINT "lead_events_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_supplier_id_suppliers_id_fk" FOREIGN KEY ("supplier_id") REFERENCES "public"."suppliers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "supplier_keys" ADD CONSTRAINT "supplier_keys_supplier_id_suppliers_id_fk" FOREIGN KEY ("supplier_id") REFERENCES "public"."suppliers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "attempts_lead_id_index" ON "attempts" USING btree ("lead_id");--> statement-breakpoint
CREATE INDEX "attempts_channel_id_started_at_index" ON "attempts" USING btree ("channel_id","started_at");--> statement-breakpoint
CREATE INDEX "channels_campaign_id_index" ON "channels" USING btree ("campaign_id");--> statement-breakpoint
CREATE INDEX "channels_buyer_id_index" ON "channels" USING btree ("buyer_id");--> statement-breakpoint
CREATE INDEX "lead_events_lead_id_index" ON "lead_events" USING btree ("lead_id");--> statement-breakpoint
CREATE INDEX "leads_campaign_id_id_index" ON "leads" USING btree ("campaign_id","id");--> statement-breakpoint
CREATE INDEX "leads_status_id_index" ON "leads" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "leads_received_at_index" ON "leads" USING btree ("received_at");--> statement-breakpoint
CREATE UNIQUE INDEX "operator_tokens_token_hash_index" ON "operator_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "supplier_keys_key_hash_index" ON "supplier_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "supplier_keys_supplier_id_index" ON "supplier_keys" USING btree ("supplier_id");