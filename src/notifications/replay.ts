// An operator sends a dead (or cancelled) notification again (README "Notifications"): the row is
// pending, due now, its attempts counted afresh, to the receiver's URL as it is now, and the audit
// log says who did it, in one transaction.
import { recordAudit, type Actor } from "../db/audit";
import type { Database } from "../db/client";
import { findDelivery, revive, type DeliveryRow } from "../db/deliveries";
import { GavelError } from "../errors";
import type { Clock } from "../time/clock";

export async function replayDelivery(deps: { database: Database; clock: Clock }, id: number, actor: Actor, note?: string): Promise<DeliveryRow> {
  return deps.database.db.transaction(async (tx) => {
    const row = await findDelivery(tx, id, { lock: true });
    if (!row) throw new GavelError("not_found", `No delivery '${id}'`);
    if (row.state !== "dead" && row.state !== "cancelled")
      throw new GavelError("conflict", `Delivery '${id}' is ${row.state}: only a dead or cancelled one can be replayed`);
    const revived = await revive(tx, id, deps.clock.now());
    await recordAudit(tx, actor, {
      resource: `deliveries/${id}`,
      action: "delivery.replay",
      diff: [
        { path: "state", before: row.state, after: "pending" },
        { path: "attempts", before: row.attempts, after: 0 },
        ...(note ? [{ path: "note", after: note }] : []),
      ],
    });
    return revived;
  });
}
