import { describe, expect, it } from "vitest";
import { findGpu, GPU_CATALOG, MAX_BASE_SCORE, supportedGpuNames } from "./catalog.ts";

const SEED_TABLE: Record<string, number> = {
  "NVIDIA H200": 4.0,
  "NVIDIA H100 80GB HBM3": 3.3,
  "NVIDIA H100": 2.8,
  "NVIDIA A100-SXM4-80GB": 1.9,
  "NVIDIA A100 80GB PCIe": 1.65,
  "NVIDIA L40s": 1.1,
  "NVIDIA L40": 1.0,
  "NVIDIA RTX 6000 Ada Generation": 0.9,
  "NVIDIA RTX A6000": 0.78,
  "NVIDIA RTX 4090": 0.68,
  "NVIDIA GeForce RTX 3090": 0.43,
  "NVIDIA L4": 0.43,
  "NVIDIA A40": 0.39,
  "NVIDIA RTX A5000": 0.36,
  "NVIDIA RTX A4500": 0.34,
};

describe("GPU catalog", () => {
  it("holds every GPU of the seed table with the seed's base score", () => {
    for (const [name, score] of Object.entries(SEED_TABLE)) {
      const model = findGpu(name);
      expect(model, name).toBeDefined();
      expect(model!.baseScore, name).toBe(score);
      expect(model!.seedName).toBe(name);
    }
  });

  it("has B200 and a CPU class, and the top base score stays the seed's 4.00", () => {
    expect(findGpu("NVIDIA B200")?.class).toBe("gpu");
    expect(findGpu("cpu")?.class).toBe("cpu");
    expect(findGpu("cpu")?.baseScore).toBe(0);
    expect(MAX_BASE_SCORE).toBe(4.0);
  });

  it.each([
    ["NVIDIA L40S", "l40s"],
    ["NVIDIA L40s", "l40s"],
    ["nvidia l40s", "l40s"],
    ["NVIDIA GeForce RTX 4090", "rtx-4090"],
    ["NVIDIA RTX 4090", "rtx-4090"],
    ["RTX 4090", "rtx-4090"],
    ["NVIDIA H100 PCIe", "h100-pcie"],
    ["NVIDIA H100", "h100-pcie"],
    ["NVIDIA H100 80GB HBM3", "h100-sxm"],
    ["NVIDIA  A100-SXM4-80GB ", "a100-sxm4-80gb"],
    ["GeForce RTX 3090", "rtx-3090"],
    ["NVIDIA RTX 6000 Ada Generation", "rtx-6000-ada"],
  ])("finds %s", (name, id) => {
    expect(findGpu(name)?.id).toBe(id);
  });

  it("does not guess unknown names", () => {
    expect(findGpu("NVIDIA RTX 9999")).toBeUndefined();
    expect(findGpu("")).toBeUndefined();
    expect(findGpu("NVIDIA L40X")).toBeUndefined();
  });

  it("gives every model positive figures with a source", () => {
    for (const m of GPU_CATALOG) {
      expect(m.int8DenseTops).toBeGreaterThan(0);
      expect(m.fp16DenseTflops).toBeGreaterThan(0);
      expect(m.memBandwidthGBs).toBeGreaterThan(0);
      expect(m.hardwareSource.length).toBeGreaterThan(10);
      expect(m.baseScoreSource.length).toBeGreaterThan(5);
      if (m.class === "gpu") expect(m.vramGiB).toBeGreaterThan(10);
    }
    expect(supportedGpuNames()).toContain("NVIDIA GeForce RTX 4090");
    expect(supportedGpuNames()).not.toContain("CPU");
  });
});
