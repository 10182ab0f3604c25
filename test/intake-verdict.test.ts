// The statement that records a lead for auction says what became of it as a value: auctioning, a
// duplicate, suppressed, or a supplier cap without room — then nothing at all is recorded, and the
// caller records the refusal (SPEC.md step 2).
import { describe, expect, it } from "vitest";
import { capRules, claimOf } from "../src/auction/caps";
import { insertLeadForAuction, type NewLead } from "../src/db/leads";
import { useInProcessApp } from "./helpers/app";

describe("recording a lead for auction", () => {
  const t = useInProcessApp();
  const at = Date.parse("2026-03-02T15:00:00Z");
  const lead = (id: string, data: Record<string, unknown> = {}): NewLead => ({
    id,
    campaignId: "verdicts",
    supplierId: "verdicts-sup",
    test: false,
    source: null,
    subId: null,
    data,
    receivedAt: new Date(at),
    deadlineAt: new Date(at + 2000),
  });
  /** One lead a day for the supplier. */
  const oneADay = () => capRules("supplier", "verdicts-sup", [{ period: "day", leads: 1 }], "UTC", "cap").map((rule) => claimOf(rule, at, 0));
  const checks = (keys: string[] = []) => ({ dedup: { keys, cutoff: new Date(at - 1000) }, supplierCaps: oneADay() });

  it("answers a full supplier cap as a value and records nothing, and a duplicate as a duplicate", async () => {
    await t.a.supplier("verdicts", "verdicts-sup");
    const db = t.a.database;
    expect(await insertLeadForAuction(db, lead("v-first"), checks(["k1"]))).toEqual({ status: "auctioning", reason: null, seenBuyers: [] });
    // A duplicate never reaches the caps.
    expect(await insertLeadForAuction(db, lead("v-again"), checks(["k1"]))).toEqual({ status: "duplicate", reason: "dedup" });
    expect(await insertLeadForAuction(db, lead("v-second"), checks(["k2"]))).toEqual({ status: "cap_full" });
    expect((await t.a.call("GET", "/v1/leads/v-first")).body).toMatchObject({ status: "auctioning" });
    expect((await t.a.call("GET", "/v1/leads/v-again")).body).toMatchObject({ status: "duplicate" });
    expect((await t.a.call("GET", "/v1/leads/v-second")).status).toBe(404);
    // Nor did it claim its dedup key: the same consumer is new to the campaign once the cap has room.
    expect(await insertLeadForAuction(db, lead("v-later"), { dedup: { keys: ["k2"], cutoff: new Date(at - 1000) } })).toMatchObject({ status: "auctioning" });
  });
});
