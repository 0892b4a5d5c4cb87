import { createServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { balanceMicro, createAccount, verifyWebhook } from "../../packages/api/src/index.ts";
import { type Harness, sampleSshPublicKey, startHarness } from "../../packages/api/src/testing/harness.ts";
import {
  InMemoryMarketDouble,
  sampleMachines,
} from "../../packages/api/src/testing/in-memory-market-double.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});
const key = sampleSshPublicKey();

/** Machine with a known price: 2.5 credits per GPU-hour × 2 GPUs = 5,000,000 µcr per hour. */
function pricedBackend() {
  const machines = sampleMachines(3);
  machines[0] = { ...machines[0], pricePerGpuHour: 2.5, gpuCount: 2, verified: true };
  return new InMemoryMarketDouble(machines);
}

async function ledgerSum(harness: Harness, apiKey: string) {
  const l = await harness.call("GET", "/v1/account/ledger?limit=1000", { key: apiKey });
  return l.body.entries.reduce((s: number, e: { amountMicro: number }) => s + e.amountMicro, 0);
}

describe("per-second metering", () => {
  it("charges exactly the whole seconds from SSH-ready to release, whatever the tick pattern", async () => {
    h = await startHarness({ backend: pricedBackend() });
    const m = h.backend.machines[0];
    const r = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { minerHotkey: m.minerHotkey, sshPublicKey: key, durationSec: 7200 },
    });
    expect(r.body.rateMicroPerHour).toBe(5_000_000);
    for (const step of [999, 1, 1500, 60_000, 3_662_900]) {
      h.clock.advance(step);
      await h.api.meterTick();
    }
    h.clock.advance(400); // 3,725.4 s in all: 3,725 whole seconds
    const rel = await h.call("POST", `/v1/rentals/${r.body.id}/release`, { key: h.alice, body: {} });
    expect(rel.body.meteredSeconds).toBe(3725);
    expect(rel.body.chargedMicro).toBe(5_173_611); // floor(5,000,000 × 3725 / 3600)
    const account = await h.call("GET", "/v1/account", { key: h.alice });
    expect(account.body.balanceMicro).toBe(100_000_000 - 5_173_611);
    expect(await ledgerSum(h, h.alice)).toBe(account.body.balanceMicro);
  });

  it("warns before zero, releases at zero and never charges below zero", async () => {
    const received: { body: string; sig: string | undefined }[] = [];
    const sink = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ body, sig: req.headers["cmesh-signature"] as string | undefined });
        res.end("ok");
      });
    });
    await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
    const port = (sink.address() as { port: number }).port;
    try {
      h = await startHarness({ backend: pricedBackend(), lowBalanceWarnSec: 600 });
      // carol has 0.5 credits: 360 seconds at 5,000,000 µcr/h.
      const carol = await createAccount(h.api.db, { name: "carol", initialCredits: 0.5 });
      const hook = await h.call("POST", "/v1/webhooks", {
        key: carol.apiKey,
        body: { url: `http://127.0.0.1:${port}/hook` },
      });
      const m = h.backend.machines[0];
      const r = await h.call("POST", "/v1/rentals", {
        key: carol.apiKey,
        body: { minerHotkey: m.minerHotkey, sshPublicKey: key },
      });
      expect(r.status).toBe(201);
      h.clock.advance(10_000);
      await h.api.meterTick();
      const acc = await h.call("GET", "/v1/account", { key: carol.apiKey });
      expect(acc.body.lowBalance).toBe(true);
      expect(acc.body.secondsLeft).toBe(350);
      h.clock.advance(400_000);
      await h.api.meterTick();
      const after = await h.call("GET", `/v1/rentals/${r.body.id}`, { key: carol.apiKey });
      expect(after.body.state).toBe("released");
      expect(after.body.endReason).toBe("balance exhausted");
      expect(after.body.chargedMicro).toBe(500_000);
      expect(
        await balanceMicro(h.api.db, (await h.call("GET", "/v1/account", { key: carol.apiKey })).body.id),
      ).toBe(0);
      h.clock.advance(100_000);
      await h.api.meterTick();
      expect(await ledgerSum(h, carol.apiKey)).toBe(0);
      expect(h.backend.machines[0].allocated).toBe(false);

      await h.api.webhooks.idle();
      const types = received.map((x) => JSON.parse(x.body).type);
      expect(types).toEqual(["rental.started", "rental.low_balance", "rental.released"]);
      const sentAt = (sig: string | undefined) => Number(/t=(\d+)/.exec(sig ?? "")?.[1]);
      for (const d of received) {
        expect(verifyWebhook(hook.body.secret, d.body, d.sig, { nowSec: sentAt(d.sig) + 5 })).toBe(true);
        // A delivery replayed long after it was signed is refused.
        expect(verifyWebhook(hook.body.secret, d.body, d.sig, { nowSec: sentAt(d.sig) + 3600 })).toBe(false);
      }
      const nowSec = sentAt(received[0].sig);
      expect(verifyWebhook("whsec_wrong", received[0].body, received[0].sig, { nowSec })).toBe(false);
      expect(
        verifyWebhook(hook.body.secret, received[0].body.replace("started", "released"), received[0].sig, {
          nowSec,
        }),
      ).toBe(false);
    } finally {
      sink.close();
    }
  });

  it("refuses to rent without a minute of balance (402)", async () => {
    h = await startHarness({ backend: pricedBackend() });
    const poor = await createAccount(h.api.db, { name: "poor" });
    const m = h.backend.machines[0];
    const r = await h.call("POST", "/v1/rentals", {
      key: poor.apiKey,
      body: { minerHotkey: m.minerHotkey, sshPublicKey: key },
    });
    expect(r.status).toBe(402);
    expect(r.body.error.code).toBe("INSUFFICIENT_BALANCE");
    expect(r.body.error.hint).toContain("deposit");
  });

  it("releases at the end of the rented duration and charges only up to it", async () => {
    h = await startHarness({ backend: pricedBackend() });
    const m = h.backend.machines[0];
    const r = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { minerHotkey: m.minerHotkey, sshPublicKey: key, durationSec: 120 },
    });
    h.clock.advance(500_000);
    await h.api.meterTick();
    const after = await h.call("GET", `/v1/rentals/${r.body.id}`, { key: h.alice });
    expect(after.body.state).toBe("released");
    expect(after.body.meteredSeconds).toBe(120);
    expect(after.body.chargedMicro).toBe(Math.floor((5_000_000 * 120) / 3600));
  });
});
