// Cheating miners fail proof-of-GPU, each with its reason recorded.
import { randomBytes } from "node:crypto";
import { findGpu } from "@computemesh/core";
import {
  allowSimulatedPog,
  type Commitment,
  CpuBackend,
  DEFAULT_SAMPLES,
  drawIndices,
  encodeLeaf,
  GEMM_EFFICIENCY,
  VRAM_EFFICIENCY,
  vramTrafficBytes,
  gemmInt8,
  leafHash,
  matrixARows,
  matrixB,
  MerkleTree,
  type PogBackend,
  PogChallenge,
  PogOpen,
  PogPing,
  rowBytes,
  runPogRound,
  SimulatedGpuBackend,
  UuidRegistry,
  type VramSpec,
  vramChainPages,
  type WorkloadSpec,
  workloadOps,
} from "@computemesh/pog";
import { type Axon, defineSynapse } from "@computemesh/protocol";
import { z } from "zod";
import { afterAll, describe, expect, it } from "vitest";
import { type MinerHandle, seededRandom, startMiner, validatorDendrite } from "./pog-helpers.ts";

const H100 = { model: "NVIDIA H100 80GB HBM3", count: 1, uuids: ["GPU-h100-0"] };
const SMALL = { workload: { n: 64, m: 4 } };
const simulation = allowSimulatedPog({ network: "local", chainEndpoint: "embedded" });

/** A backend that commits to `rowFor(g, honestRow)` instead of the honest rows (and opens what it committed). */
class RowForgingBackend implements PogBackend {
  readonly kind = "simulated-gpu" as const;
  readonly simulated = true;
  constructor(
    private readonly rowFor: (g: number, honest: Int32Array) => Int32Array,
    private readonly tamper: { root?: boolean; paths?: boolean } = {},
  ) {}

  async commitGemm(spec: WorkloadSpec): Promise<Commitment> {
    const b = matrixB(spec);
    const rows: Int32Array[] = [];
    for (let k = 0; k < spec.m; k++) {
      const c = gemmInt8(matrixARows(spec, k, 0, spec.n), b, spec.n, spec.n, spec.n);
      for (let r = 0; r < spec.n; r++)
        rows.push(this.rowFor(k * spec.n + r, c.slice(r * spec.n, (r + 1) * spec.n)));
    }
    const tree = new MerkleTree(rows.map((row, g) => leafHash(g, rowBytes(row))));
    return {
      root: this.tamper.root ? randomBytes(32) : tree.root,
      leafCount: tree.leafCount,
      open: async (indices) =>
        indices.map((g) => ({
          index: g,
          data: rowBytes(rows[g]),
          path: this.tamper.paths ? tree.path((g + 1) % tree.leafCount) : tree.path(g),
        })),
      release: () => {},
    };
  }

  commitVram(spec: VramSpec): Promise<Commitment> {
    return new SimulatedGpuBackend().commitVram(spec);
  }
}

/** Holds only the first half of each chain's pages; a dropped reference page is read as zeros. */
class HalfMemoryBackend extends SimulatedGpuBackend {
  override async commitVram(spec: VramSpec): Promise<Commitment> {
    const keepBelow = Math.floor(spec.pagesPerChain / 2);
    const stored = new Map<number, Uint32Array>();
    const leaves: Buffer[] = [];
    for (let c = 0; c < spec.chains; c++) {
      const chain: Uint32Array[] = [];
      const gen = vramChainPages(spec, c, chain);
      for (let i = 0; i < spec.pagesPerChain; i++) {
        const page = gen.next().value as Uint32Array;
        const g = c * spec.pagesPerChain + i;
        leaves.push(leafHash(g, new Uint8Array(page.buffer)));
        if (i < keepBelow) stored.set(g, page);
        else if (i > 0) chain[i - 1] = i - 1 < keepBelow ? chain[i - 1] : new Uint32Array(page.length); // dropped
      }
    }
    const tree = new MerkleTree(leaves);
    return {
      root: tree.root,
      leafCount: tree.leafCount,
      open: async (indices) =>
        indices.map((g) => ({
          index: g,
          data: new Uint8Array((stored.get(g) ?? new Uint32Array(spec.pageBytes / 4)).buffer),
          path: tree.path(g),
        })),
      release: () => stored.clear(),
    };
  }
}

/** Advances a fake validator clock by scripted durations, standing in for a device's speed. */
class ClockedBackend implements PogBackend {
  readonly kind = "cpu" as const;
  readonly simulated = false;
  private readonly inner = new CpuBackend();
  constructor(
    private readonly clock: { now: number },
    private readonly gemmMs: (spec: WorkloadSpec) => number,
    private readonly vramMs: (spec: VramSpec) => number,
  ) {}
  async commitGemm(spec: WorkloadSpec) {
    const c = await this.inner.commitGemm(spec);
    this.clock.now += this.gemmMs(spec);
    return c;
  }
  async commitVram(spec: VramSpec) {
    const c = await this.inner.commitVram(spec);
    this.clock.now += this.vramMs(spec);
    return c;
  }
}

describe("proof-of-GPU cheaters fail with the reason recorded", () => {
  const miners: MinerHandle[] = [];
  afterAll(async () => {
    for (const m of miners) await m.stop();
  });
  const miner = async (uri: string, backend: PogBackend, gpus = H100) => {
    const m = await startMiner({ uri, backend, gpus });
    miners.push(m);
    return m;
  };

  it("skipping 10 % of rows: caught with probability > 1 − 1e-3 (exact and sampled, fixed seeds)", async () => {
    // exact: P(all s distinct draws miss the skipped 10 %) = C(L − bad, s) / C(L, s)
    const L = 256 * 16;
    const bad = L / 10;
    let p = 1;
    for (let i = 0; i < DEFAULT_SAMPLES; i++) p *= (L - bad - i) / (L - i);
    expect(p).toBeLessThan(1e-3);
    // sampled: 5 000 rounds of index draws with a fixed seed
    const skipped = new Set(drawIndices(L, bad, seededRandom(7)));
    const rand = seededRandom(11);
    let passed = 0;
    const trials = 5_000;
    for (let t = 0; t < trials; t++) {
      if (drawIndices(L, DEFAULT_SAMPLES, rand).every((g) => !skipped.has(g))) passed++;
    }
    expect(passed / trials).toBeLessThan(2e-3);
    // over the axon: the skipper fails in each of 5 rounds (fixed seeds), reason WRONG_RESULT
    const skip = seededRandom(3);
    const skippedRows = new Set(drawIndices(64 * 4, 26, skip));
    const m = await miner(
      "//Dave",
      new RowForgingBackend((g, row) => (skippedRows.has(g) ? new Int32Array(row.length) : row)),
    );
    const dendrite = await validatorDendrite();
    for (let seed = 1; seed <= 5; seed++) {
      const v = await runPogRound(dendrite, m.target, H100, {
        ...SMALL,
        simulation,
        random: seededRandom(seed),
      });
      expect(v).toMatchObject({ passed: false, reason: "WRONG_RESULT", simulated: true });
      expect(v.message).toMatch(/differs from the exact product/);
    }
  });

  it("rows from a wrong product (a consistent tree over wrong values) → WRONG_RESULT", async () => {
    const m = await miner("//Eve", new RowForgingBackend((_, row) => row.map((x) => x + 1)));
    const v = await runPogRound(await validatorDendrite(), m.target, H100, { ...SMALL, simulation });
    expect(v).toMatchObject({ passed: false, reason: "WRONG_RESULT" });
  });

  it("a wrong root → BAD_MERKLE_PATH", async () => {
    const m = await miner("//Ferdie", new RowForgingBackend((_, row) => row, { root: true }));
    const v = await runPogRound(await validatorDendrite(), m.target, H100, { ...SMALL, simulation });
    expect(v).toMatchObject({ passed: false, reason: "BAD_MERKLE_PATH" });
  });

  it("rows that do not match their paths → BAD_MERKLE_PATH", async () => {
    const m = await miner("//Alice//pog-paths", new RowForgingBackend((_, row) => row, { paths: true }));
    const v = await runPogRound(await validatorDendrite(), m.target, H100, { ...SMALL, simulation });
    expect(v).toMatchObject({ passed: false, reason: "BAD_MERKLE_PATH" });
  });

  it("answers too slow for the claimed model (a CPU claiming an RTX A4500, real clock) → TOO_SLOW", async () => {
    const gpus = { model: "NVIDIA RTX A4500", count: 1, uuids: ["GPU-a4500"] };
    const m = await miner("//Bob//slow", new CpuBackend(), gpus);
    const v = await runPogRound(await validatorDendrite(), m.target, gpus, SMALL);
    expect(v).toMatchObject({ passed: false, reason: "TOO_SLOW", simulated: false, provenModel: null });
    expect(v.measuredTops).toBeLessThan(findGpu("NVIDIA RTX A4500")!.int8DenseTops);
  });

  it("a claim of more VRAM than it holds (half the pages, dropped ones read as zeros) → VRAM_*", async () => {
    const m = await miner("//Charlie//half", new HalfMemoryBackend());
    for (const seed of [1, 2, 3]) {
      const v = await runPogRound(await validatorDendrite(), m.target, H100, {
        ...SMALL,
        simulation,
        random: seededRandom(seed),
      });
      expect(v.passed).toBe(false);
      expect(v.reason).toMatch(/^VRAM_(BAD_PAGE|BAD_PATH)$/);
      expect(v.vram?.passed).toBe(false);
    }
  });

  it("VRAM filled slower than the claimed memory allows (validator clock) → VRAM_TOO_SLOW; in time → passes", async () => {
    const model = findGpu(H100.model)!;
    const vram = { chains: 2, pagesPerChain: 8, pageBytes: 1024 };
    const clock = { now: 0 };
    // the tensor-core time of an honest H100 (the small workload's hashing would dominate otherwise)
    const gemmMs = (spec: WorkloadSpec) =>
      (workloadOps(spec) / (model.int8DenseTops * 1e12 * GEMM_EFFICIENCY)) * 1000;
    // the DRAM time of an honest H100 (the tiny buffer's per-step overhead would dominate otherwise)
    const honestVram = (spec: VramSpec) =>
      (vramTrafficBytes(spec) / (model.memBandwidthGBs * 1e9 * VRAM_EFFICIENCY)) * 1000;
    const opts = { ...SMALL, vram, clock: () => clock.now };
    const honest = await miner("//Dave//clocked", new ClockedBackend(clock, gemmMs, honestVram));
    const ok = await runPogRound(await validatorDendrite(), honest.target, H100, opts);
    expect(ok).toMatchObject({ passed: true, simulated: false, provenModel: H100.model });
    // a host paging to slower memory (or recomputing dropped pages) needs many times longer
    const slow = await miner(
      "//Eve//clocked",
      new ClockedBackend(clock, gemmMs, (s) => 10_000 + 20 * honestVram(s)),
    );
    const v = await runPogRound(await validatorDendrite(), slow.target, H100, opts);
    expect(v).toMatchObject({ passed: false, reason: "VRAM_TOO_SLOW" });
    expect(v.vram!.fillMs).toBeGreaterThan(v.vram!.deadlineMs);
    expect(workloadOps(SMALL.workload)).toBe(2 * 4 * 64 ** 3);
  });

  it("one GPU UUID on two hotkeys fails both until resolved", async () => {
    const registry = new UuidRegistry();
    const gpus = { ...H100, uuids: ["GPU-shared"] };
    const a = await miner("//Ferdie//uuid", new SimulatedGpuBackend(), gpus);
    const b = await miner("//Alice//uuid", new SimulatedGpuBackend(), gpus);
    const d = await validatorDendrite();
    const opts = { ...SMALL, simulation, uuidRegistry: registry };
    expect((await runPogRound(d, a.target, gpus, opts)).passed).toBe(true);
    const vb = await runPogRound(d, b.target, gpus, opts);
    expect(vb).toMatchObject({ passed: false, reason: "UUID_CONFLICT" });
    expect(vb.message).toContain("gpu-shared");
    expect(await runPogRound(d, a.target, gpus, opts)).toMatchObject({
      passed: false,
      reason: "UUID_CONFLICT",
    });
    registry.resolve("GPU-shared", a.target.hotkey);
    expect((await runPogRound(d, a.target, gpus, opts)).passed).toBe(true);
  });

  it("a simulated backend cannot pass a real validator; simulation cannot be enabled for a real network", async () => {
    const m = await miner("//Bob//sim", new SimulatedGpuBackend());
    const v = await runPogRound(await validatorDendrite(), m.target, H100, SMALL);
    expect(v).toMatchObject({ passed: false, reason: "SIMULATED_BACKEND", simulated: false });
    expect(() => allowSimulatedPog({ network: "finney", chainEndpoint: "embedded" })).toThrow(
      /local network/,
    );
    expect(() => allowSimulatedPog({ network: "local", chainEndpoint: "wss://chain.example:443" })).toThrow();
    const remote = { ...m.target, ip: "10.1.2.3" };
    const r = await runPogRound(await validatorDendrite(), remote, H100, { ...SMALL, simulation });
    expect(r).toMatchObject({ passed: false, reason: "SIMULATION_NOT_ALLOWED" });
    const forged = { network: "local", chainEndpoint: "embedded" } as unknown as typeof simulation;
    const f = await runPogRound(await validatorDendrite(), m.target, H100, { ...SMALL, simulation: forged });
    expect(f).toMatchObject({ passed: false, reason: "SIMULATION_NOT_ALLOWED" });
  });

  it("bad claims and refused work have their own reasons", async () => {
    const d = await validatorDendrite();
    const m = await miner("//Charlie//claims", new CpuBackend(), { model: "CPU", count: 1, uuids: [] });
    expect(
      await runPogRound(d, m.target, { model: "NVIDIA RTX 9999", count: 1, uuids: ["x"] }),
    ).toMatchObject({
      reason: "UNKNOWN_MODEL",
    });
    expect(await runPogRound(d, m.target, { ...H100, count: 2 }, SMALL)).toMatchObject({
      reason: "BAD_CLAIM",
    });
    // the miner's own limit: a CPU miner refuses an H100-sized workload
    const big = await runPogRound(
      d,
      m.target,
      { model: "CPU", count: 1, uuids: [] },
      { workload: { n: 8192, m: 64 } },
    );
    expect(big).toMatchObject({ passed: false, reason: "MINER_REFUSED" });
    const down = await runPogRound(d, { ...m.target, port: 1 }, { model: "CPU", count: 1, uuids: [] }, SMALL);
    expect(down).toMatchObject({ passed: false, reason: "UNREACHABLE" });
  });

  describe("malformed and oversized answers", () => {
    const honest = new CpuBackend();
    const cpu = { model: "CPU", count: 1, uuids: [] };
    /** A miner whose PogOpen answer is rewritten by `mangle`. */
    const mangled = (
      uri: string,
      mangle: (leaves: ReturnType<typeof encodeLeaf>[]) => unknown[],
      rootOverride?: string,
    ) =>
      startMiner({
        uri,
        gpus: cpu,
        attach: (axon: Axon) => {
          let commitment: Commitment | undefined;
          // same names and requests as the real synapses, but answers the axon does not check: a miner can send anything
          const LooseChallenge = defineSynapse({
            name: PogChallenge.name,
            request: PogChallenge.request,
            response: PogChallenge.response.extend({ root: z.string() }),
          });
          const LooseOpen = defineSynapse({
            name: PogOpen.name,
            request: PogOpen.request,
            response: z.object({ challenge_id: z.string(), leaves: z.array(z.any()) }),
            maxBodyBytes: PogOpen.maxBodyBytes,
          });
          axon.attach(PogPing, async (req) => ({ nonce: req.nonce }));
          axon.attach(LooseChallenge, async (req) => {
            commitment = await honest.commitGemm({ seed: Buffer.from(req.seed, "hex"), n: req.n, m: req.m });
            return {
              challenge_id: req.challenge_id,
              root: rootOverride ?? commitment.root.toString("hex"),
              leaf_count: commitment.leafCount,
              backend: "cpu" as const,
              simulated: false,
            };
          });
          axon.attach(LooseOpen, async (req) => {
            const leaves = (await commitment!.open(req.indices)).map(encodeLeaf);
            return { challenge_id: req.challenge_id, leaves: mangle(leaves) } as never;
          });
        },
      }).then((m) => {
        miners.push(m);
        return m;
      });

    type Mangle = (leaves: ReturnType<typeof encodeLeaf>[]) => unknown[];
    const cases: { name: string; mangle: Mangle; reason: string }[] = [
      {
        name: "declared length ≠ bytes",
        mangle: (ls) => ls.map((l) => ({ ...l, byte_length: l.byte_length + 4 })),
        reason: "MALFORMED_ANSWER",
      },
      {
        name: "data not base64",
        mangle: (ls) => ls.map((l) => ({ ...l, data: "%%%not-base64%%%" })),
        reason: "MALFORMED_ANSWER",
      },
      {
        name: "a path entry not hex",
        mangle: (ls) => ls.map((l) => ({ ...l, path: ["zz"] })),
        reason: "MALFORMED_ANSWER",
      },
      { name: "fewer rows than asked", mangle: (ls) => ls.slice(1), reason: "WRONG_ROWS" },
      {
        name: "a pickle instead of rows",
        mangle: () => [
          {
            index: 0,
            byte_length: 4,
            data: Buffer.from("\x80\x04K\x01.").toString("base64"),
            path: [],
            __reduce__: "os.system",
          },
        ],
        reason: "MALFORMED_ANSWER",
      },
      {
        name: "oversized leaf data",
        mangle: (ls) => [{ ...ls[0], data: "A".repeat(1_500_000) }],
        reason: "OVERSIZED_ANSWER",
      },
      {
        name: "too many leaves",
        mangle: (ls) => Array.from({ length: 300 }, () => ls[0]),
        reason: "OVERSIZED_ANSWER",
      },
    ];
    it.each(cases)("$name → $reason", async ({ name, mangle, reason }) => {
      const m = await mangled(`//Dave//mangle-${name.replace(/\W+/g, "-")}`, mangle);
      const v = await runPogRound(await validatorDendrite(), m.target, cpu, SMALL);
      expect(v).toMatchObject({ passed: false, reason });
      expect(v.message?.length).toBeGreaterThan(0);
    });

    it("a root that is not 32-byte hex → MALFORMED_ANSWER", async () => {
      const m = await mangled("//Eve//badroot", (ls) => ls, "not-a-root");
      const v = await runPogRound(await validatorDendrite(), m.target, cpu, SMALL);
      expect(v).toMatchObject({ passed: false, reason: "MALFORMED_ANSWER" });
    });
  });
});
