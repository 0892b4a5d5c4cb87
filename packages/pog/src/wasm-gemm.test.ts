import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gemmInt8Naive, prepareInt8Gemm } from "./gemm.ts";
import { WasmInt8Gemm, wasmSimdAvailable } from "./wasm-gemm.ts";

describe("WebAssembly SIMD int8 GEMM", () => {
  it("is available on Node 20", () => {
    expect(wasmSimdAvailable()).toBe(true);
    expect(prepareInt8Gemm(new Int8Array(16), 16, 1).kind).toBe("wasm-simd");
    expect(prepareInt8Gemm(new Int8Array(8), 8, 1).kind).toBe("typescript");
  });

  it("equals the naive loop bit for bit (property, incl. the int8 extremes)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 4 }).map((x) => x * 16),
        fc.integer({ min: 1, max: 9 }),
        fc.boolean(),
        fc.integer(),
        (rows, k, n, extreme, salt) => {
          const val = (i: number, m: number) =>
            extreme ? (i % 2 ? -128 : 127) : ((i * m + salt) % 256) - 128;
          const a = Int8Array.from({ length: rows * k }, (_, i) => val(i, 7919));
          const b = Int8Array.from({ length: k * n }, (_, i) => val(i, 104729));
          expect(new WasmInt8Gemm(b, k, n).multiply(a, rows)).toEqual(gemmInt8Naive(a, b, rows, k, n));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("keeps separate prepared matrices apart and grows its memory for large products", () => {
    const k = 64;
    const b1 = Int8Array.from({ length: k * 3 }, (_, i) => (i % 5) - 2);
    const b2 = Int8Array.from({ length: k * 3 }, (_, i) => (i % 7) - 3);
    const g1 = new WasmInt8Gemm(b1, k, 3);
    const g2 = new WasmInt8Gemm(b2, k, 3);
    const a = Int8Array.from({ length: 2000 * k }, (_, i) => (i % 11) - 5);
    expect(g1.multiply(a, 2000)).toEqual(gemmInt8Naive(a, b1, 2000, k, 3));
    expect(g2.multiply(a.subarray(0, k), 1)).toEqual(gemmInt8Naive(a.subarray(0, k), b2, 1, k, 3));
    expect(() => new WasmInt8Gemm(b1, 8, 24)).toThrow(RangeError);
    expect(() => g1.multiply(a.subarray(0, 5), 1)).toThrow(RangeError);
  });
});
