import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gemmInt8, gemmInt8Naive } from "./gemm.ts";

describe("gemmInt8", () => {
  it("equals the naive triple loop for any shapes and values (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer(),
        (rows, k, n, salt) => {
          const a = Int8Array.from({ length: rows * k }, (_, i) => ((i * 7919 + salt) % 256) - 128);
          const b = Int8Array.from({ length: k * n }, (_, i) => ((i * 104729 + salt * 3) % 256) - 128);
          expect(gemmInt8(a, b, rows, k, n)).toEqual(gemmInt8Naive(a, b, rows, k, n));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("is exact at the int8 extremes (no overflow, no rounding)", () => {
    const k = 4096;
    const a = new Int8Array(k).fill(-128);
    const b = new Int8Array(k).fill(-128);
    expect(gemmInt8(a, b, 1, k, 1)[0]).toBe(k * 16384);
    b.fill(127);
    expect(gemmInt8(a, b, 1, k, 1)[0]).toBe(-k * 128 * 127);
  });

  it("rejects operands of the wrong size", () => {
    expect(() => gemmInt8(new Int8Array(3), new Int8Array(4), 2, 2, 2)).toThrow(RangeError);
  });
});
