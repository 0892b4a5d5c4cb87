// The proof-of-GPU workload: from a 256-bit seed, m int8 matrices A_k (n×n) and one int8 matrix B (n×n); the
// miner computes C_k = A_k·B exactly in int32 for k < m. Global result row g = k·n + r is row r of C_k.
// Every byte is fixed by the seed (docs/proof-of-gpu.md, "Workload"), so all honest backends agree bit for bit.
import { createHash } from "node:crypto";
import { philoxBytes } from "./philox.ts";

export const WORKLOAD_DOMAIN = "cmesh-pog-v1";
/** Largest n for which an int8·int8 dot product of length n cannot overflow int32: n·128·128 ≤ 2^31. */
export const MAX_N = 131072;

export interface WorkloadSpec {
  /** 32 bytes from the validator's CSPRNG. */
  seed: Uint8Array;
  /** Matrix size; a positive multiple of 16, at most MAX_N. */
  n: number;
  /** Number of products C_k = A_k·B. */
  m: number;
}

export function validateWorkload(spec: WorkloadSpec): void {
  if (spec.seed.byteLength !== 32) throw new RangeError("workload seed must be 32 bytes");
  if (!Number.isInteger(spec.n) || spec.n < 16 || spec.n % 16 !== 0 || spec.n > MAX_N) {
    throw new RangeError(`workload n must be a multiple of 16 in [16, ${MAX_N}], got ${spec.n}`);
  }
  if (!Number.isInteger(spec.m) || spec.m < 1 || spec.m * spec.n > 2 ** 32) {
    throw new RangeError(`workload m must be a positive integer with m·n ≤ 2^32, got ${spec.m}`);
  }
}

/** Philox key of one matrix: the first 8 bytes of SHA-256(domain ‖ seed ‖ label) as two little-endian u32. */
export function matrixKey(seed: Uint8Array, label: "A" | "B" | "V", index = 0): [number, number] {
  const idx = Buffer.alloc(4);
  idx.writeUInt32LE(index >>> 0);
  const digest = createHash("sha256").update(WORKLOAD_DOMAIN).update(seed).update(label).update(idx).digest();
  return [digest.readUInt32LE(0), digest.readUInt32LE(4)];
}

/** Rows [r0, r1) of an n-column int8 matrix whose row-major bytes are the Philox stream of `key`. */
export function matrixRows(key: [number, number], n: number, r0: number, r1: number): Int8Array {
  const bytes = new Uint8Array((r1 - r0) * n);
  philoxBytes(key[0], key[1], r0 * n, bytes);
  return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function matrixB(spec: WorkloadSpec): Int8Array {
  return matrixRows(matrixKey(spec.seed, "B"), spec.n, 0, spec.n);
}

export function matrixARows(spec: WorkloadSpec, k: number, r0: number, r1: number): Int8Array {
  return matrixRows(matrixKey(spec.seed, "A", k), spec.n, r0, r1);
}

/** Total leaves (result rows) of the workload. */
export function leafCount(spec: WorkloadSpec): number {
  return spec.m * spec.n;
}

/** Integer operations of the workload (a multiply-add counts as 2), as the throughput figure uses. */
export function workloadOps(spec: Pick<WorkloadSpec, "n" | "m">): number {
  return 2 * spec.m * spec.n ** 3;
}
