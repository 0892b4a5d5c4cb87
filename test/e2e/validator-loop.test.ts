// The validator loop end to end on a LocalChain with real axons on 127.0.0.1: two validators score the same
// miners and converge to the same weights on chain; the seeds' worked examples (8× H200 → 50, 2× RTX 4090
// allocated → 4.25); a cheating miner ends with weight 0; a miner that goes offline loses its score within one
// epoch; the same runs on SQLite and on PostgreSQL.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import {
  allowSimulatedPog,
  type Commitment,
  gemmInt8,
  leafHash,
  MerkleTree,
  matrixARows,
  matrixB,
  type PogBackend,
  rowBytes,
  SimulatedGpuBackend,
  type VramSpec,
  type WorkloadSpec,
} from "@computemesh/pog";
import { Validator, type ValidatorConfig } from "@computemesh/validator";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { POSTGRES_URL, storeBackends } from "../../packages/validator/src/store/test-backends.ts";
import { register, startTestMiner, type TestMiner, type TestNet, testNet } from "./validator-harness.ts";

/** Commits to rows with every 10th one wrong: a miner that skipped work. */
class SkippingBackend implements PogBackend {
  readonly kind = "simulated-gpu" as const;
  readonly simulated = true;
  async commitGemm(spec: WorkloadSpec): Promise<Commitment> {
    const b = matrixB(spec);
    const rows: Int32Array[] = [];
    for (let k = 0; k < spec.m; k++) {
      const c = gemmInt8(matrixARows(spec, k, 0, spec.n), b, spec.n, spec.n, spec.n);
      for (let r = 0; r < spec.n; r++) {
        const row = c.slice(r * spec.n, (r + 1) * spec.n);
        rows.push((k * spec.n + r) % 10 === 0 ? new Int32Array(row.length) : row);
      }
    }
    const tree = new MerkleTree(rows.map((row, g) => leafHash(g, rowBytes(row))));
    return {
      root: tree.root,
      leafCount: tree.leafCount,
      open: async (indices) =>
        indices.map((g) => ({ index: g, data: rowBytes(rows[g] as Int32Array), path: tree.path(g) })),
      release: () => {},
    };
  }
  commitVram(spec: VramSpec): Promise<Commitment> {
    return new SimulatedGpuBackend().commitVram(spec);
  }
}

const backends = await storeBackends();

afterAll(async () => {
  for (const b of backends) await b.cleanup();
});

async function dropSchema(schema: string) {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}

describe.each(backends.map((b) => b.name))("validator loop on %s", (storeName) => {
  it("two validators converge; seed examples; cheater → 0; offline → 0 within an epoch", async () => {
    const net: TestNet = await testNet();
    const miners: TestMiner[] = [];
    const validators: Validator[] = [];
    const schemas: string[] = [];
    try {
      const v1keys = await register(net, `V1-${storeName}`, 1000n);
      const v2keys = await register(net, `V2-${storeName}`, 1000n);
      const h200 = await startTestMiner(net, `M-h200-${storeName}`, { model: "NVIDIA H200", count: 8 });
      const rtx = await startTestMiner(net, `M-4090-${storeName}`, {
        model: "NVIDIA GeForce RTX 4090",
        count: 2,
      });
      const cheat = await startTestMiner(net, `M-cheat-${storeName}`, {
        model: "NVIDIA H100 80GB HBM3",
        count: 1,
        backend: new SkippingBackend(),
      });
      miners.push(h200, rtx, cheat);
      await net.chain.advanceBlocks(11); // a Yuma epoch grants the two staked validators their permits

      const simulation = allowSimulatedPog({ network: "local", chainEndpoint: "embedded" });
      const config = (hotkey: ValidatorConfig["hotkey"], tag: string): ValidatorConfig => {
        const base = {
          chain: net.chain.client(),
          hotkey,
          netuid: net.netuid,
          network: "local",
          epochBlocks: 2,
          autoRun: false,
          jobs: false,
          pogSimulation: simulation,
          pog: { initialDelayMaxSec: 0, meanIntervalSec: 3600, concurrency: 4 },
          health: { intervalMs: 60_000, maxFailures: 2, timeoutMs: 2000 },
          specsTimeoutMs: 3000,
          weights: { retryBaseMs: 0 },
        };
        if (storeName === "postgres") {
          const pgSchema = `cmesh_e2e_${tag}_${randomBytes(4).toString("hex")}`;
          schemas.push(pgSchema);
          return { ...base, db: POSTGRES_URL, pgSchema };
        }
        return { ...base, db: join(net.dir, `${tag}.db`) };
      };
      const v1 = await Validator.start(config(v1keys.hotkey, "v1"));
      const v2 = await Validator.start(config(v2keys.hotkey, "v2"));
      validators.push(v1, v2);

      // Epoch 1: specs, proofs (all due at once), scores, weights.
      await net.chain.advanceBlocks(2);
      const [r1, r2] = [await v1.runEpoch(), await v2.runEpoch()];
      const score = (r: typeof r1, m: TestMiner) => r.scores.find((s) => s.hotkey === m.hotkey.address);
      expect(r1.proofsRun).toBe(3);
      expect(score(r1, h200)).toMatchObject({
        score: 50,
        reason: "ok",
        provenModel: "NVIDIA H200",
        gpuCount: 8,
      }); // seed example 1
      expect(score(r1, rtx)?.score).toBeCloseTo(2.125, 10);
      expect(score(r1, cheat)).toMatchObject({ score: 0, reason: "proof_failed" });
      expect(r1.weightsStatus).toBe("ok");
      expect(r2.u16).toEqual(r1.u16);

      const mg = net.chain.metagraph(net.netuid, true);
      const uidOf = (addr: string) => mg.neurons.find((n) => n.hotkey === addr)?.uid as number;
      const row = (addr: string) => mg.weights?.[uidOf(addr)] ?? [];
      expect(row(v1keys.hotkey.address)).toEqual(row(v2keys.hotkey.address));
      expect(row(v1keys.hotkey.address)[uidOf(cheat.hotkey.address)]).toBe(0);
      expect(row(v1keys.hotkey.address)[uidOf(h200.hotkey.address)]).toBe(65535);
      const failed = await v1.store.pogResults(cheat.hotkey.address);
      expect(failed[0]?.passed).toBe(0);
      expect(failed[0]?.reason).toMatch(/WRONG|MERKLE/);

      // Rent the 4090 through v1: receipts make both validators see it allocated (seed example 2: 4.25).
      const machines = await v1.listMachines();
      const m4090 = machines.find((m) => m.minerHotkey === rtx.hotkey.address);
      expect(m4090).toMatchObject({
        verified: true,
        gpuModel: "NVIDIA GeForce RTX 4090",
        gpuCount: 2,
        simulated: true,
      });
      expect(machines.find((m) => m.minerHotkey === cheat.hotkey.address)?.verified).toBe(false);
      const events: string[] = [];
      v1.onAllocationEvent((e) => events.push(e.kind));
      const alloc = await v1.rent({
        minerHotkey: rtx.hotkey.address,
        sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB renter@test",
        durationSec: 3600,
      });
      expect(alloc).toMatchObject({
        state: "active",
        ssh: { host: "127.0.0.1", port: 42022, user: "renter" },
      });
      await expect(
        v2.rent({
          minerHotkey: rtx.hotkey.address,
          sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB other",
          durationSec: 60,
        }),
      ).rejects.toMatchObject({ code: "ALLOCATION_CONFLICT" });
      await expect(
        v1.rent({
          minerHotkey: cheat.hotkey.address,
          sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB x",
          durationSec: 60,
        }),
      ).rejects.toMatchObject({ code: "MINER_NOT_VERIFIED" });

      // Epoch 2: h200 goes offline; rtx is allocated on both validators.
      await h200.stop();
      await net.chain.advanceBlocks(2);
      const [s1, s2] = [await v1.runEpoch(), await v2.runEpoch()];
      expect(score(s1, rtx)?.score).toBeCloseTo(4.25, 10);
      expect(score(s1, rtx)?.allocated).toBe(true);
      expect(score(s1, h200)).toMatchObject({ score: 0, reason: "offline" });
      expect(s1.proofsRun).toBe(0); // proofs are not due again yet, and the rented machine is never tested
      expect(s2.u16).toEqual(s1.u16);
      expect(s1.weightsStatus).toBe("ok");
      const mg2 = net.chain.metagraph(net.netuid, true);
      const row2 = (addr: string) => mg2.weights?.[uidOf(addr)] ?? [];
      expect(row2(v1keys.hotkey.address)).toEqual(row2(v2keys.hotkey.address));
      expect(row2(v1keys.hotkey.address)[uidOf(h200.hotkey.address)]).toBe(0);
      expect(row2(v1keys.hotkey.address)[uidOf(rtx.hotkey.address)]).toBe(65535);

      // The API's optional views: a machine's history and the metagraph.
      const hist = await v1.machineHistory(rtx.hotkey.address);
      expect(hist.proofs).toMatchObject([{ passed: true, model: "NVIDIA GeForce RTX 4090" }]);
      expect(hist.scores.map((x) => [x.epoch, x.allocated])).toEqual([
        [s1.epoch, true],
        [r1.epoch, false],
      ]);
      // uptime per score sample, from the specs, proof and health probes up to it (all answered here)
      expect(hist.scores.map((x) => x.reliability)).toEqual([1, 1]);
      const cheatHist = await v1.machineHistory(cheat.hotkey.address);
      expect(cheatHist.proofs[0]).toMatchObject({ passed: false, model: "NVIDIA H100 80GB HBM3" });
      expect(cheatHist.proofs[0]?.reason).toBeTruthy();
      const network = await v1.network();
      expect(network.neurons.map((n) => n.hotkey).sort()).toEqual(mg2.neurons.map((n) => n.hotkey).sort());
      expect(network.history.map((h) => h.epoch)).toEqual([r1.epoch, s1.epoch]);
      expect(network.history.at(-1)?.totalScore).toBeGreaterThan(0);
      // the chain's figures recorded at each of these epochs, every neuron once
      expect(network.chain.map((e) => e.epoch)).toEqual([r1.epoch, s1.epoch]);
      for (const e of network.chain) {
        expect(e.neurons.map((x) => x.uid).sort((a, b) => a - b)).toEqual(
          mg2.neurons.map((x) => x.uid).sort((a, b) => a - b),
        );
      }
      const me = network.neurons.find((n) => n.hotkey === v1keys.hotkey.address);
      expect(me?.validatorPermit).toBe(true);
      expect(me?.stake).toBeGreaterThanOrEqual(1000); // staked 1000 TAO, plus what emission added

      // Release: the ended receipt reaches v2 through the miner.
      const released = await v1.release(alloc.allocationId, "renter is done");
      expect(released).toMatchObject({ state: "released", endReason: "renter is done" });
      expect(events).toEqual(["started", "released"]);
      expect(
        (await v1.store.receiptsForAllocation(alloc.allocationId)).map((r) => [
          r.kind,
          r.miner_signature !== "",
        ]),
      ).toEqual([
        ["allocation_started", true],
        ["allocation_ended", true],
      ]);
      await net.chain.advanceBlocks(2);
      const t2 = await v2.runEpoch();
      expect(score(t2, rtx)).toMatchObject({ allocated: false });
      expect(score(t2, rtx)?.score).toBeCloseTo(2.125, 10);

      const status = await v1.status();
      expect(status.find((r) => r.hotkey === cheat.hotkey.address)).toMatchObject({
        lastProof: "failed",
        verified: false,
      });
      const metrics = await v1.metrics.text();
      expect(metrics).toMatch(/cmesh_validator_proofs_total\{result="failed",reason="[A-Z_]+"\} 1/);
      expect(metrics).toMatch(/cmesh_validator_weight_transactions_total\{result="ok"\} 2/);
    } finally {
      for (const v of validators) await v.stop();
      for (const m of miners) await m.stop();
      for (const s of schemas) await dropSchema(s);
      await net.cleanup();
    }
  });
});
