// Property tests: malformed headers and bodies thrown at a real axon on loopback never crash it and never get 200.
import { connect } from "node:net";
import {
  Axon,
  type AxonTarget,
  cryptoReady,
  Dendrite,
  defineSynapse,
  type KeyringPair,
  keypairFromUri,
} from "@computemesh/protocol";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const Echo = defineSynapse({
  name: "Echo",
  request: z.object({ text: z.string(), n: z.int() }),
  response: z.object({ text: z.string() }),
  timeoutSec: 5,
  maxBodyBytes: 64 * 1024,
});

let axon: Axon;
let target: AxonTarget;
let dendrite: Dendrite;
let bob: KeyringPair;
let handled = 0;

beforeAll(async () => {
  await cryptoReady();
  bob = keypairFromUri("//Bob");
  axon = new Axon({ hotkey: keypairFromUri("//Alice"), port: 0, maxBodyBytes: 64 * 1024 });
  axon.attach(Echo, async (req) => {
    handled++;
    return { text: req.text };
  });
  await axon.start();
  target = { ip: "127.0.0.1", port: axon.port, hotkey: axon.hotkey };
  dendrite = new Dendrite({ hotkey: bob });
});
afterAll(() => axon.stop());

const HEADER_NAMES = [
  "name",
  "timeout",
  "header_size",
  "total_size",
  "computed_body_hash",
  "content-type",
  "bt_header_axon_ip",
  "bt_header_axon_port",
  "bt_header_axon_hotkey",
  "bt_header_axon_nonce",
  "bt_header_axon_version",
  "bt_header_axon_process_time",
  "bt_header_dendrite_ip",
  "bt_header_dendrite_port",
  "bt_header_dendrite_version",
  "bt_header_dendrite_nonce",
  "bt_header_dendrite_uuid",
  "bt_header_dendrite_hotkey",
  "bt_header_dendrite_signature",
  "bt_header_dendrite_status_code",
  "bt_header_input_obj_text",
];
const SECURITY_HEADERS = [
  "bt_header_dendrite_nonce",
  "bt_header_dendrite_uuid",
  "bt_header_dendrite_hotkey",
  "bt_header_dendrite_signature",
  "computed_body_hash",
];

/** Printable ASCII (what fetch lets through as a header value), plus typical near-miss values. */
const headerValue = fc.oneof(
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: 200,
  }),
  fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map(String),
  fc.constantFrom(
    "",
    "0",
    "-1",
    "1e309",
    "NaN",
    "0x",
    `0x${"ab".repeat(64)}`,
    "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
  ),
);
const body = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.json(),
  fc.constantFrom("", "{}", "[]", "null", '{"text":null}', '{"text":"x","n":"1"}', "{".repeat(5000)),
);
const path = fc.oneof(
  fc.constantFrom("/Echo", "/", "/Nope", "/Echo/extra", "/echo", "//Echo", "/Echo?x=1"),
  fc.webPath(),
);

async function send(url: string, headers: Record<string, string>, payload: string): Promise<number> {
  const res = await fetch(url, { method: "POST", headers, body: payload });
  await res.arrayBuffer();
  return res.status;
}

async function stillServes(): Promise<void> {
  const r = await dendrite.query(target, Echo, { text: "alive", n: 1 });
  expect(r).toMatchObject({ ok: true, response: { text: "alive" } });
}

describe("axon under malformed input", () => {
  it("random paths, headers and bodies never get 200", async () => {
    const before = handled;
    await fc.assert(
      fc.asyncProperty(
        path,
        fc.dictionary(fc.constantFrom(...HEADER_NAMES), headerValue, { maxKeys: 12 }),
        body,
        async (p, headers, payload) => {
          const url = `http://127.0.0.1:${target.port}${p.startsWith("/") ? p : `/${p}`}`;
          const status = await send(url, headers, payload);
          expect(status).toBeGreaterThanOrEqual(400);
          expect(status).toBeLessThan(600);
        },
      ),
      { numRuns: 200 },
    );
    expect(handled).toBe(before);
    await stillServes();
  });

  it("a valid request with a security header changed, removed, or its body replaced never gets 200", async () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant("set" as const),
        header: fc.constantFrom(...SECURITY_HEADERS),
        value: headerValue,
      }),
      fc.record({ kind: fc.constant("drop" as const), header: fc.constantFrom(...SECURITY_HEADERS) }),
      fc.record({ kind: fc.constant("body" as const), payload: body }),
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    );
    const before = handled;
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 50 }), fc.integer(), mutation, async (text, n, m) => {
        const p = dendrite.prepare(target, Echo, { text, n }, 5);
        const headers = { ...p.headers };
        let payload = p.body;
        if (m.kind === "set") {
          if (headers[m.header] === m.value) return;
          headers[m.header] = m.value;
        } else if (m.kind === "drop") {
          delete headers[m.header];
        } else if (m.kind === "body") {
          if (sameRequest(m.payload, { text, n })) return;
          payload = m.payload;
        } else {
          payload = p.body.slice(0, m.at % p.body.length);
        }
        const status = await send(p.url, headers, payload);
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(600);
      }),
      { numRuns: 200 },
    );
    expect(handled).toBe(before);
    await stillServes();
  });

  it("raw garbage on the socket does not take the axon down", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 2000 }), async (bytes) => {
        await new Promise<void>((resolve) => {
          const socket = connect(target.port, "127.0.0.1", () => socket.end(Buffer.from(bytes)));
          socket.on("data", () => {});
          socket.on("error", () => resolve());
          socket.on("close", () => resolve());
          socket.setTimeout(2000, () => socket.destroy());
        });
      }),
      { numRuns: 50 },
    );
    await stillServes();
  });
});

function sameRequest(payload: string, req: { text: string; n: number }): boolean {
  try {
    const v = JSON.parse(payload) as Record<string, unknown>;
    return v !== null && typeof v === "object" && v.text === req.text && v.n === req.n;
  } catch {
    return false;
  }
}
