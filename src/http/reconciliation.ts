// Reconciliation (README "After the sale"): an operator settles a lead whose post's outcome was
// unknown. A thin handler over src/reconciliation/resolve.ts.
import { Resolution, ResolvedLead, resolveLead, type ResolveDeps } from "../reconciliation/resolve";
import { operatorOf } from "./auth";
import { route, type AnyRoute } from "./route";

export function reconciliationRoutes(deps: ResolveDeps): AnyRoute[] {
  return [
    route({
      method: "post",
      path: "/v1/leads/{id}/resolve",
      access: "admin",
      operationId: "resolveLead",
      summary: "Settle a post whose outcome was unknown: sold (to its channel, at a price) or unsold",
      description:
        "A lead waiting for a post's outcome: reason `post_outcome_unknown`, status `error` (or `sold` once one of its posts was settled sold, or when another buyer bought it at auction: shared, or `on_post_timeout: next`; list them with `GET /v1/leads?reason=post_outcome_unknown`). Each post is settled on its own: `sold` names a channel the lead was posted to with an unknown outcome (any channel of the campaign when the lead's process died before recording its posts: at most its fixed price, or with `confirm: true` for a channel without one) and a `price` at most what that post offered; the post reads accepted at that price and its cap reservation stays counted. `unsold` with a `channel_id` settles that post not taken, without one every post still open; a post not taken gives back its reservation and the buyer's dedup claim. The other posts still open keep theirs and are settled later (resolve again, or their buyer's postback). The lead is sold once any post is (revenue the sum of its sales, payout on that sum), unsold when none is and none is left open, else still error. The reports are restated, each sale's buyer hears `lead.delivered`, the supplier `lead.sold` or `lead.unsold` once no post is left open, and the lead's history (`resolved`) and the audit log (`lead.resolve`) record who settled which post. A post is settled once: a second resolve of it, or one racing the first (or its buyer's postback), is a 409 saying how it was settled.",
      tags: ["After the sale"],
      body: Resolution,
      responses: {
        200: { description: "The lead, settled", schema: ResolvedLead },
        409: { description: "The post (or the lead) is not waiting to be settled: it was settled already, or the lead did not end error/post_outcome_unknown" },
      },
      async handler(c, { params, body }) {
        return c.json(await resolveLead(deps, params.id, body, operatorOf(c).actor));
      },
    }),
  ];
}
