ALTER TABLE "leads" DROP CONSTRAINT "leads_status";--> statement-breakpoint
ALTER TABLE "report_leads" ADD COLUMN "pending" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_status" CHECK ("leads"."status" in ('received', 'rejected', 'duplicate', 'auctioning', 'held', 'expired', 'pending', 'sold', 'unsold', 'error', 'returned'));