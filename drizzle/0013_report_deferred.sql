-- Held leads the roller passed over: each is added to its arrival hour's rollups once it is decided (src/reports/rollup.ts).
CREATE TABLE "report_deferred" (
	"lead_id" text PRIMARY KEY NOT NULL,
	"at" timestamp with time zone NOT NULL
);
