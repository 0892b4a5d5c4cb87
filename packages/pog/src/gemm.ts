import { WasmInt8Gemm, wasmSimdAvailable } from "./wasm-gemm.ts";

// Exact int8×int8→int32 matrix products on the CPU. Integer arithmetic, so the result is bit-identical to any
// other exact backend (the CUDA worker's tensor-core MMA accumulates in int32 as well).

/**
 * out (rows×n int32, row-major) = a (rows×k int8) · b (k×n int8). Four rows share each load of B.
 * |a·b| ≤ k·2^14, exact in int32 for k ≤ 131072.
 */
export function gemmInt8(
  a: Int8Array,
  b: Int8Array,
  rows: number,
  k: number,
  n: number,
  out?: Int32Array,
): Int32Array {
  if (a.length !== rows * k || b.length !== k * n)
    throw new RangeError("gemmInt8: operand sizes do not match");
  const c = out ?? new Int32Array(rows * n);
  if (c.length !== rows * n) throw new RangeError("gemmInt8: output size does not match");
  c.fill(0);
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    const o0 = i * n;
    const o1 = o0 + n;
    const o2 = o1 + n;
    const o3 = o2 + n;
    for (let kk = 0; kk < k; kk++) {
      const a0 = a[i * k + kk];
      const a1 = a[(i + 1) * k + kk];
      const a2 = a[(i + 2) * k + kk];
      const a3 = a[(i + 3) * k + kk];
      const boff = kk * n;
      for (let j = 0; j < n; j++) {
        const bv = b[boff + j];
        c[o0 + j] += a0 * bv;
        c[o1 + j] += a1 * bv;
        c[o2 + j] += a2 * bv;
        c[o3 + j] += a3 * bv;
      }
    }
  }
  for (; i < rows; i++) {
    const o = i * n;
    for (let kk = 0; kk < k; kk++) {
      const av = a[i * k + kk];
      if (av === 0) continue;
      const boff = kk * n;
      for (let j = 0; j < n; j++) c[o + j] += av * b[boff + j];
    }
  }
  return c;
}

/** Straightforward triple loop, used only by tests as an independent reference. */
export function gemmInt8Naive(a: Int8Array, b: Int8Array, rows: number, k: number, n: number): Int32Array {
  const c = new Int32Array(rows * n);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let kk = 0; kk < k; kk++) s += a[i * k + kk] * b[kk * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

/** a·B for one fixed B (k×n): the WebAssembly SIMD kernel where available, else the TypeScript loop. */
export interface Int8Gemm {
  readonly kind: "wasm-simd" | "typescript";
  multiply(a: Int8Array, rows: number): Int32Array;
}

export function prepareInt8Gemm(b: Int8Array, k: number, n: number): Int8Gemm {
  if (wasmSimdAvailable() && k % 16 === 0 && process.env.CMESH_POG_NO_WASM !== "1") {
    const w = new WasmInt8Gemm(b, k, n);
    return { kind: "wasm-simd", multiply: (a, rows) => w.multiply(a, rows) };
  }
  return { kind: "typescript", multiply: (a, rows) => gemmInt8(a, b, rows, k, n) };
}
