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
CREATE INDEX "audit_log_resource_id_index" ON "audit_log" USING btree ("resource","id");--> statement-breakpoint
CREATE INDEX "audit_log_at_index" ON "audit_log" USING btree ("at");