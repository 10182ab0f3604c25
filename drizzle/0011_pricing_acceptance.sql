-- Pricing and ranking (README "Pricing and ranking"). channel_acceptance: each channel's posts and
-- accepted posts, decaying with a half-life from as_of, which rank_by "expected" ranks with; every
-- process adds its posts in one upsert and reads them back, so processes share one estimate.
-- leads.ranking: a lead's bids as made and as ranked, acceptance rates and charges, for its trace
-- (null for a plain first-price auction). Adding a nullable column without a default is instant.
CREATE TABLE "channel_acceptance" (
	"channel_id" text PRIMARY KEY NOT NULL,
	"posted" double precision DEFAULT 0 NOT NULL,
	"accepted" double precision DEFAULT 0 NOT NULL,
	"as_of" timestamp with time zone NOT NULL,
	"half_life_hours" double precision NOT NULL
);
--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "ranking" jsonb;