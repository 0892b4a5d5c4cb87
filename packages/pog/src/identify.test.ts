import { findGpu, GPU_CATALOG } from "@computemesh/core";
import { describe, expect, it } from "vitest";
import { cheaperModels, identify, minimumTops } from "./identify.ts";
import { expectedGemmSeconds, expectedVramSeconds, sizeGemm, sizeVram, vramTrafficBytes } from "./speed.ts";
import { workloadOps } from "./workload.ts";

const model = (name: string) => findGpu(name)!;

/** What an honest device shows according to the speed model (used by SIMULATED mode too). */
function honest(name: string, count: number) {
  const m = model(name);
  const spec = sizeGemm(m, count);
  const tops = workloadOps(spec) / expectedGemmSeconds(m, count, spec) / 1e12;
  const v = sizeVram(m, count, new Uint8Array(32));
  const bw = vramTrafficBytes(v) / expectedVramSeconds(m, count, v) / 1e9;
  return identify({
    claim: m,
    count,
    measuredTops: tops,
    provenVramGiB: m.vramGiB,
    measuredBandwidthGBs: bw,
  });
}

describe("identification by physics", () => {
  it.each([
    ["NVIDIA H200", 8],
    ["NVIDIA H100 80GB HBM3", 1],
    ["NVIDIA H100 80GB HBM3", 4],
    ["NVIDIA GeForce RTX 4090", 2],
    ["NVIDIA B200", 1],
    ["NVIDIA RTX A4500", 1],
  ])("an honest %s ×%d passes and is proven as itself", (name, count) => {
    const id = honest(name, count);
    expect(id).toMatchObject({ passed: true, provenModel: model(name).name });
    expect(Object.values(id.exclusions).every((e) => e !== null)).toBe(true);
  });

  it("a cheaper card claiming a dearer model is too slow", () => {
    const h100 = model("NVIDIA H100 80GB HBM3");
    const id = identify({
      claim: h100,
      count: 1,
      measuredTops: 300,
      provenVramGiB: 0,
      measuredBandwidthGBs: 0,
    });
    expect(id).toMatchObject({ passed: false, reason: "TOO_SLOW", provenModel: null });
    // an A100 (≈470 TOPS measured) claiming an H100 is fast enough not to be "too slow" but is not ruled out
    const a100 = identify({
      claim: h100,
      count: 1,
      measuredTops: 600,
      provenVramGiB: 79.65,
      measuredBandwidthGBs: 1600,
    });
    expect(a100).toMatchObject({ passed: false, reason: "NOT_DISTINGUISHABLE" });
    expect(a100.exclusions["a100-sxm4-80gb"]).toBeNull();
    expect(findGpu(a100.provenModel!)!.baseScore).toBeLessThanOrEqual(1.9);
  });

  it("one GPU cannot pass for two: the aggregate is compared with count × the figures", () => {
    const h100 = model("NVIDIA H100 80GB HBM3");
    const one = honest("NVIDIA H100 80GB HBM3", 1);
    expect(one.passed).toBe(true);
    const id = identify({
      claim: h100,
      count: 2,
      measuredTops: 1484,
      provenVramGiB: 79.65,
      measuredBandwidthGBs: 2680,
    });
    expect(id.passed).toBe(false);
  });

  it("names what it cannot rule out and credits the cheapest of those", () => {
    // L40's published int8 peak is below the RTX A6000's, and memory and bandwidth do not separate them
    const id = honest("NVIDIA L40", 1);
    expect(id.passed).toBe(false);
    expect(id.reason).toBe("NOT_DISTINGUISHABLE");
    expect(id.exclusions["rtx-6000-ada"]).toBeNull();
    expect(id.exclusions["rtx-4090"]).toBe("capacity");
    expect(id.provenModel).not.toBeNull();
    expect(findGpu(id.provenModel!)!.baseScore).toBeLessThan(1.0);
  });

  it("lists only cheaper models, always including the CPU class for GPUs", () => {
    const cheaper = cheaperModels(model("NVIDIA RTX 4090"));
    expect(cheaper.map((m) => m.id)).toContain("cpu");
    expect(cheaper.every((m) => m.baseScore < 0.68)).toBe(true);
    expect(cheaperModels(model("cpu"))).toEqual([]);
    expect(cheaperModels(model("NVIDIA B200")).map((m) => m.id)).not.toContain("h200");
    expect(minimumTops(model("cpu"), 1)).toBe(0);
    expect(GPU_CATALOG.length).toBeGreaterThan(16);
  });

  it("sizes GPU work to seconds and the VRAM buffer to 90 % of the claimed memory", () => {
    const h200 = model("NVIDIA H200");
    const spec = sizeGemm(h200, 8);
    const s = expectedGemmSeconds(h200, 8, spec);
    expect(s).toBeGreaterThan(3.5);
    expect(s).toBeLessThan(5);
    const v = sizeVram(h200, 1, new Uint8Array(32));
    const bytes = v.chains * v.pagesPerChain * v.pageBytes;
    expect(bytes / (h200.vramGiB * 2 ** 30)).toBeGreaterThan(0.89);
    expect(bytes / (h200.vramGiB * 2 ** 30)).toBeLessThanOrEqual(0.9);
  });
});
