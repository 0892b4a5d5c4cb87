// Proof-of-GPU backends of the simulated miners. Every one computes on the CPU (exact int8 GEMM and VRAM fill);
// the only modeled part is how long the device it stands for would take, kept on a per-miner virtual clock
// (`DeviceClock`) that the timing audit reads. Cheating backends differ from the honest one only where they cheat.
import { findGpu } from "@computemesh/core";
import {
  type Commitment,
  CpuBackend,
  expectedGemmSeconds,
  leafHash,
  MerkleTree,
  prepareInt8Gemm,
  rowBytes,
  sizeGemm,
  type VramSpec,
  vramChainPages,
  type WorkloadSpec,
  leafCount,
  matrixARows,
  matrixB,
  workloadOps,
} from "@computemesh/pog";

/** Virtual device time of one miner, in ms; advanced by its backend by the modeled duration of each workload. */
export interface DeviceClock {
  now: number;
}

/**
 * Modeled time for `spec` on `count` devices of `actualModel`: the full-size challenge of the claimed model run at
 * the actual device's speed, scaled to the small workload, so ops(spec) / time = the actual device's throughput.
 */
export function modeledGemmMs(
  actualModel: string,
  claimedModel: string,
  count: number,
  spec: Pick<WorkloadSpec, "n" | "m">,
): number {
  const actual = findGpu(actualModel);
  const claimed = findGpu(claimedModel) ?? actual;
  if (!actual || !claimed) throw new Error(`unknown GPU model ${actualModel}`);
  const full = sizeGemm(claimed, count);
  return expectedGemmSeconds(actual, count, full) * 1000 * (workloadOps(spec) / workloadOps(full));
}

/** Honest compute; device time modeled for the GPU the miner really has. */
export class ModeledGpuBackend extends CpuBackend {
  constructor(
    readonly clock: DeviceClock,
    readonly actualModel: string,
    readonly claimedModel: string,
    readonly count: number,
  ) {
    super();
  }

  override async commitGemm(spec: WorkloadSpec): Promise<Commitment> {
    const c = await this.computeGemm(spec);
    this.clock.now += modeledGemmMs(this.actualModel, this.claimedModel, this.count, spec);
    return c;
  }

  protected computeGemm(spec: WorkloadSpec): Promise<Commitment> {
    return super.commitGemm(spec);
  }
}

/** Partial compute: skips a tenth of the rows (commits zeros for them) and opens what it committed. */
export class SkipRowsBackend extends ModeledGpuBackend {
  protected override async computeGemm(spec: WorkloadSpec): Promise<Commitment> {
    const { n, m } = spec;
    const gemm = prepareInt8Gemm(matrixB(spec), n, n);
    const rows: Uint8Array[] = [];
    for (let k = 0; k < m; k++) {
      const c = gemm.multiply(matrixARows(spec, k, 0, n), n);
      for (let r = 0; r < n; r++) {
        const g = k * n + r;
        const skipped = g % 10 === 7;
        rows.push(rowBytes(skipped ? new Int32Array(n) : c.slice(r * n, (r + 1) * n)));
      }
    }
    const tree = new MerkleTree(rows.map((row, g) => leafHash(g, row)));
    if (tree.leafCount !== leafCount(spec)) throw new Error("row count mismatch");
    return {
      root: tree.root,
      leafCount: tree.leafCount,
      open: async (indices) => indices.map((g) => ({ index: g, data: rows[g], path: tree.path(g) })),
      release: () => {},
    };
  }
}

/**
 * Spoofed specs: claims a card with twice the memory it has. It holds only the first half of each VRAM chain;
 * dropped pages it needs later are read as zeros, and opened dropped pages are zeros.
 */
export class HalfMemoryBackend extends ModeledGpuBackend {
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
        leaves.push(leafHash(g, new Uint8Array(page.buffer, page.byteOffset, page.byteLength)));
        if (i < keepBelow) stored.set(g, page);
        else if (i > 0 && i - 1 >= keepBelow) chain[i - 1] = new Uint32Array(page.length);
      }
    }
    const tree = new MerkleTree(leaves);
    return {
      root: tree.root,
      leafCount: tree.leafCount,
      open: async (indices) =>
        indices.map((g) => {
          const page = stored.get(g) ?? new Uint32Array(spec.pageBytes / 4);
          return {
            index: g,
            data: new Uint8Array(page.buffer, page.byteOffset, page.byteLength),
            path: tree.path(g),
          };
        }),
      release: () => stored.clear(),
    };
  }
}
