import { describe, expect, it } from "vitest";
import { isCmeshError } from "./errors.ts";
import { gpuScore, scoresToWeights, U16_MAX } from "./scoring.ts";

describe("gpuScore (seed formula)", () => {
  it("seed example 1: 8× H200 unallocated → 50", () => {
    expect(gpuScore({ model: "NVIDIA H200", count: 8, allocated: false, proven: true })).toBeCloseTo(50, 12);
  });

  it("seed example 2: 2× RTX 4090 allocated → 4.25", () => {
    expect(gpuScore({ model: "NVIDIA RTX 4090", count: 2, allocated: true, proven: true })).toBeCloseTo(
      4.25,
      12,
    );
    expect(
      gpuScore({ model: "NVIDIA GeForce RTX 4090", count: 2, allocated: true, proven: true }),
    ).toBeCloseTo(4.25, 12);
  });

  it("caps the count at 8, doubles when allocated, stays within 0–100", () => {
    expect(gpuScore({ model: "NVIDIA H200", count: 12, allocated: true, proven: true })).toBeCloseTo(100, 12);
    expect(gpuScore({ model: "NVIDIA B200", count: 8, allocated: true, proven: true })).toBeCloseTo(100, 12);
    expect(gpuScore({ model: "NVIDIA A40", count: 4, allocated: false, proven: true })).toBeCloseTo(
      (0.39 * 4 * 50) / 32,
      12,
    );
  });

  it("gives 0 to unproven GPUs, to 0 GPUs and to the CPU class", () => {
    expect(gpuScore({ model: "NVIDIA H200", count: 8, allocated: true, proven: false })).toBe(0);
    expect(gpuScore({ model: "NVIDIA H200", count: 0, allocated: true, proven: true })).toBe(0);
    expect(gpuScore({ model: "cpu", count: 1, allocated: true, proven: true })).toBe(0);
  });

  it("throws UNKNOWN_GPU with the supported list for an unknown model, and rejects bad counts", () => {
    try {
      gpuScore({ model: "NVIDIA RTX 9999", count: 1, allocated: false, proven: true });
      expect.unreachable();
    } catch (err) {
      expect(isCmeshError(err, "UNKNOWN_GPU")).toBe(true);
      expect((err as { hint: string }).hint).toContain("NVIDIA H200");
    }
    expect(() => gpuScore({ model: "NVIDIA L4", count: -1, allocated: false, proven: true })).toThrow(
      /count/,
    );
    expect(() =>
      gpuScore({ model: "NVIDIA L4", count: Number.NaN, allocated: false, proven: true }),
    ).toThrow();
  });
});

describe("scoresToWeights", () => {
  it("normalizes to sum 1 and scales u16 so the largest is 65535", () => {
    const w = scoresToWeights([50, 4.25, 0, 25]);
    expect(w.normalized.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(w.normalized[0]).toBeCloseTo(50 / 79.25, 12);
    expect(w.u16).toEqual([U16_MAX, Math.round((4.25 / 50) * U16_MAX), 0, Math.round(0.5 * U16_MAX)]);
  });

  it("accepts a sparse Map and fills missing UIDs with 0; bad scores count as 0", () => {
    const w = scoresToWeights(
      new Map([
        [3, 10],
        [1, -5],
        [0, Number.NaN],
      ]),
    );
    expect(w.normalized).toEqual([0, 0, 0, 1]);
    expect(w.u16).toEqual([0, 0, 0, U16_MAX]);
  });

  it("returns all zeros when nothing scores", () => {
    expect(scoresToWeights([0, 0])).toEqual({ normalized: [0, 0], u16: [0, 0] });
    expect(scoresToWeights(new Map())).toEqual({ normalized: [], u16: [] });
    expect(() => scoresToWeights(new Map([[-1, 1]]))).toThrow(/UID/);
  });
});
