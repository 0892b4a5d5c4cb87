import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { maxUpscaleU16, normalizeWeights, weightsCommitHash } from "./weights.ts";

describe("normalizeWeights (SDK float → u16)", () => {
  it("max-upscales, rounds half to even and drops zeros", () => {
    expect(normalizeWeights([0, 1, 2, 3], [0.5, 1, 0, 0.25])).toEqual({
      uids: [0, 1, 3],
      values: [32768, 65535, 16384],
    });
    expect(normalizeWeights([4, 5], [3, 3])).toEqual({ uids: [4, 5], values: [65535, 65535] });
  });
  it("sends nothing for all-zero weights", () => {
    expect(normalizeWeights([1, 2], [0, 0])).toEqual({ uids: [], values: [] });
  });
  it("rejects negative, non-finite, mismatched and out-of-range input", () => {
    expect(() => normalizeWeights([1], [-1])).toThrow(expect.objectContaining({ code: "INVALID_WEIGHTS" }));
    expect(() => normalizeWeights([1], [Number.NaN])).toThrow(
      expect.objectContaining({ code: "INVALID_WEIGHTS" }),
    );
    expect(() => normalizeWeights([1, 2], [1])).toThrow(expect.objectContaining({ code: "INVALID_WEIGHTS" }));
    expect(() => normalizeWeights([70000], [1])).toThrow(
      expect.objectContaining({ code: "INVALID_WEIGHTS" }),
    );
  });
  it("always yields u16 values whose maximum is 65535", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }),
        (ws) => {
          const { values } = normalizeWeights(
            ws.map((_, i) => i),
            ws,
          );
          if (ws.every((w) => w === 0)) return values.length === 0;
          return (
            values.every((v) => Number.isInteger(v) && v > 0 && v <= 65535) && Math.max(...values) === 65535
          );
        },
      ),
    );
  });
});

describe("chain-side upscale and commit hash", () => {
  it("upscales so the largest becomes 65535, keeping zeros", () => {
    expect(maxUpscaleU16([1, 2, 0])).toEqual([32768, 65535, 0]);
    expect(maxUpscaleU16([0, 0])).toEqual([0, 0]);
  });
  it("hash depends on every field", () => {
    const hk = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    const base = weightsCommitHash(hk, 1, [1], [65535], [7], 0);
    expect(weightsCommitHash(hk, 1, [1], [65535], [7], 0)).toBe(base);
    expect(weightsCommitHash(hk, 2, [1], [65535], [7], 0)).not.toBe(base);
    expect(weightsCommitHash(hk, 1, [1], [65535], [8], 0)).not.toBe(base);
    expect(weightsCommitHash(hk, 1, [1], [65535], [7], 1)).not.toBe(base);
    expect(
      weightsCommitHash("5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty", 1, [1], [65535], [7], 0),
    ).not.toBe(base);
  });
});
