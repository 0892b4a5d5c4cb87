// Chaos between validator and miner on loopback: clock skew (a dendrite whose clock is behind by more than the
// allowed delta is refused, within it accepted; ahead is accepted as the Bittensor axon does, but only once) and
// a miner whose axon STALLS (accepts TCP, never answers): the validator marks the rental unhealthy in the first
// health round after the stall, keeps checking the other miner on schedule, ends the stalled rental as lost, and
// an epoch still completes. No timing thresholds: rounds are counted through the validator's own metrics.
import { createServer, type Server, type Socket } from "node:net";
import {
  ALLOWED_DELTA_NS,
  type AxonTarget,
  Dendrite,
  type KeyringPair,
  requestSigningMessage,
  Specs,
  signText,
} from "@computemesh/protocol";
import { type AllocationEvent, Validator } from "@computemesh/validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "./chaos-helpers/processes.ts";
import { postRaw } from "./chaos-helpers/signed-raw.ts";
import {
  register,
  startTestMiner,
  type TestMiner,
  type TestNet,
  testNet,
  testValidatorConfig,
} from "./validator-harness.ts";

const SEC = 1_000_000_000n;

/** A Specs request signed as `pair` by a dendrite whose clock is `skewNs` off. */
function skewedSpecs(pair: KeyringPair, target: AxonTarget, skewNs: bigint) {
  const p = new Dendrite({ hotkey: pair }).prepare(target, Specs, {}, Specs.timeoutSec);
  const nonce = BigInt(p.headers.bt_header_dendrite_nonce) + skewNs;
  const headers: Record<string, string> = { ...p.headers, bt_header_dendrite_nonce: String(nonce) };
  headers.bt_header_dendrite_signature = signText(
    pair,
    requestSigningMessage(nonce, pair.address, target.hotkey, p.headers.bt_header_dendrite_uuid, p.bodyHash),
  );
  return { headers, body: p.body };
}

describe("clock skew between validator and miner", () => {
  let net: TestNet;
  let miner: TestMiner;
  let caller: KeyringPair;
  let target: AxonTarget;
  beforeAll(async () => {
    net = await testNet();
    caller = (await register(net, "Skew-V", 10n)).hotkey;
    miner = await startTestMiner(net, "Skew-m", { model: "NVIDIA GeForce RTX 4090", count: 1 });
    target = { ip: "127.0.0.1", port: miner.axon.port, hotkey: miner.hotkey.address };
  });
  afterAll(async () => {
    await miner?.stop();
    await net?.cleanup();
  });

  const allowed = ALLOWED_DELTA_NS + BigInt(Specs.timeoutSec) * SEC;

  it("behind by more than the allowed delta (4 s + the synapse timeout): refused with the reason", async () => {
    for (const skew of [-(allowed + SEC), -(allowed + 3600n * SEC)]) {
      const r = skewedSpecs(caller, target, skew);
      const res = await postRaw(target.port, "/Specs", r.headers, r.body);
      expect(res.status).toBe(401);
      expect(res.text).toMatch(/Nonce is too old: acceptable delta is/);
    }
  });

  it("behind by less than the allowed delta: accepted", async () => {
    for (const skew of [-2n * SEC, -(allowed - 3n * SEC), 0n]) {
      const r = skewedSpecs(caller, target, skew);
      const res = await postRaw(target.port, "/Specs", r.headers, r.body);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text).specs.gpu.count).toBe(1);
    }
  });

  it("ahead (as the Bittensor axon allows): accepted once, and its replay is refused", async () => {
    const r = skewedSpecs(caller, target, 3600n * SEC);
    expect((await postRaw(target.port, "/Specs", r.headers, r.body)).status).toBe(200);
    const replay = await postRaw(target.port, "/Specs", r.headers, r.body);
    expect(replay.status).toBe(401);
    expect(replay.text).toMatch(/Nonce is too old, a newer one was last processed/);
  });
});

describe("a miner whose axon stalls", () => {
  it("is marked unhealthy in the first health round after the stall, without holding up the loop", async () => {
    const net = await testNet();
    const miners: TestMiner[] = [];
    let v: Validator | undefined;
    let blackHole: Server | undefined;
    const held: Socket[] = [];
    try {
      const keys = await register(net, "Stall-V", 1000n);
      const a = await startTestMiner(net, "Stall-a", { model: "NVIDIA GeForce RTX 4090", count: 1 });
      const b = await startTestMiner(net, "Stall-b", { model: "NVIDIA H100 80GB HBM3", count: 1 });
      miners.push(a, b);
      await net.chain.advanceBlocks(11);
      v = await Validator.start(testValidatorConfig(net, keys.hotkey, { health: { intervalMs: 200, timeoutMs: 1000, maxFailures: 3 }, specsTimeoutMs: 1000 }));
      const validator = v;
      await net.chain.advanceBlocks(1);
      await until("both machines verified", async () => {
        const ms = await validator.listMachines();
        return ms.length === 2 && ms.every((m) => m.verified);
      });
      const events: AllocationEvent[] = [];
      validator.onAllocationEvent((e) => events.push(e));
      const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB renter@test";
      const ra = await validator.rent({ minerHotkey: a.hotkey.address, sshPublicKey: key, durationSec: 600 });
      const rb = await validator.rent({ minerHotkey: b.hotkey.address, sshPublicKey: key, durationSec: 600 });

      const counters = async () => {
        const text = await (await fetch(`${validator.metricsUrl}/metrics`)).text();
        const read = (r: string) =>
          Number(
            new RegExp(`cmesh_validator_health_checks_total\\{result="${r}"\\} (\\d+)`).exec(text)?.[1] ?? 0,
          );
        return { ok: read("ok"), failed: read("failed") };
      };
      await until("a few healthy rounds", async () => (await counters()).ok >= 4);

      // a's axon now stalls: same port, the TCP connection is accepted and never answered.
      const port = a.axon.port;
      await a.stop();
      blackHole = createServer((s) => {
        held.push(s);
        s.on("error", () => {});
      });
      await new Promise<void>((r) => blackHole!.listen(port, "127.0.0.1", r));
      const before = await counters();

      // The first failed check comes at most one round after the stall: b is checked ok in at most the round
      // that was in flight at the stall and the round that marks a failed.
      const firstFail = await until("a marked failed", async () => {
        const c = await counters();
        return c.failed > before.failed ? c : undefined;
      });
      expect(firstFail.ok - before.ok).toBeLessThanOrEqual(2);
      expect(held.length).toBeGreaterThan(0);

      const lost = await until("a's rental lost", async () =>
        events.find((e) => e.allocationId === ra.allocationId && e.kind === "lost"),
      );
      expect(lost.reason).toMatch(/health check failed 3 times in a row: the miner did not answer \(timeout/);
      // b was checked on every round meanwhile and is still active.
      const after = await counters();
      expect(after.ok - before.ok).toBeGreaterThanOrEqual(3);
      expect((await validator.allocation(rb.allocationId))?.state).toBe("active");
      expect(events.some((e) => e.allocationId === rb.allocationId && e.kind === "lost")).toBe(false);

      // An epoch with the stalled miner in it completes: its Specs query times out, b's answers.
      await net.chain.advanceBlocks(2);
      const report = await validator.runEpoch();
      expect(report, JSON.stringify(report)).toMatchObject({ scored: true });
      expect(report.specsFailed).toBeGreaterThanOrEqual(1);
      expect(report.specsOk).toBeGreaterThanOrEqual(1);
    } finally {
      for (const s of held) s.destroy();
      blackHole?.close();
      await v?.stop();
      for (const m of miners) await m.stop();
      await net.cleanup();
    }
  }, 90_000);
});
