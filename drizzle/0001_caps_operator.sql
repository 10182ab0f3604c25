CREATE TABLE "audit_log" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"actor_name" text,
	"via" text NOT NULL,
	"resource" text NOT NULL,
	"action" text NOT NULL,
	"diff" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "buyer_dedup_keys" (
	"buyer_id" text NOT NULL,
	"key_hash" text NOT NULL,
	"lead_id" text NOT NULL,
	"seen_at" timestamp with time zone NOT NULL,
	CONSTRAINT "buyer_dedup_keys_buyer_id_key_hash_pk" PRIMARY KEY("buyer_id","key_hash")
);
--> statement-breakpoint
CREATE TABLE "cap_usage" (
	"scope" text NOT NULL,
	"owner_id" text NOT NULL,
	"period" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"resets_at" timestamp with time zone,
	"leads" integer DEFAULT 0 NOT NULL,
	"spend_cents" bigint DEFAULT 0 NOT NULL,
	"leads_limit" integer,
	"spend_limit_cents" bigint,
	CONSTRAINT "cap_usage_scope_owner_id_period_period_start_pk" PRIMARY KEY("scope","owner_id","period","period_start"),
	CONSTRAINT "cap_usage_leads" CHECK ("cap_usage"."leads_limit" is null or "cap_usage"."leads" <= "cap_usage"."leads_limit"),
	CONSTRAINT "cap_usage_spend" CHECK ("cap_usage"."spend_limit_cents" is null or "cap_usage"."spend_cents" <= "cap_usage"."spend_limit_cents")
);
--> statement-breakpoint
CREATE TABLE "suppressions" (
	"kind" text NOT NULL,
	"value_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "suppressions_kind_value_hash_pk" PRIMARY KEY("kind","value_hash"),
	CONSTRAINT "suppressions_kind" CHECK ("suppressions"."kind" in ('email', 'phone'))
);
--> statement-breakpoint
CREATE INDEX "audit_log_resource_id_index" ON "audit_log" USING btree ("resource","id");--> statement-breakpoint
CREATE INDEX "audit_log_at_index" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "cap_usage_resets_at_index" ON "cap_usage" USING btree ("resets_at");