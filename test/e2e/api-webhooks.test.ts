// Webhook deliveries go through an outbox in the API's database: a receiver that is down gets the event later, with
// backoff, even across a restart of the API; deliveries give up after the retries and say why; a deleted webhook
// gets nothing more.
import { createServer, type Server } from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createAccount, startApiServer, verifyWebhook } from "../../packages/api/src/index.ts";
import { callApi, sampleSshPublicKey } from "../../packages/api/src/testing/harness.ts";
import {
  InMemoryMarketDouble,
  sampleMachines,
} from "../../packages/api/src/testing/in-memory-market-double.ts";
import { until } from "./chaos-helpers/processes.ts";

interface Receiver {
  server: Server;
  url: string;
  /** Status the receiver answers with; 200 records the delivery. */
  status: number;
  received: { body: string; sig: string | undefined }[];
  calls: number;
}

async function receiver(): Promise<Receiver> {
  const r = { status: 200, received: [], calls: 0 } as unknown as Receiver;
  r.server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      r.calls++;
      if (r.status === 200) r.received.push({ body, sig: req.headers["cmesh-signature"] as string | undefined });
      res.statusCode = r.status;
      res.end();
    });
  });
  await new Promise<void>((ok) => r.server.listen(0, "127.0.0.1", ok));
  r.url = `http://127.0.0.1:${(r.server.address() as { port: number }).port}/hook`;
  return r;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe("webhook outbox", () => {
  it("a delivery refused while the receiver is down arrives after the API restarts, signed, exactly once", async () => {
    const sink = await receiver();
    closers.push(() => new Promise((ok) => sink.server.close(() => ok())));
    const db = join(mkdtempSync(join(tmpdir(), "cmesh-webhooks-")), "api.sqlite");
    const backend = new InMemoryMarketDouble(sampleMachines(3));
    const start = () =>
      startApiServer({
        backend,
        db,
        logger: pino({ level: "silent" }),
        meterIntervalMs: 0,
        rateLimit: false,
        web: false,
        webhooks: { retries: 5, backoffMs: 300, pollMs: 100 },
      });

    let api = await start();
    const { apiKey } = await createAccount(api.db, { name: "dora", initialCredits: 10 });
    const call = (method: string, path: string, body?: unknown) => callApi(api.url, apiKey, method, path, body);
    const hook = await call("POST", "/v1/webhooks", { url: sink.url, events: ["rental.started"] });
    expect(hook.status).toBe(201);

    sink.status = 503; // the receiver is down
    const m = backend.machines.find((x) => x.verified)!;
    const rent = await call("POST", "/v1/rentals", { minerHotkey: m.minerHotkey, sshPublicKey: sampleSshPublicKey() });
    expect(rent.status).toBe(201);
    await until("the first attempt was refused", () => sink.calls >= 1, 10_000);
    await api.close(); // the API stops with the delivery still owed

    sink.status = 200; // the receiver is back
    api = await start();
    closers.push(() => api.close());
    await until("the delivery arrives after the restart", () => sink.received.length >= 1, 15_000);
    await new Promise((r) => setTimeout(r, 800)); // a second delivery would come within a few polls
    expect(sink.received).toHaveLength(1);
    const event = JSON.parse(sink.received[0].body);
    expect(event).toMatchObject({ type: "rental.started", data: { rentalId: rent.body.id } });
    const t = Number(/t=(\d+)/.exec(sink.received[0].sig ?? "")?.[1]);
    expect(verifyWebhook(hook.body.secret, sink.received[0].body, sink.received[0].sig, { nowSec: t })).toBe(true);
    const row = await api.db.selectFrom("api_webhook_deliveries").selectAll().executeTakeFirstOrThrow();
    expect(row.attempts).toBeGreaterThanOrEqual(2);
    expect(row.delivered_at).not.toBeNull();
    expect(row.last_error).toBeNull();
  }, 60_000);

  it("gives up after the retries with the reason, and a deleted webhook gets nothing more", async () => {
    const sink = await receiver();
    closers.push(() => new Promise((ok) => sink.server.close(() => ok())));
    const backend = new InMemoryMarketDouble(sampleMachines(3));
    const api = await startApiServer({
      backend,
      db: ":memory:",
      logger: pino({ level: "silent" }),
      meterIntervalMs: 0,
      rateLimit: false,
      web: false,
      webhooks: { retries: 2, backoffMs: 50, pollMs: 20 },
    });
    closers.push(() => api.close());
    const { apiKey } = await createAccount(api.db, { name: "eve", initialCredits: 10 });
    const call = (method: string, path: string, body?: unknown) => callApi(api.url, apiKey, method, path, body);
    const hook = await call("POST", "/v1/webhooks", { url: sink.url });
    sink.status = 500;
    const [a, b] = backend.machines.filter((x) => x.verified);
    const r1 = await call("POST", "/v1/rentals", { minerHotkey: a.minerHotkey, sshPublicKey: sampleSshPublicKey() });
    expect(r1.status).toBe(201);
    const failed = await until(
      "the delivery is given up",
      async () =>
        (await api.db.selectFrom("api_webhook_deliveries").selectAll().where("failed_at", "is not", null).execute())[0],
      10_000,
    );
    expect(failed.attempts).toBe(3); // the first try and 2 retries
    expect(failed.last_error).toBe("the receiver answered 500");
    expect(sink.calls).toBe(3);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toContain('cmesh_api_webhook_attempts_total{result="retry"} 2');
    expect(metrics).toContain('cmesh_api_webhook_attempts_total{result="failed"} 1');

    // Deleted: no event is sent to it any more.
    expect((await call("DELETE", `/v1/webhooks/${hook.body.id}`)).status).toBe(200);
    sink.status = 200;
    const r2 = await call("POST", "/v1/rentals", { minerHotkey: b.minerHotkey, sshPublicKey: sampleSshPublicKey() });
    expect(r2.status).toBe(201);
    await api.webhooks.idle();
    await new Promise((r) => setTimeout(r, 200));
    expect(sink.received).toEqual([]);
  }, 60_000);
});
