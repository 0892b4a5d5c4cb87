// The block-driven loop and allocation health: blocks from the LocalChain drive epochs by themselves (scores and
// weights without a manual call); a rental whose container dies is detected on the short health interval, ended
// as lost with the reason, the renter is told (event), and the end gets a countersigned receipt; a rental whose
// miner vanishes entirely is ended too, its end receipt waiting until the miner answers again.
import { join } from "node:path";
import { type AllocationEvent, Validator } from "@computemesh/validator";
import { afterAll, describe, expect, it } from "vitest";
import { storeBackends } from "../../packages/validator/src/store/test-backends.ts";
import { register, startTestMiner, type TestMiner, testNet, testValidatorConfig } from "./validator-harness.ts";
import { until } from "./chaos-helpers/processes.ts";

const backends = await storeBackends();
afterAll(async () => {
  for (const b of backends) await b.cleanup();
});

describe.each(backends)("validator loop and allocation health on $name", (backend) => {
  it("runs epochs from blocks and ends dead rentals within the health interval, saying why", async () => {
    const net = await testNet();
    const miners: TestMiner[] = [];
    let v: Validator | undefined;
    try {
      const keys = await register(net, "H-V", 1000n);
      const a = await startTestMiner(net, "H-a", { model: "NVIDIA GeForce RTX 4090", count: 1 });
      const b = await startTestMiner(net, "H-b", { model: "NVIDIA H100 80GB HBM3", count: 2 });
      miners.push(a, b);
      await net.chain.advanceBlocks(11);
      // A fresh store of this backend (its own PostgreSQL schema), handed to the validator by location.
      const fresh = await backend.open(join(net.dir, "v.db"));
      await fresh.store.close();
      v = await Validator.start(
        testValidatorConfig(net, keys.hotkey, { db: fresh.location, pgSchema: fresh.options.pgSchema }),
      );
      const validator = v;
      // Blocks alone drive the epoch: both machines get proven and weights land on chain.
      await net.chain.advanceBlocks(1);
      await until("both machines verified", async () => {
        const ms = await validator.listMachines();
        return ms.length === 2 && ms.every((m) => m.verified);
      });
      await until(
        "weights set by the loop",
        async () => (await validator.store.weightSets({ status: "ok" })).length > 0,
      );

      const events: AllocationEvent[] = [];
      validator.onAllocationEvent((e) => events.push(e));
      const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB renter@test";
      const ra = await validator.rent({ minerHotkey: a.hotkey.address, sshPublicKey: key, durationSec: 600 });
      const rb = await validator.rent({ minerHotkey: b.hotkey.address, sshPublicKey: key, durationSec: 600 });

      // a's container dies; b's whole miner goes away.
      a.rentals.containersDead = true;
      await b.stop();
      const lostA = await until("a's rental lost", async () =>
        events.find((e) => e.allocationId === ra.allocationId && e.kind === "lost"),
      );
      expect(lostA.reason).toMatch(
        /health check failed 2 times in a row: the miner no longer knows this allocation/,
      );
      const lostB = await until("b's rental lost", async () =>
        events.find((e) => e.allocationId === rb.allocationId && e.kind === "lost"),
      );
      expect(lostB.reason).toMatch(/the miner did not answer/);
      expect(await validator.allocation(ra.allocationId)).toMatchObject({
        state: "lost",
        endReason: lostA.reason,
      });

      const receiptsA = await validator.store.receiptsForAllocation(ra.allocationId);
      expect(receiptsA.map((r) => [r.kind, r.miner_signature !== ""])).toEqual([
        ["allocation_started", true],
        ["allocation_ended", true],
      ]);
      expect(JSON.parse(receiptsA[1]?.payload_json ?? "{}")).toMatchObject({ outcome: "lost" });
      // b's end receipt cannot be countersigned while b is gone: it is kept, not dropped.
      const receiptsB = await validator.store.receiptsForAllocation(rb.allocationId);
      expect(receiptsB.map((r) => [r.kind, r.miner_signature !== ""])).toEqual([
        ["allocation_started", true],
        ["allocation_ended", false],
      ]);
      expect((await validator.store.pendingOwnReceipts()).map((r) => r.allocation_id)).toEqual([
        rb.allocationId,
      ]);

      const url = validator.metricsUrl as string;
      const text = await (await fetch(`${url}/metrics`)).text();
      expect(text).toMatch(/cmesh_validator_allocations_ended_total\{outcome="lost"\} 2/);
      expect(text).toMatch(/cmesh_validator_health_checks_total\{result="failed"\} [4-9]/);
      const status = (await (await fetch(`${url}/status`)).json()) as {
        miners: { hotkey: string; verified: boolean }[];
      };
      const onChain = net.chain.metagraph(net.netuid).neurons.map((n) => n.hotkey);
      expect(status.miners.map((m) => m.hotkey).sort()).toEqual(onChain.sort());
      expect(onChain).toEqual(
        expect.arrayContaining([a.hotkey.address, b.hotkey.address, keys.hotkey.address]),
      );
      expect((await fetch(`${url}/nope`)).status).toBe(404);
    } finally {
      await v?.stop();
      for (const m of miners) await m.stop();
      await net.cleanup();
    }
  }, 60_000);
});
