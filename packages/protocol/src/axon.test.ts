import type { KeyringPair } from "@polkadot/keyring/types";
import Fastify from "fastify";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Axon, type CallerInfo } from "./axon.ts";
import { cryptoReady, keypairFromUri, signText } from "./crypto.ts";
import { type AxonTarget, Dendrite } from "./dendrite.ts";
import { SynapseError } from "./errors.ts";
import { defineSynapse } from "./synapse.ts";
import { requestSigningMessage } from "./verify.ts";
import { timeNs } from "./wire.ts";

const Echo = defineSynapse({
  name: "Echo",
  request: z.object({ text: z.string(), times: z.int().default(1) }),
  response: z.object({ echoed: z.string(), caller: z.string() }),
  timeoutSec: 5,
  maxBodyBytes: 4096,
});
const Slow = defineSynapse({
  name: "Slow",
  request: z.object({ ms: z.int(), tag: z.string() }),
  response: z.object({ tag: z.string() }),
  timeoutSec: 0.5,
});

let alice: KeyringPair;
let bob: KeyringPair;
let eve: KeyringPair;
const axons: Axon[] = [];

beforeAll(async () => {
  await cryptoReady();
  alice = keypairFromUri("//Alice");
  bob = keypairFromUri("//Bob");
  eve = keypairFromUri("//Eve");
});
afterEach(async () => {
  await Promise.all(axons.splice(0).map((a) => a.stop()));
});

async function startAxon(opts: Partial<ConstructorParameters<typeof Axon>[0]> = {}): Promise<Axon> {
  const axon = new Axon({ hotkey: alice, port: 0, ...opts });
  axon.attach(Echo, async (req, caller) => {
    if (req.text === "refuse") throw new SynapseError(409, "text refused");
    if (req.text === "crash") throw new Error("handler bug");
    if (req.text === "invalid") return { echoed: 5 } as unknown as { echoed: string; caller: string };
    return { echoed: req.text.repeat(req.times), caller: caller.hotkey };
  });
  axon.attach(Slow, async (req, _caller, ctx) => {
    await new Promise((r) => setTimeout(r, req.ms));
    return { tag: ctx.signal.aborted ? `${req.tag}-late` : req.tag };
  });
  await axon.start();
  axons.push(axon);
  return axon;
}

function targetOf(axon: Axon): AxonTarget {
  return { ip: "127.0.0.1", port: axon.port, hotkey: axon.hotkey };
}

async function post(url: string, headers: Record<string, string>, body: string) {
  const res = await fetch(url, { method: "POST", headers, body });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: JSON.parse(text) as Record<string, unknown>,
  };
}

describe("axon and dendrite round trip", () => {
  it("returns the typed response; the handler sees the verified caller", async () => {
    const axon = await startAxon();
    const d = new Dendrite({ hotkey: bob });
    const r = await d.query(targetOf(axon), Echo, { text: "ab", times: 2 });
    expect(r).toMatchObject({ ok: true, status: 200, response: { echoed: "abab", caller: bob.address } });
  });

  it("answers the full synapse JSON with axon status in body and headers", async () => {
    const axon = await startAxon();
    const d = new Dendrite({ hotkey: bob });
    const p = d.prepare(targetOf(axon), Echo, { text: "x", times: 1 }, 5);
    const r = await post(p.url, p.headers, p.body);
    expect(r.status).toBe(200);
    expect(r.headers.get("bt_header_axon_status_code")).toBe("200");
    expect(r.headers.get("bt_header_axon_status_message")).toBe("Success");
    expect(r.headers.get("bt_header_axon_hotkey")).toBe(alice.address);
    expect(r.json).toMatchObject({
      name: "Echo",
      text: "x",
      times: 1,
      echoed: "x",
      caller: bob.address,
      axon: { status_code: 200, status_message: "Success", hotkey: alice.address },
      dendrite: { hotkey: bob.address, ip: "127.0.0.1" },
    });
    expect(r.text).toMatch(/"timeout":5\.0/);
    expect(r.text).toMatch(/"nonce":\d{19}/);
  });

  it("maps handler outcomes: SynapseError status, crash 500, invalid response 500", async () => {
    const axon = await startAxon();
    const d = new Dendrite({ hotkey: bob });
    expect(await d.query(targetOf(axon), Echo, { text: "refuse", times: 1 })).toMatchObject({
      ok: false,
      status: 409,
      kind: "bad_request",
      message: "text refused",
    });
    const crash = await d.query(targetOf(axon), Echo, { text: "crash", times: 1 });
    expect(crash).toMatchObject({ ok: false, status: 500, kind: "server_error" });
    expect(crash.ok || crash.message).toMatch(/^Internal Server Error #[0-9a-f-]{36}$/);
    expect(await d.query(targetOf(axon), Echo, { text: "invalid", times: 1 })).toMatchObject({
      ok: false,
      status: 500,
      kind: "server_error",
    });
  });
});

describe("reference §1.7 status codes and messages", () => {
  it("tampered body → 500", async () => {
    const axon = await startAxon();
    const p = new Dendrite({ hotkey: bob }).prepare(targetOf(axon), Echo, { text: "pay 1", times: 1 }, 5);
    const r = await post(p.url, p.headers, p.body.replace("pay 1", "pay 9"));
    expect(r.status).toBe(500);
    expect(r.json.message).toMatch(/^Internal Server Error #[0-9a-f-]{36}$/);
  });

  it("wrong signer → 401 signature mismatch", async () => {
    const axon = await startAxon();
    const p = new Dendrite({ hotkey: bob }).prepare(targetOf(axon), Echo, { text: "x", times: 1 }, 5);
    const nonce = p.headers.bt_header_dendrite_nonce;
    const uuid = p.headers.bt_header_dendrite_uuid;
    const message = requestSigningMessage(BigInt(nonce), bob.address, alice.address, uuid, p.bodyHash);
    const forged = signText(eve, message);
    const r = await post(p.url, { ...p.headers, bt_header_dendrite_signature: forged }, p.body);
    expect(r.status).toBe(401);
    expect(r.json.message).toBe(`Not Verified with error: Signature mismatch with ${message} and ${forged}`);
    expect(r.headers.get("bt_header_axon_status_code")).toBe("401");
  });

  it("a request signed for another axon → 401", async () => {
    const axon = await startAxon();
    const p = new Dendrite({ hotkey: bob }).prepare(
      { ...targetOf(axon), hotkey: eve.address },
      Echo,
      { text: "x", times: 1 },
      5,
    );
    const r = await post(p.url, p.headers, p.body);
    expect(r.status).toBe(401);
    expect(r.json.message).toMatch(/^Not Verified with error: Signature mismatch/);
  });

  it("replayed nonce → 401", async () => {
    const axon = await startAxon();
    const p = new Dendrite({ hotkey: bob }).prepare(targetOf(axon), Echo, { text: "x", times: 1 }, 5);
    expect((await post(p.url, p.headers, p.body)).status).toBe(200);
    const again = await post(p.url, p.headers, p.body);
    expect(again.status).toBe(401);
    expect(again.json.message).toBe(
      "Not Verified with error: Nonce is too old, a newer one was last processed",
    );
  });

  it("stale nonce on first contact → 401 with the allowed delta", async () => {
    const axon = await startAxon();
    const p = new Dendrite({ hotkey: bob }).prepare(targetOf(axon), Echo, { text: "x", times: 1 }, 5);
    const old = timeNs() - 20_000_000_000n;
    const uuid = p.headers.bt_header_dendrite_uuid;
    const sig = signText(bob, requestSigningMessage(old, bob.address, alice.address, uuid, p.bodyHash));
    const r = await post(
      p.url,
      { ...p.headers, bt_header_dendrite_nonce: String(old), bt_header_dendrite_signature: sig },
      p.body,
    );
    expect(r.status).toBe(401);
    expect(r.json.message).toMatch(
      /^Not Verified with error: Nonce is too old: acceptable delta is 9\.00 seconds but request was 20\.\d\d seconds old$/,
    );
  });

  it("missing signature, nonce or hotkey → 401", async () => {
    const axon = await startAxon();
    const d = new Dendrite({ hotkey: bob });
    for (const [header, detail] of [
      ["bt_header_dendrite_signature", "Missing Signature"],
      ["bt_header_dendrite_nonce", "Missing Nonce"],
      ["bt_header_dendrite_hotkey", "Missing Hotkey"],
    ]) {
      const p = d.prepare(targetOf(axon), Echo, { text: "x", times: 1 }, 5);
      const { [header]: _removed, ...headers } = p.headers;
      const r = await post(p.url, headers, p.body);
      expect(r.status).toBe(401);
      expect(r.json.message).toBe(`Not Verified with error: ${detail}`);
    }
  });

  it("unknown synapse → 404 listing the available ones; unparsable path → 400", async () => {
    const axon = await startAxon();
    const r = await post(`http://127.0.0.1:${axon.port}/Nope`, {}, "{}");
    expect(r.status).toBe(404);
    expect(r.json.message).toBe("Synapse name 'Nope' not found. Available synapses ['Echo', 'Slow']");
    const bad = await post(`http://127.0.0.1:${axon.port}/`, {}, "{}");
    expect(bad.status).toBe(400);
    expect(bad.json.message).toBe("Improperly formatted request. Could not parser request /.");
    const d = new Dendrite({ hotkey: bob });
    const Other = defineSynapse({ name: "Other", request: z.object({}), response: z.object({}) });
    expect(await d.query(targetOf(axon), Other, {})).toMatchObject({
      ok: false,
      status: 404,
      kind: "not_found",
    });
  });

  it("malformed headers → 500", async () => {
    const axon = await startAxon();
    const p = new Dendrite({ hotkey: bob }).prepare(targetOf(axon), Echo, { text: "x", times: 1 }, 5);
    const r = await post(p.url, { ...p.headers, bt_header_dendrite_nonce: "soon" }, p.body);
    expect(r.status).toBe(500);
    expect(r.json.message).toMatch(/^Internal Server Error #/);
  });

  it("blacklisted key → 403; the hook sees only verified hotkeys", async () => {
    const seen: CallerInfo[] = [];
    const axon = await startAxon({
      blacklist: (caller) => {
        seen.push(caller);
        return caller.hotkey === eve.address ? "not registered" : null;
      },
    });
    const r = await new Dendrite({ hotkey: eve }).query(targetOf(axon), Echo, { text: "x", times: 1 });
    expect(r).toMatchObject({
      ok: false,
      status: 403,
      kind: "forbidden",
      message: "Forbidden. Key is blacklisted: not registered.",
    });
    expect(seen).toEqual([{ hotkey: eve.address, ip: "127.0.0.1" }]);
    // Eve claiming to be Bob fails verification before the hook runs.
    const p = new Dendrite({ hotkey: eve }).prepare(targetOf(axon), Echo, { text: "x", times: 1 }, 5);
    const r2 = await post(p.url, { ...p.headers, bt_header_dendrite_hotkey: bob.address }, p.body);
    expect(r2.status).toBe(401);
    expect(seen).toHaveLength(1);
    expect(
      await new Dendrite({ hotkey: bob }).query(targetOf(axon), Echo, { text: "x", times: 1 }),
    ).toMatchObject({
      ok: true,
    });
  });

  it("body problems: invalid JSON and schema → 422, too large → 413", async () => {
    const axon = await startAxon();
    const d = new Dendrite({ hotkey: bob });
    const p = d.prepare(targetOf(axon), Echo, { text: "x", times: 1 }, 5);
    const notJson = await post(p.url, p.headers, "{not json");
    expect(notJson.status).toBe(422);
    expect(notJson.json.detail).toEqual([expect.objectContaining({ type: "json_invalid" })]);
    const p2 = d.prepare(targetOf(axon), Echo, { text: "x", times: 1 }, 5);
    const wrongType = await post(p2.url, p2.headers, p2.body.replace('"text":"x"', '"text":7'));
    expect(wrongType.status).toBe(422);
    expect(wrongType.json.detail).toEqual([expect.objectContaining({ loc: ["body", "text"] })]);
    expect(await d.query(targetOf(axon), Echo, { text: "y".repeat(5000), times: 1 })).toMatchObject({
      ok: false,
      status: 413,
      kind: "bad_request",
    });
  });
});

describe("timeouts, priority, shutdown", () => {
  it("a handler slower than the synapse timeout → 408; the dendrite's own timeout → timeout", async () => {
    const axon = await startAxon();
    const d = new Dendrite({ hotkey: bob });
    expect(await d.query(targetOf(axon), Slow, { ms: 2000, tag: "a" }, { timeoutMs: 5000 })).toMatchObject({
      ok: false,
      status: 408,
      kind: "timeout",
      message: "Response timeout after: 0.5s",
    });
    expect(await d.query(targetOf(axon), Slow, { ms: 400, tag: "b" }, { timeoutMs: 100 })).toMatchObject({
      ok: false,
      status: 408,
      kind: "timeout",
      message: "Request timeout after 0.1 seconds",
    });
  });

  it("runs queued work by priority, highest first, FIFO within a priority", async () => {
    const order: string[] = [];
    let releaseFirst!: () => void;
    const gate = new Promise<void>((r) => {
      releaseFirst = r;
    });
    const Job = (name: string) =>
      defineSynapse({ name, request: z.object({ id: z.string() }), response: z.object({ id: z.string() }) });
    const Low = Job("Low");
    const High = Job("High");
    const axon = new Axon({ hotkey: alice, port: 0, maxConcurrency: 1 });
    const handler = async (req: { id: string }) => {
      if (req.id === "blocker") await gate;
      order.push(req.id);
      return { id: req.id };
    };
    axon.attach(Low, handler, { priority: 1 }).attach(High, handler, { priority: 10 });
    await axon.start();
    axons.push(axon);
    const d = new Dendrite({ hotkey: bob });
    const t = targetOf(axon);
    const blocker = d.query(t, Low, { id: "blocker" });
    await new Promise((r) => setTimeout(r, 100));
    const low1 = d.query(t, Low, { id: "low1" });
    await new Promise((r) => setTimeout(r, 50));
    const low2 = d.query(t, Low, { id: "low2" });
    await new Promise((r) => setTimeout(r, 50));
    const high = d.query(t, High, { id: "high" });
    await new Promise((r) => setTimeout(r, 100));
    releaseFirst();
    const results = await Promise.all([blocker, low1, low2, high]);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(order).toEqual(["blocker", "high", "low1", "low2"]);
  });

  it("stop() drains requests in flight, then refuses connections", async () => {
    const axon = await startAxon();
    const d = new Dendrite({ hotkey: bob });
    const t = targetOf(axon);
    const inflight = d.query(t, Slow, { ms: 300, tag: "drained" });
    await new Promise((r) => setTimeout(r, 100));
    await axon.stop();
    expect(await inflight).toMatchObject({ ok: true, response: { tag: "drained" } });
    expect(await d.query(t, Echo, { text: "x", times: 1 })).toMatchObject({
      ok: false,
      status: 503,
      kind: "unreachable",
    });
  });

  it("queryMany keeps target order and reports each failure", async () => {
    const a1 = await startAxon();
    const a2 = await startAxon({ hotkey: bob });
    const dead = await startAxon();
    const deadTarget = targetOf(dead);
    await dead.stop();
    const d = new Dendrite({ hotkey: eve });
    const results = await d.queryMany(
      [targetOf(a1), deadTarget, targetOf(a2)],
      Echo,
      { text: "m", times: 1 },
      { timeoutMs: 2000 },
    );
    expect(results.map((r) => (r.ok ? "ok" : r.kind))).toEqual(["ok", "unreachable", "ok"]);
  });

  it("a 200 with a body that does not match the response schema → invalid_response", async () => {
    const fake = Fastify();
    fake.post("/Echo", async () => ({ echoed: 1 }));
    await fake.listen({ host: "127.0.0.1", port: 0 });
    try {
      const port = (fake.server.address() as { port: number }).port;
      const r = await new Dendrite({ hotkey: bob }).query(
        { ip: "127.0.0.1", port, hotkey: alice.address },
        Echo,
        { text: "x", times: 1 },
      );
      expect(r).toMatchObject({ ok: false, status: 422, kind: "invalid_response" });
    } finally {
      await fake.close();
    }
  });

  it("refuses attach after start and duplicate synapses", async () => {
    const axon = new Axon({ hotkey: alice, port: 0 });
    axon.attach(Echo, async () => ({ echoed: "", caller: "" }));
    expect(() => axon.attach(Echo, async () => ({ echoed: "", caller: "" }))).toThrow(/already attached/);
    await axon.start();
    axons.push(axon);
    expect(() => axon.attach(Slow, async () => ({ tag: "" }))).toThrow(/after the axon started/);
  });
});

describe("metrics", () => {
  it("counts answers by synapse and status in the given registry", async () => {
    const { Registry } = await import("prom-client");
    const registry = new Registry();
    const axon = await startAxon({ registry });
    const d = new Dendrite({ hotkey: bob });
    await d.query(targetOf(axon), Echo, { text: "x", times: 1 });
    await d.query(targetOf(axon), Echo, { text: "refuse", times: 1 });
    const text = await registry.metrics();
    expect(text).toMatch(/cmesh_axon_requests_total\{synapse="Echo",status="200"\} 1/);
    expect(text).toMatch(/cmesh_axon_requests_total\{synapse="Echo",status="409"\} 1/);
    expect(text).toMatch(/cmesh_axon_queued 0/);
  });
});
