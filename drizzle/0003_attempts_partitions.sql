-- attempts becomes a table partitioned by range of started_at, one partition per UTC day
-- (attempts_YYYYMMDD), so that retention drops whole days (src/db/partitions.ts) instead of
-- deleting rows. drizzle-kit generated only the new primary key (id, started_at), which a
-- partitioned table needs (its keys must hold the partition key); the conversion is written by hand:
-- the old table is renamed, the partitioned one created with the same columns, identity sequence,
-- check, foreign key and indexes, a partition made for every day the old rows cover (plus a DEFAULT
-- one, so an insert never fails for want of a partition), the rows copied and the old table dropped.
-- Indexes and keys are built after the copy: once over the copied rows, not row by row.
ALTER TABLE "attempts" DROP CONSTRAINT "attempts_pkey";--> statement-breakpoint
DROP INDEX "attempts_lead_id_index";--> statement-breakpoint
DROP INDEX "attempts_channel_id_started_at_index";--> statement-breakpoint
ALTER TABLE "attempts" RENAME TO "attempts_unpartitioned";--> statement-breakpoint
ALTER SEQUENCE "attempts_id_seq" RENAME TO "attempts_unpartitioned_id_seq";--> statement-breakpoint
CREATE TABLE "attempts" (
	"id" bigint NOT NULL GENERATED ALWAYS AS IDENTITY (sequence name "attempts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
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
) PARTITION BY RANGE ("started_at");--> statement-breakpoint
CREATE TABLE "attempts_default" PARTITION OF "attempts" DEFAULT;--> statement-breakpoint
DO $$
DECLARE
	day date;
BEGIN
	FOR day IN SELECT DISTINCT ("started_at" AT TIME ZONE 'UTC')::date FROM "attempts_unpartitioned" LOOP
		EXECUTE format(
			'CREATE TABLE %I PARTITION OF "attempts" FOR VALUES FROM (%L) TO (%L)',
			'attempts_' || to_char(day, 'YYYYMMDD'),
			to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00',
			to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00'
		);
	END LOOP;
END
$$;--> statement-breakpoint
INSERT INTO "attempts"
	("id", "lead_id", "kind", "channel_id", "started_at", "duration_ms", "http_status", "outcome", "price_cents", "reason", "ping_ref")
	OVERRIDING SYSTEM VALUE SELECT "id", "lead_id", "kind", "channel_id", "started_at", "duration_ms", "http_status", "outcome", "price_cents", "reason", "ping_ref"
	FROM "attempts_unpartitioned";--> statement-breakpoint
-- New ids go on from where the old sequence stopped.
SELECT setval('"attempts_id_seq"', last_value, is_called) FROM "attempts_unpartitioned_id_seq";--> statement-breakpoint
DROP TABLE "attempts_unpartitioned";--> statement-breakpoint
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_id_started_at_pk" PRIMARY KEY("id","started_at");--> statement-breakpoint
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "attempts_lead_id_index" ON "attempts" USING btree ("lead_id");--> statement-breakpoint
CREATE INDEX "attempts_channel_id_started_at_index" ON "attempts" USING btree ("channel_id","started_at");
