// A rendered header value holding CR or LF (a buyer's capture with a line break, sent back as
// `Bearer {{ping.token}}`) cannot go on the wire: Gavel refuses it before sending, as an `error` post
// with reason invalid_request, and the auction goes on to the next bid. Before, undici's refusal
// was taken for a post that may have been sent: the lead ended post_outcome_unknown, the next buyer
// never offered. Also the transport on its own: undici's invalid-argument errors mean "not sent".
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBuyerTransport, type BuyerRequest } from "../src/channels/transport";
import { consumer, pingPost, useTestGavel, type TestGavel } from "./helpers/gavel";

describe("a post header holding a line break", () => {
  const fixture = useTestGavel();
  let g: TestGavel;
  beforeAll(() => {
    g = fixture.g;
  });

  it("is not sent: the post is an error with reason invalid_request, and the lead sells to the next bid", async () => {
    const crlf = await fixture.buyer({ ping: () => ({ json: { bid: 9, token: "abc\r\nX-Injected: 1" } }) });
    const next = await fixture.buyer({ ping: () => ({ json: { bid: 5, ping_ref: "next" } }) });
    const key = await g.setup({
      campaign: { id: "header-crlf", auction: { timeout_ms: 20_000 } },
      channels: [
        pingPost("header-crlf-token", crlf, {
          buyer_id: "header-crlf-token",
          post: { url: crlf.postUrl, headers: { authorization: "Bearer {{ping.token}}" } },
          response: { ping: { bid: "$.bid", capture: { token: "$.token" } } },
          caps: [{ period: "day", leads: 1 }],
        }),
        pingPost("header-crlf-next", next, { buyer_id: "header-crlf-next" }),
      ],
    });
    for (const round of [1, 2]) {
      const res = await g.lead(key, { campaign: "header-crlf", data: consumer() });
      expect(res.status, `lead ${round}`).toBe(200);
      expect(res.body, `lead ${round}`).toMatchObject({ status: "sold", price: 5 });
      const t = (await g.admin("GET", `/v1/leads/${res.body.lead_id}`)).body;
      const posts = t.attempts.filter((a: any) => a.kind === "post");
      expect(posts.map((a: any) => [a.channel_id, a.outcome, a.reason, a.detail])).toEqual([
        ["header-crlf-token", "error", "invalid_request", "header authorization holds CR, LF or NUL"],
        ["header-crlf-next", "accepted", "accepted", null],
      ]);
    }
    // Never sent, so the buyer never saw a post, and its daily cap of one lead was given back each time.
    expect(crlf.pings).toHaveLength(2);
    expect(crlf.posts).toHaveLength(0);
    expect(next.posts).toHaveLength(2);
  });
});

describe("the buyer transport, given a request it cannot send", () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? "");
    res.end("{}");
  });
  const transport = createBuyerTransport({ stallMs: Infinity });
  let url = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/post`;
  });
  afterAll(async () => {
    await transport.close();
    await new Promise((resolve) => server.close(resolve));
  });
  const request = (headers: Record<string, string>): BuyerRequest => ({ url, method: "POST", headers, body: "{}", timeoutMs: 5000, maxBodyBytes: 65_536, retryConnectFailure: true });

  it("refuses a header value with CR, LF or NUL before sending", async () => {
    for (const value of ["a\r\nb", "a\nb", "a\rb", "a\0b"])
      expect(await transport.send(request({ "x-token": value }))).toMatchObject({ kind: "connection_error", code: "invalid_request", sent: false, detail: "header x-token holds CR, LF or NUL" });
    expect(seen).toEqual([]);
  });

  it("takes undici's refusal of a request (UND_ERR_INVALID_ARG) for a request never sent", async () => {
    expect(await transport.send(request({ "bad header name": "1" }))).toMatchObject({ kind: "connection_error", code: "UND_ERR_INVALID_ARG", sent: false });
    expect(seen).toEqual([]);
    // The same transport still sends a good request.
    expect(await transport.send(request({ "x-token": "fine" }))).toMatchObject({ kind: "response", status: 200 });
    expect(seen).toEqual(["/post"]);
  });
});
