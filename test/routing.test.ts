// Hono picks its router from the routes: RegExpRouter (one regular expression for every route)
// when it can, else TrieRouter. A single ambiguous path — a parameter beside a static segment at
// the same place, /v1/reports/{dimension} beside /v1/reports/bids — sends every request,
// lead intake included, through the slower TrieRouter: S1 measured about 7 % more CPU per lead.
import { describe, expect, it } from "vitest";
import { useTestGavel } from "./helpers/gavel";

describe("routing", () => {
  const t = useTestGavel();

  it("routes every request with Hono's RegExpRouter", async () => {
    const res = await fetch(`${t.g.url}/healthz`);
    expect(res.status).toBe(200);
    const router = t.g.gavel.app.router as { name: string; activeRouter?: { name: string } };
    expect(router.activeRouter?.name ?? router.name).toBe("RegExpRouter");
  });

  it("answers an unknown report with the reports there are", async () => {
    const res = await fetch(`${t.g.url}/v1/reports/colours`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/No report 'colours': reports are campaigns, suppliers, sources, buyers, channels, bids and reasons/);
  });
});
