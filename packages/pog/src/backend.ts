// Backends compute a proof-of-GPU workload and answer openings. `CpuBackend` is exact TypeScript; the CUDA
// worker (packages/pog/cuda) implements the same definitions on a GPU; `SimulatedGpuBackend` is the CPU
// backend labelled simulated, for local networks and simulations only.
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { prepareInt8Gemm } from "./gemm.ts";
import { leafHash, MerkleTree, rowBytes } from "./merkle.ts";
import { pageBytesOf, validateVramSpec, type VramSpec, vramChainPages, vramPageCount } from "./vram.ts";
import { leafCount, matrixARows, matrixB, validateWorkload, type WorkloadSpec } from "./workload.ts";

export type BackendKind = "cpu" | "cuda" | "simulated-gpu";

export interface OpenedLeaf {
  index: number;
  data: Uint8Array;
  path: Buffer[];
}

export interface Commitment {
  readonly root: Buffer;
  readonly leafCount: number;
  open(indices: readonly number[]): Promise<OpenedLeaf[]>;
  release(): void;
}

export interface PogBackend {
  readonly kind: BackendKind;
  /** True only for a backend that stands in for a GPU it does not have. */
  readonly simulated: boolean;
  /** Computes C_k = A_k·B for every k and commits to the rows. */
  commitGemm(spec: WorkloadSpec): Promise<Commitment>;
  /** Fills the VRAM challenge buffer and commits to its pages. */
  commitVram(spec: VramSpec): Promise<Commitment>;
}

/** Rows computed per block; the event loop gets a turn between blocks so the axon keeps answering. */
const ROW_BLOCK = 256;

export class CpuBackend implements PogBackend {
  readonly kind: BackendKind = "cpu";
  readonly simulated: boolean = false;

  async commitGemm(spec: WorkloadSpec): Promise<Commitment> {
    validateWorkload(spec);
    const { n, m } = spec;
    const gemm = prepareInt8Gemm(matrixB(spec), n, n);
    const leaves: Buffer[] = new Array(leafCount(spec));
    for (let k = 0; k < m; k++) {
      for (let r0 = 0; r0 < n; r0 += ROW_BLOCK) {
        const r1 = Math.min(n, r0 + ROW_BLOCK);
        const rows = r1 - r0;
        const c = gemm.multiply(matrixARows(spec, k, r0, r1), rows);
        for (let r = 0; r < rows; r++) {
          const g = k * n + r0 + r;
          leaves[g] = leafHash(g, rowBytes(c.subarray(r * n, (r + 1) * n)));
        }
        await yieldToEventLoop();
      }
    }
    const tree = new MerkleTree(leaves);
    return {
      root: tree.root,
      leafCount: tree.leafCount,
      open: async (indices) =>
        indices.map((g) => {
          const k = Math.floor(g / n);
          const r = g % n;
          const row = gemm.multiply(matrixARows(spec, k, r, r + 1), 1);
          return { index: g, data: rowBytes(row), path: tree.path(g) };
        }),
      release: () => {},
    };
  }

  async commitVram(spec: VramSpec): Promise<Commitment> {
    validateVramSpec(spec);
    const pages: Uint32Array[] = new Array(vramPageCount(spec));
    const leaves: Buffer[] = new Array(vramPageCount(spec));
    for (let c = 0; c < spec.chains; c++) {
      const chain: Uint32Array[] = [];
      let i = 0;
      for (const page of vramChainPages(spec, c, chain)) {
        const g = c * spec.pagesPerChain + i++;
        pages[g] = page;
        leaves[g] = leafHash(g, pageBytesOf(page));
      }
      await yieldToEventLoop();
    }
    const tree = new MerkleTree(leaves);
    return {
      root: tree.root,
      leafCount: tree.leafCount,
      open: async (indices) =>
        indices.map((g) => ({ index: g, data: pageBytesOf(pages[g]), path: tree.path(g) })),
      release: () => pages.fill(new Uint32Array(0)),
    };
  }
}

/**
 * SIMULATED: computes exactly like `CpuBackend` but says it stands in for a GPU. Only a validator that has
 * simulation explicitly enabled for a local network accepts its answers (see `allowSimulatedPog`); every
 * verdict about it is marked `simulated`.
 */
export class SimulatedGpuBackend extends CpuBackend {
  override readonly kind: BackendKind = "simulated-gpu";
  override readonly simulated: boolean = true;
}
