-- Four-week rows: the 28 days from every UTC day, each the sums of the four week rows from its start,
-- written by the roller once the 28th day is finished. A report reads them for runs of 28 whole
-- days as it reads week rows for runs of 7: the last 30 days are a four-week row and a day or two
-- per key (four week rows and a day before), which for the sources report over the bench's
-- 1,000,000 leads is 11,000 rollup rows instead of 24,000 for its whole days. Rollups written before
-- this migration get theirs here, from 27 days before the first day row to the last four weeks
-- wholly rolled up. A roller waits for this migration (it locks the rollups' progress row first).
-- Each four weeks are summed on its own, with room to group them in memory.
LOCK TABLE report_progress IN EXCLUSIVE MODE;
--> statement-breakpoint
SET LOCAL work_mem = '64MB';
--> statement-breakpoint
INSERT INTO report_leads (grain, level, at, test, campaign_id, supplier_id, source, sub_id, leads, rejected, duplicate, auctioned, sold, unsold, errors, revenue_cents, payout_cents, pings, bids, bid_cents, wins, posts, accepted, post_rejects, timeouts, max_bid_cents, decision_ms)
SELECT r.* FROM report_progress p,
  generate_series((SELECT min(at) FROM report_leads WHERE grain = 'day') - interval '648 hours', date_trunc('day', p.rolled_to, 'UTC') - interval '672 hours', interval '24 hours') w(start),
  LATERAL (
    SELECT 'four_weeks', level, w.start, test, campaign_id, supplier_id, source, sub_id, sum(leads), sum(rejected), sum(duplicate), sum(auctioned), sum(sold), sum(unsold), sum(errors), sum(revenue_cents), sum(payout_cents), sum(pings), sum(bids), sum(bid_cents), sum(wins), sum(posts), sum(accepted), sum(post_rejects), sum(timeouts), max(max_bid_cents), array[sum(decision_ms[1])::int, sum(decision_ms[2])::int, sum(decision_ms[3])::int, sum(decision_ms[4])::int, sum(decision_ms[5])::int, sum(decision_ms[6])::int, sum(decision_ms[7])::int, sum(decision_ms[8])::int, sum(decision_ms[9])::int, sum(decision_ms[10])::int, sum(decision_ms[11])::int, sum(decision_ms[12])::int, sum(decision_ms[13])::int, sum(decision_ms[14])::int, sum(decision_ms[15])::int, sum(decision_ms[16])::int, sum(decision_ms[17])::int, sum(decision_ms[18])::int, sum(decision_ms[19])::int, sum(decision_ms[20])::int, sum(decision_ms[21])::int, sum(decision_ms[22])::int, sum(decision_ms[23])::int, sum(decision_ms[24])::int, sum(decision_ms[25])::int, sum(decision_ms[26])::int, sum(decision_ms[27])::int, sum(decision_ms[28])::int, sum(decision_ms[29])::int]
    FROM report_leads WHERE grain = 'week' AND level IN (0, 1, 2, 3, 4) AND at IN (w.start, w.start + interval '168 hours', w.start + interval '336 hours', w.start + interval '504 hours')
    GROUP BY level, test, campaign_id, supplier_id, source, sub_id
  ) r
WHERE p.name = 'rollups'
ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO report_channels (grain, level, at, test, campaign_id, supplier_id, channel_id, buyer_id, leads, excluded, pings, bids, bid_cents, wins, posts, accepted, post_rejects, timeouts, errors, sold, revenue_cents, payout_cents, max_bid_cents, ping_ms, post_ms)
SELECT r.* FROM report_progress p,
  generate_series((SELECT min(at) FROM report_channels WHERE grain = 'day') - interval '648 hours', date_trunc('day', p.rolled_to, 'UTC') - interval '672 hours', interval '24 hours') w(start),
  LATERAL (
    SELECT 'four_weeks', level, w.start, test, campaign_id, supplier_id, channel_id, buyer_id, sum(leads), sum(excluded), sum(pings), sum(bids), sum(bid_cents), sum(wins), sum(posts), sum(accepted), sum(post_rejects), sum(timeouts), sum(errors), sum(sold), sum(revenue_cents), sum(payout_cents), max(max_bid_cents), array[sum(ping_ms[1])::int, sum(ping_ms[2])::int, sum(ping_ms[3])::int, sum(ping_ms[4])::int, sum(ping_ms[5])::int, sum(ping_ms[6])::int, sum(ping_ms[7])::int, sum(ping_ms[8])::int, sum(ping_ms[9])::int, sum(ping_ms[10])::int, sum(ping_ms[11])::int, sum(ping_ms[12])::int, sum(ping_ms[13])::int, sum(ping_ms[14])::int, sum(ping_ms[15])::int, sum(ping_ms[16])::int, sum(ping_ms[17])::int, sum(ping_ms[18])::int, sum(ping_ms[19])::int, sum(ping_ms[20])::int, sum(ping_ms[21])::int, sum(ping_ms[22])::int, sum(ping_ms[23])::int, sum(ping_ms[24])::int, sum(ping_ms[25])::int, sum(ping_ms[26])::int, sum(ping_ms[27])::int, sum(ping_ms[28])::int, sum(ping_ms[29])::int], array[sum(post_ms[1])::int, sum(post_ms[2])::int, sum(post_ms[3])::int, sum(post_ms[4])::int, sum(post_ms[5])::int, sum(post_ms[6])::int, sum(post_ms[7])::int, sum(post_ms[8])::int, sum(post_ms[9])::int, sum(post_ms[10])::int, sum(post_ms[11])::int, sum(post_ms[12])::int, sum(post_ms[13])::int, sum(post_ms[14])::int, sum(post_ms[15])::int, sum(post_ms[16])::int, sum(post_ms[17])::int, sum(post_ms[18])::int, sum(post_ms[19])::int, sum(post_ms[20])::int, sum(post_ms[21])::int, sum(post_ms[22])::int, sum(post_ms[23])::int, sum(post_ms[24])::int, sum(post_ms[25])::int, sum(post_ms[26])::int, sum(post_ms[27])::int, sum(post_ms[28])::int, sum(post_ms[29])::int]
    FROM report_channels WHERE grain = 'week' AND level IN (1, 2, 3) AND at IN (w.start, w.start + interval '168 hours', w.start + interval '336 hours', w.start + interval '504 hours')
    GROUP BY level, test, campaign_id, supplier_id, channel_id, buyer_id
  ) r
WHERE p.name = 'rollups'
ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO report_bids (grain, level, at, test, campaign_id, channel_id, step, bids, wins, posts, accepted)
SELECT r.* FROM report_progress p,
  generate_series((SELECT min(at) FROM report_bids WHERE grain = 'day') - interval '648 hours', date_trunc('day', p.rolled_to, 'UTC') - interval '672 hours', interval '24 hours') w(start),
  LATERAL (
    SELECT 'four_weeks', level, w.start, test, campaign_id, channel_id, step, sum(bids), sum(wins), sum(posts), sum(accepted)
    FROM report_bids WHERE grain = 'week' AND level IN (0, 1, 2) AND at IN (w.start, w.start + interval '168 hours', w.start + interval '336 hours', w.start + interval '504 hours')
    GROUP BY level, test, campaign_id, channel_id, step
  ) r
WHERE p.name = 'rollups'
ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO report_reasons (grain, at, test, campaign_id, channel_id, stage, reason, count, orphans)
SELECT r.* FROM report_progress p,
  generate_series((SELECT min(at) FROM report_reasons WHERE grain = 'day') - interval '648 hours', date_trunc('day', p.rolled_to, 'UTC') - interval '672 hours', interval '24 hours') w(start),
  LATERAL (
    SELECT 'four_weeks', w.start, test, campaign_id, channel_id, stage, reason, sum(count), sum(orphans)
    FROM report_reasons WHERE grain = 'week' AND at IN (w.start, w.start + interval '168 hours', w.start + interval '336 hours', w.start + interval '504 hours')
    GROUP BY test, campaign_id, channel_id, stage, reason
  ) r
WHERE p.name = 'rollups'
ON CONFLICT DO NOTHING;
