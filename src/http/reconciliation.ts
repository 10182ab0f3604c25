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
      summary: "Settle a lead whose post's outcome was unknown: sold (to a channel, at a price) or unsold",
      description:
        "Only a lead that ended `error` with reason `post_outcome_unknown` (list them with `GET /v1/leads?status=error&reason=post_outcome_unknown`). `sold`: `channel_id` is a channel the lead was posted to with an unknown outcome (any channel of the campaign when the lead's process died before recording its posts), and `price` at most what that post offered; the lead becomes sold at that price, the supplier's payout is its payout rule and the campaign's margin on it, and the caps the post reserved stay counted (at that price). `unsold`: the post's reservation is given back. Either way every other unknown post of the lead is settled as not taken, the reports are restated, and the lead's history (`resolved`) and the audit log (`lead.resolve`) record who settled it and how. A lead is settled once: a second resolve, or one racing the first (or the buyer's postback that settled it), is a 409 saying how it was settled.",
      tags: ["After the sale"],
      body: Resolution,
      responses: {
        200: { description: "The lead, settled", schema: ResolvedLead },
        409: { description: "The lead is not waiting to be settled: it was settled already, or did not end error/post_outcome_unknown" },
      },
      async handler(c, { params, body }) {
        return c.json(await resolveLead(deps, params.id, body, operatorOf(c).actor));
      },
    }),
  ];
}
