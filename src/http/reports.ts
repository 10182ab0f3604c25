// Reports for analysts: figures per campaign, supplier, source, buyer or channel, the bid landscape
// and the reasons leads were not taken; JSON, or CSV with the same columns.
import { z } from "zod";
import type { Clock } from "../time/clock";
import type { Database } from "../db/client";
import { STAGE_CODES } from "../reasons";
import { cell, csvStream, keyedLines } from "../reports/csv";
import { STEP_CENTS } from "../reports/facts";
import { bidLandscape, dimensionReport, DIMENSIONS, reasonReport, type Dimension } from "../reports/query";
import { INTERVALS, reportRange } from "../reports/range";
import { queryFlag, rangeZone, timeBound, timeRange } from "./body";
import type { AppContext } from "./env";
import { route, type AnyRoute } from "./route";

export interface ReportRouteDeps {
  database: Database;
  clock: Clock;
}

const name = z.string().min(1).max(200);
const range = {
  from: timeBound.optional().meta({ description: "Start of the range, included (see `to` for the forms). Default: a day before `to`" }),
  to: timeBound.optional(),
  tz: rangeZone.optional().meta({ description: "IANA time zone of `from` and `to` without an offset and of interval buckets, default `UTC`" }),
  test: queryFlag
    .optional()
    .meta({ description: "`true`: test leads only; default `false`: real leads only (the two never mix)" }),
  format: z.enum(["json", "csv"]).optional().meta({ description: "`csv` for CSV (or send `Accept: text/csv`)" }),
};

const DimensionQuery = z
  .object({
    ...range,
    interval: z.string().optional().meta({ description: `One of ${INTERVALS.join(", ")}; absent for one row per key` }),
    campaign: name.optional(),
    supplier: name.optional(),
    source: name.optional(),
    sub_id: name.optional(),
    buyer: name.optional(),
    channel: name.optional(),
  })
  .strict();

const DIMENSION_SUMMARIES: Record<Dimension, string> = {
  campaigns: "Leads, bids, posts, money and decision latency per campaign",
  suppliers: "Leads, bids, posts, money and decision latency per supplier",
  sources: "Leads, bids, posts and money per supplier, source and sub_id",
  buyers: "Leads offered, bids, posts, money and ping and post latency per buyer",
  channels: "Leads offered, bids, posts, money and ping and post latency per channel",
};

const BUCKET = "must be a price range width in dollars: a multiple of 0.5, up to 1000";
/** `?bucket=`: read as a number (published as one), in whole half-dollar steps. */
const priceBucket = z.coerce
  .number<string>({ error: BUCKET })
  .positive(BUCKET)
  .max(1000, BUCKET)
  .refine((dollars) => Number.isInteger((dollars * 100) / STEP_CENTS), BUCKET)
  .default(1)
  .meta({ description: "Width of a price range in dollars: a multiple of 0.5 up to 1000, default 1" });

const BidQuery = z
  .object({
    ...range,
    campaign: name.optional(),
    channel: name.optional(),
    bucket: priceBucket,
  })
  .strict();

const ReasonQuery = z.object({ ...range, campaign: name.optional(), channel: name.optional() }).strict();

const figure = z.number().nullable();
const Metrics = z.record(z.string(), figure);
const DimensionReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    tz: z.string(),
    interval: z.string().nullable(),
    rows: z.array(z.looseObject({ key: z.record(z.string(), z.string().nullable()), period: z.string().optional() })),
    totals: Metrics,
    periods: z
      .array(z.looseObject({ period: z.string() }))
      .optional()
      .meta({ description: "With `interval`: each period's totals over every key (the SUM row per period); periods with no leads are absent" }),
  })
  .meta({ id: "Report" });

const BidLandscapeSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    tz: z.string(),
    bucket: z.number(),
    rows: z.array(
      z.object({ min_price: z.number(), max_price: z.number(), bids: z.number(), wins: z.number(), posts: z.number(), accepted: z.number(), post_reject_rate: figure }),
    ),
    totals: z.object({ bids: z.number(), wins: z.number(), posts: z.number(), accepted: z.number(), post_reject_rate: figure }),
  })
  .meta({ id: "BidLandscape" });

const ReasonReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    tz: z.string(),
    rows: z.array(
      z.object({
        key: z.object({
          channel: z.string().nullable(),
          stage: z.enum(["excluded", "ping", "post", "lead"]),
          outcome: z.string().nullable().meta({ description: "The attempt's outcome (`ping`, `post`) or the lead's status (`lead`); null for `excluded`" }),
          reason: z
            .enum([...new Set([...STAGE_CODES.excluded, ...STAGE_CODES.ping, ...STAGE_CODES.post, ...STAGE_CODES.lead])])
            .nullable()
            .meta({ description: "A code of the stage (null when a row recorded none)" }),
          detail: z
            .string()
            .nullable()
            .meta({ description: "Only for a code whose detail is from a small set: a filter's field, a cap's period, an HTTP status, an error code; free text (a buyer's message) is never a key" }),
        }),
        count: z.number(),
        orphans: z.number(),
      }),
    ),
    totals: z.object({ count: z.number(), orphans: z.number() }),
  })
  .meta({ id: "ReasonReport" });

const KEYS: Record<Dimension, string[]> = {
  campaigns: ["campaign"],
  suppliers: ["supplier"],
  sources: ["supplier", "source", "sub_id"],
  buyers: ["buyer"],
  channels: ["channel", "buyer"],
};

/** A query's range: its bounds read in its zone (half-open), checked against its interval. */
function rangeOf(query: { from?: string; to?: string; tz?: string; interval?: string }, now: number) {
  const { from, to } = timeRange(query);
  return reportRange({ from, to, tz: query.tz, interval: query.interval }, now);
}

/** `?format=csv`, or else `Accept: text/csv`: the answer is CSV (statements answer alike). */
export const wantsCsv = (c: AppContext, format: string | undefined) =>
  format === "csv" || (format === undefined && (c.req.header("accept") ?? "").toLowerCase().includes("text/csv"));

export function csvAnswer(c: AppContext, fileName: string, header: string[], lines: string[][]): Response {
  return c.body(csvStream(header, lines), 200, {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="${fileName}.csv"`,
  });
}

const responses = (description: string, schema: z.ZodType) => ({
  200: { description: `${description}. With \`format=csv\` or \`Accept: text/csv\`: the same columns as CSV, closed by a \`total\` line`, schema },
  422: { description: "A bad parameter, named field by field", contentType: "application/problem+json" },
});

export function reportRoutes(deps: ReportRouteDeps): AnyRoute[] {
  return [
    route({
      method: "get",
      path: "/v1/reports/bids",
      access: "analyst",
      operationId: "bidLandscape",
      summary: "The bid landscape: bids per price range, and how many were won, posted and accepted",
      tags: ["Reports"],
      query: BidQuery,
      responses: responses("Price ranges with bids, then totals", BidLandscapeSchema),
      async handler(c, { query }) {
        const report = await bidLandscape(deps.database, rangeOf(query, deps.clock.now()), query, query.test === true, Math.round(query.bucket * 100));
        if (!wantsCsv(c, query.format)) return c.json(report);
        const figures = ["min_price", "max_price", "bids", "wins", "posts", "accepted", "post_reject_rate"] as const;
        const lines = report.rows.map((r) => figures.map((f) => cell(f, r[f])));
        lines.push(["total", "", ...figures.slice(2).map((f) => cell(f, report.totals[f as keyof typeof report.totals]))]);
        return csvAnswer(c, "bids", [...figures], lines);
      },
    }),
    route({
      method: "get",
      path: "/v1/reports/reasons",
      access: "analyst",
      operationId: "reasonReport",
      summary: "Why leads were not taken: exclusions, non-bids and refused posts per channel and reason, with orphan leads",
      description:
        "Each row counts a (channel, stage, outcome, reason, detail): `excluded` (the channel was left out before the ping, or its bid skipped at the post), `ping` (no bid), `post` (a refused or failed post) or `lead` (a lead's own reason by its status, channel null). `reason` is a code; `detail` is kept only where it is from a small set (a filter's field, a cap's period, an HTTP status, an error code), never a buyer's message. `orphans` counts those on leads that ended unsold: the leads no channel could take, by what kept each channel out.",
      tags: ["Reports"],
      query: ReasonQuery,
      responses: responses("Reasons by count, then totals", ReasonReportSchema),
      async handler(c, { query }) {
        const report = await reasonReport(deps.database, rangeOf(query, deps.clock.now()), query, query.test === true);
        if (!wantsCsv(c, query.format)) return c.json(report);
        const lines = report.rows.map((r) => [
          r.key.channel ?? "",
          r.key.stage,
          r.key.outcome ?? "",
          r.key.reason ?? "",
          r.key.detail ?? "",
          String(r.count),
          String(r.orphans),
        ]);
        lines.push(["total", "", "", "", "", String(report.totals.count), String(report.totals.orphans)]);
        return csvAnswer(c, "reasons", ["channel", "stage", "outcome", "reason", "detail", "count", "orphans"], lines);
      },
    }),
    // One route per dimension, each a path of its own: a path parameter beside /v1/reports/bids
    // would be ambiguous to Hono's RegExpRouter, and every request would then be routed by the
    // slower TrieRouter (lead intake included).
    ...DIMENSIONS.map((dimension) =>
      route({
        method: "get",
        path: `/v1/reports/${dimension}`,
        access: "analyst",
        operationId: `${dimension}Report`,
        summary: DIMENSION_SUMMARIES[dimension],
        description:
          "One row per key (and per period with `interval`), then `totals`: the SUM row. Money is exact (sums of integer cents); rates are 0 to 1, null when nothing was counted; latency percentiles are in ms, read from histograms (within a bucket's width). Buyers and channels count the leads offered to them; campaigns, suppliers and sources the leads received.",
        tags: ["Reports"],
        query: DimensionQuery,
        responses: responses("Rows and totals", DimensionReportSchema),
        async handler(c, { query }) {
          const range = rangeOf(query, deps.clock.now());
          const report = await dimensionReport(
            deps.database,
            dimension,
            range,
            { campaign: query.campaign, supplier: query.supplier, source: query.source, subId: query.sub_id, buyer: query.buyer, channel: query.channel },
            query.test === true,
          );
          if (!wantsCsv(c, query.format)) return c.json(report);
          const { header, lines } = keyedLines(report, KEYS[dimension], range.interval !== null);
          return csvAnswer(c, dimension, header, lines);
        },
      }),
    ),
  ];
}
