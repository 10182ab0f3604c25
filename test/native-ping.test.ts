// A native ping is built straight from the channel's fixed headers, with the lead's public data
// serialised once for all its pings. It must be the very request the general path builds.
import { describe, expect, it } from "vitest";
import { compileChannel } from "../src/channels/channel";
import { buildPing } from "../src/channels/native";
import { Channel } from "../src/channels/config";

const channel = (extra: Record<string, unknown> = {}) =>
  Channel.parse({
    id: "native-1",
    buyer_id: "b1",
    campaign_id: "c1",
    type: "ping_post",
    ping: { url: "http://127.0.0.1:9/ping" },
    post: { url: "http://127.0.0.1:9/post" },
    auth: { type: "bearer", token: "tok-0123456789" },
    ...extra,
  });

const publicData = { state: "CA", zip: "90210", note: 'quote " and \\ backslash, é, 😀, \u2028', age: 41, owner: true, nothing: null };

describe("native pings", () => {
  for (const test of [false, true]) {
    it(`writes the same bytes with the data serialised once${test ? " (test lead)" : ""}`, () => {
      const input = { pingId: "p-1", leadId: "l-1", campaign: "c1", test, publicData };
      const io = compileChannel(channel());
      const once = io.buildPing({ ...input, publicJson: JSON.stringify(publicData) }, 300, 1024);
      const each = io.buildPing(input, 300, 1024);
      expect(once.body).toBe(each.body);
      expect(once.body).toBe(JSON.stringify({ ping_id: "p-1", lead_id: "l-1", campaign: "c1", test, data: publicData }));
      expect(JSON.parse(once.body!)).toEqual({ ping_id: "p-1", lead_id: "l-1", campaign: "c1", test, data: publicData });
      expect(once.headers).toEqual(each.headers);
      expect(once.headers.authorization).toBe("Bearer tok-0123456789");
      expect(once.headers["x-gavel-test"]).toBe(test ? "1" : undefined);
      expect({ url: once.url, method: once.method, timeoutMs: once.timeoutMs, maxBodyBytes: once.maxBodyBytes }).toEqual({
        url: "http://127.0.0.1:9/ping",
        method: "POST",
        timeoutMs: 300,
        maxBodyBytes: 1024,
      });
    });
  }

  it("builds a plain native ping exactly as the template path would", () => {
    const input = { pingId: "p-2", leadId: "l-2", campaign: "c1", test: false, publicData };
    // A templated header sends the channel down the general path; its other headers are the same.
    const templated = compileChannel(channel({ ping: { url: "http://127.0.0.1:9/ping", headers: { "x-lead": "{{lead_id}}" } } })).buildPing(input, 300, 1024);
    const plain = compileChannel(channel()).buildPing(input, 300, 1024);
    const { "x-lead": lead, ...rest } = templated.headers;
    expect(lead).toBe("l-2");
    expect(plain.headers).toEqual(rest);
    expect(plain.body).toBe(templated.body);
    expect(plain.body).toBe(buildPing(channel(), plain.headers, input, 300, 1024).body);
  });

  it("still signs a native ping when the channel signs", () => {
    const io = compileChannel(channel({ signing: { secret: "sign-secret-0123456789abcdef" } }));
    const request = io.buildPing({ pingId: "p-3", leadId: "l-3", campaign: "c1", test: false, publicData, publicJson: JSON.stringify(publicData) }, 300, 1024);
    expect(Object.keys(request.headers).some((name) => name.includes("signature"))).toBe(true);
  });
});
