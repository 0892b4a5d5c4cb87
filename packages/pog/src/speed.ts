// The speed model: how long an honest device of a catalog model needs for a workload, and how work is sized.
// Used to size challenges, to set deadlines, and (only in SIMULATED mode) to stand in for a measured time.
// Constants are documented and justified in docs/proof-of-gpu.md ("Speed model").
import type { GpuModel } from "@computemesh/core";
import type { VramSpec } from "./vram.ts";
import { vramTotalBytes } from "./vram.ts";
import { workloadOps } from "./workload.ts";

/** Fraction of the dense int8 peak an honest worker reaches on a large square int8 GEMM. */
export const GEMM_EFFICIENCY = 0.75;
/** GPU-side SHA-256 throughput per device we assume for leaf hashing, GB/s. */
export const GPU_HASH_GBS = 1000;
/** Bytes that must cross DRAM per byte of VRAM buffer in the fill: read predecessor, read reference, write. */
export const VRAM_TRAFFIC_FACTOR = 3;
/** Fraction of peak DRAM bandwidth an honest fill reaches. */
export const VRAM_EFFICIENCY = 0.8;
/** Fraction of the claimed memory the VRAM challenge fills (the driver, CUDA context and tree need the rest). */
export const VRAM_FILL_FRACTION = 0.9;
/** Smallest page size of the VRAM challenge (pages are 1–2× this). */
export const VRAM_PAGE_BYTES = 16 * 1024;
/** Matrix size for GPU claims: validator recomputation s·n² stays ~4·10^9 MACs; hashing stays ≪ compute. */
export const GPU_N = 8192;
/** Seconds of honest compute a challenge is sized for. */
export const TARGET_SECONDS = 4;

export function expectedGemmSeconds(model: GpuModel, count: number, spec: { n: number; m: number }): number {
  const compute = workloadOps(spec) / (count * model.int8DenseTops * 1e12 * GEMM_EFFICIENCY);
  const hashed = spec.m * spec.n * spec.n * 4;
  // hashing runs on the CUDA cores while the tensor cores multiply: the slower of the two sets the pace
  return Math.max(compute, hashed / (count * GPU_HASH_GBS * 1e9));
}

/** n and m so the claimed devices need about `targetSeconds`. */
export function sizeGemm(
  model: GpuModel,
  count: number,
  targetSeconds = TARGET_SECONDS,
): { n: number; m: number } {
  if (model.class === "cpu") return { n: 256, m: 2 };
  const n = GPU_N;
  const perProduct = expectedGemmSeconds(model, count, { n, m: 1 });
  return { n, m: Math.max(1, Math.ceil(targetSeconds / perProduct)) };
}

/** Bytes the fill must move through DRAM at least. */
export function vramTrafficBytes(spec: VramSpec): number {
  return vramTotalBytes(spec) * VRAM_TRAFFIC_FACTOR;
}

/** Kernel launch and synchronisation cost per sequential page step of the fill, seconds. */
export const VRAM_STEP_OVERHEAD_S = 10e-6;

export function expectedVramSeconds(model: GpuModel, count: number, spec: VramSpec): number {
  const traffic = vramTrafficBytes(spec) / (count * model.memBandwidthGBs * 1e9 * VRAM_EFFICIENCY);
  const hashing = vramTotalBytes(spec) / (count * GPU_HASH_GBS * 1e9);
  return Math.max(traffic, hashing) + spec.pagesPerChain * VRAM_STEP_OVERHEAD_S;
}

/**
 * Chains and pages filling VRAM_FILL_FRACTION of the claimed memory of `count` devices: 4096 chains per device and
 * a power-of-two number of pages per chain (so each device's share is a complete Merkle subtree the CUDA worker
 * can reduce on its own device), pages of ≈ 16–32 KiB rounded to whole 64-byte lanes.
 */
export function sizeVram(model: GpuModel, count: number, seed: Uint8Array): VramSpec {
  const bytes = model.vramGiB * 2 ** 30 * VRAM_FILL_FRACTION * count;
  const chains = 4096 * count;
  const perChain = bytes / chains;
  const pagesPerChain = Math.max(2, 2 ** Math.floor(Math.log2(perChain / VRAM_PAGE_BYTES)));
  const pageBytes = Math.max(64, Math.floor(perChain / pagesPerChain / 64) * 64);
  return { seed, chains, pagesPerChain, pageBytes };
}
