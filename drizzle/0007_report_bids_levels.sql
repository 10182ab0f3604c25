-- The bid landscape's rollups get levels, as the leads' and the channels' have: by channel (level
-- 0, the rows there were), by campaign (1) and over all (2), each by price step. A landscape without
-- a channel reads its campaign's steps, or everyone's, instead of every channel's: each hour of
-- those fills more steps as traffic grows (the last day of bids over the bench's 1,000,000 leads
-- read 20,000 rows, over 100,000 leads 5,000), while one level's steps are about 60 an hour either
-- way. Rows rolled up before this migration get levels 1 and 2 here, summed from level 0. A roller
-- waits for this migration (it locks the rollups' progress row first).
LOCK TABLE report_progress IN EXCLUSIVE MODE;
--> statement-breakpoint
ALTER TABLE "report_bids" DROP CONSTRAINT "report_bids_grain_at_test_campaign_id_channel_id_step_pk";
--> statement-breakpoint
ALTER TABLE "report_bids" ADD COLUMN "level" integer NOT NULL DEFAULT 0;
--> statement-breakpoint
ALTER TABLE "report_bids" ALTER COLUMN "level" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "report_bids" ADD CONSTRAINT "report_bids_grain_level_at_test_campaign_id_channel_id_step_pk" PRIMARY KEY("grain","level","at","test","campaign_id","channel_id","step");
--> statement-breakpoint
INSERT INTO report_bids (grain, level, at, test, campaign_id, channel_id, step, bids, wins, posts, accepted)
SELECT grain, 1, at, test, campaign_id, '', step, sum(bids), sum(wins), sum(posts), sum(accepted)
FROM report_bids WHERE level = 0
GROUP BY grain, at, test, campaign_id, step
ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO report_bids (grain, level, at, test, campaign_id, channel_id, step, bids, wins, posts, accepted)
SELECT grain, 2, at, test, '', '', step, sum(bids), sum(wins), sum(posts), sum(accepted)
FROM report_bids WHERE level = 0
GROUP BY grain, at, test, step
ON CONFLICT DO NOTHING;
