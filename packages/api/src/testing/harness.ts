import { generateKeyPairSync } from "node:crypto";
import pino from "pino";
import { createAccount } from "../accounts.ts";
import { ManualClock } from "../clock.ts";
import { type ApiServer, type ApiServerOptions, startApiServer } from "../server.ts";
import { InMemoryMarketDouble, sampleMachines } from "./in-memory-market-double.ts";

/** An OpenSSH-format ed25519 public key line (valid shape for the API; tests never log in with it). */
export function sampleSshPublicKey(comment = "renter@test"): string {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const type = Buffer.from("ssh-ed25519");
  const blob = Buffer.concat([u32(type.length), type, u32(raw.length), raw]);
  return `ssh-ed25519 ${blob.toString("base64")} ${comment}`;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** One request to a renter API with a bearer key and an optional JSON body; the answer's JSON (null if none). */
export async function callApi(
  url: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the route answers
): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

export interface Harness {
  api: ApiServer;
  backend: InMemoryMarketDouble;
  clock: ManualClock;
  alice: string;
  bob: string;
  call(
    method: string,
    path: string,
    opts?: { key?: string; body?: unknown; raw?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/** Starts the API over the in-memory market double with two funded renters and a manual clock. */
export async function startHarness(
  opts: Partial<ApiServerOptions> & { machines?: number; backend?: InMemoryMarketDouble } = {},
): Promise<Harness> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  const backend = opts.backend ?? new InMemoryMarketDouble(sampleMachines(opts.machines ?? 20, clock.now()));
  const api = await startApiServer({
    db: ":memory:",
    logger: pino({ level: process.env.CMESH_TEST_LOG ?? "silent" }),
    meterIntervalMs: 0,
    rateLimit: false,
    web: false,
    clock,
    ...opts,
    backend,
  });
  const alice = (await createAccount(api.db, { name: "alice", initialCredits: 100 })).apiKey;
  const bob = (await createAccount(api.db, { name: "bob", initialCredits: 100 })).apiKey;
  return {
    api,
    backend,
    clock,
    alice,
    bob,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.key) headers.authorization = `Bearer ${o.key}`;
      let body: string | undefined;
      if (o.raw !== undefined) {
        body = o.raw;
        headers["content-type"] ??= "application/json";
      } else if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers["content-type"] = "application/json";
      }
      const res = await fetch(api.url + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    close: () => api.close(),
  };
}
