CREATE TABLE "deliveries" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "deliveries_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"event_id" text NOT NULL,
	"event" text NOT NULL,
	"lead_id" text,
	"receiver_kind" text NOT NULL,
	"receiver_id" text NOT NULL,
	"via" text DEFAULT 'webhook' NOT NULL,
	"target" text NOT NULL,
	"payload" jsonb NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"last_error" text,
	"last_status" integer,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "deliveries_state" CHECK ("deliveries"."state" in ('pending', 'delivered', 'dead')),
	CONSTRAINT "deliveries_receiver_kind" CHECK ("deliveries"."receiver_kind" in ('supplier', 'buyer'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "deliveries_event_id_receiver_kind_receiver_id_via_index" ON "deliveries" USING btree ("event_id","receiver_kind","receiver_id","via");--> statement-breakpoint
CREATE INDEX "deliveries_due_index" ON "deliveries" USING btree ("next_attempt_at") WHERE "deliveries"."state" = 'pending';--> statement-breakpoint
CREATE INDEX "deliveries_state_id_index" ON "deliveries" USING btree ("state","id");--> statement-breakpoint
CREATE INDEX "deliveries_lead_id_index" ON "deliveries" USING btree ("lead_id");--> statement-breakpoint
CREATE INDEX "deliveries_receiver_kind_receiver_id_id_index" ON "deliveries" USING btree ("receiver_kind","receiver_id","id");