import { randomBytes } from "node:crypto";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RentalService } from "../../packages/api/src/rentals.ts";
import { type Harness, sampleSshPublicKey, startHarness } from "../../packages/api/src/testing/harness.ts";
import {
  InMemoryMarketDouble,
  sampleMachines,
} from "../../packages/api/src/testing/in-memory-market-double.ts";

const baseUrl = process.env.CMESH_TEST_POSTGRES_URL;
if (!baseUrl)
  console.warn("api-postgres: CMESH_TEST_POSTGRES_URL is not set; the PostgreSQL run of the API is SKIPPED");

describe.skipIf(!baseUrl)("renter API on PostgreSQL", () => {
  const dbName = `cmesh_api_test_${randomBytes(4).toString("hex")}`;
  let h: Harness;
  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: baseUrl });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    const url = new URL(baseUrl as string);
    url.pathname = `/${dbName}`;
    const machines = sampleMachines(5);
    machines[0] = { ...machines[0], pricePerGpuHour: 2.5, gpuCount: 2, verified: true };
    h = await startHarness({
      db: url.toString(),
      backend: new InMemoryMarketDouble(machines, { rentDelayMs: 20 }),
    });
  });
  afterAll(async () => {
    await h?.close();
    const admin = new pg.Client({ connectionString: baseUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  });

  it("50 concurrent rents of one machine: exactly one wins", async () => {
    const m = h.backend.machines[0];
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        h.call("POST", "/v1/rentals", {
          key: h.alice,
          body: { minerHotkey: m.minerHotkey, sshPublicKey: sampleSshPublicKey() },
        }),
      ),
    );
    expect(results.filter((r) => r.status === 201).length).toBe(1);
    expect(results.filter((r) => r.status === 409).length).toBe(49);
  });

  it("meters exactly to the second and the balance is the ledger's sum", async () => {
    const live = await h.call("GET", "/v1/rentals?state=live", { key: h.alice });
    const rental = live.body.rentals[0];
    h.clock.advance(1_234_567);
    await h.api.meterTick();
    h.clock.advance(1_000);
    const rel = await h.call("POST", `/v1/rentals/${rental.id}/release`, { key: h.alice, body: {} });
    expect(rel.body.meteredSeconds).toBe(1235);
    expect(rel.body.chargedMicro).toBe(Math.floor((5_000_000 * 1235) / 3600));
    const acc = await h.call("GET", "/v1/account", { key: h.alice });
    const ledger = await h.call("GET", "/v1/account/ledger", { key: h.alice });
    const sum = ledger.body.entries.reduce((s: number, e: { amountMicro: number }) => s + e.amountMicro, 0);
    expect(acc.body.balanceMicro).toBe(sum);
    expect(acc.body.balanceMicro).toBe(100_000_000 - rel.body.chargedMicro);
  });

  it("two API processes metering the same rental at once charge each second once", async () => {
    // A second RentalService on the same database: what a second API replica runs (its own in-process locks).
    const replica = new RentalService(h.api.db, h.backend, h.clock, h.api.webhooks, pino({ level: "silent" }));
    try {
      const m = h.backend.machines[1];
      const r = await h.call("POST", "/v1/rentals", {
        key: h.bob,
        body: { minerHotkey: m.minerHotkey, sshPublicKey: sampleSshPublicKey() },
      });
      expect(r.status).toBe(201);
      for (let round = 1; round <= 5; round++) {
        h.clock.advance(60_000);
        await Promise.all([h.api.meterTick(), replica.tick(), h.api.meterTick(), replica.tick()]);
      }
      const rental = (await h.call("GET", `/v1/rentals/${r.body.id}`, { key: h.bob })).body;
      expect(rental.meteredSeconds).toBe(300);
      expect(rental.chargedMicro).toBe(Math.floor((rental.rateMicroPerHour * 300) / 3600));
      const ledger = (await h.call("GET", "/v1/account/ledger", { key: h.bob })).body.entries as {
        amountMicro: number;
        rentalId: string | null;
      }[];
      const charged = ledger.filter((e) => e.rentalId === r.body.id).reduce((x, e) => x - e.amountMicro, 0);
      expect(charged).toBe(rental.chargedMicro);
      const acc = (await h.call("GET", "/v1/account", { key: h.bob })).body;
      expect(acc.balanceMicro).toBe(ledger.reduce((x, e) => x + e.amountMicro, 0));
    } finally {
      replica.close();
    }
  });

  it("idempotency keys replay on PostgreSQL too", async () => {
    const body = { label: "pg" };
    const headers = { "idempotency-key": "pg-key-1" };
    const a = await h.call("POST", "/v1/account/keys", { key: h.bob, body, headers });
    const b = await h.call("POST", "/v1/account/keys", { key: h.bob, body, headers });
    expect(b.body).toEqual(a.body);
    expect(b.headers.get("idempotent-replayed")).toBe("true");
  });
});
