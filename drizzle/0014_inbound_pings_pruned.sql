-- Pings past their expiry and a day are pruned by the sweeper (src/db/pings.ts): pruned_at marks them, and the index finds those still to prune.
ALTER TABLE "inbound_pings" ADD COLUMN "pruned_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "inbound_pings_unpruned" ON "inbound_pings" USING btree ("expires_at") WHERE "inbound_pings"."pruned_at" is null;