import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isCmeshError } from "@computemesh/core";
import { describe, expect, it } from "vitest";
import { parseCudaVersionFromXml, parseNvidiaSmiCsv, parseNvidiaSmiXml } from "./nvidia-smi.ts";

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "fixtures", name), "utf8");

describe("parseNvidiaSmiCsv", () => {
  it("reads an H100 SXM", () => {
    const [gpu, ...rest] = parseNvidiaSmiCsv(fixture("h100-sxm.csv"), "12.4");
    expect(rest).toHaveLength(0);
    expect(gpu).toEqual({
      index: 0,
      name: "NVIDIA H100 80GB HBM3",
      uuid: "GPU-9d3a4b7e-52c1-6f0a-8e21-3c7b5d9f1a02",
      memory_total_mib: 81559,
      driver_version: "550.54.15",
      cuda_version: "12.4",
      power_limit_w: 700,
      pci_bus_id: "00000000:18:00.0",
      pcie_link_gen_max: 5,
      pcie_link_width_max: 16,
    });
  });

  it("reads an A100 SXM4 80GB and an RTX 4090", () => {
    const [a100] = parseNvidiaSmiCsv(fixture("a100-sxm4-80gb.csv"));
    expect([a100.name, a100.memory_total_mib, a100.power_limit_w, a100.pcie_link_gen_max]).toEqual([
      "NVIDIA A100-SXM4-80GB",
      81920,
      400,
      4,
    ]);
    expect(a100.cuda_version).toBeNull();
    const [rtx] = parseNvidiaSmiCsv(fixture("rtx4090.csv"));
    expect([rtx.name, rtx.memory_total_mib, rtx.driver_version, rtx.power_limit_w]).toEqual([
      "NVIDIA GeForce RTX 4090",
      24564,
      "545.29.06",
      450,
    ]);
  });

  it("reads 8 H100s with distinct UUIDs in index order", () => {
    const gpus = parseNvidiaSmiCsv(fixture("h100-sxm-8x.csv"));
    expect(gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(8);
    expect(gpus[7].pci_bus_id).toBe("00000000:CE:00.0");
  });

  it("reads output with units and turns [N/A] / [Not Supported] into null", () => {
    const gpus = parseNvidiaSmiCsv(fixture("a100-pcie-4x-units.csv"));
    expect(gpus).toHaveLength(4);
    expect(gpus[0].memory_total_mib).toBe(40960);
    expect(gpus[0].power_limit_w).toBe(250);
    expect(gpus[2].power_limit_w).toBeNull();
    expect(gpus[3].pcie_link_gen_max).toBeNull();
    expect(gpus[3].pcie_link_width_max).toBeNull();
  });

  it("returns no GPUs for empty output", () => {
    expect(parseNvidiaSmiCsv("\n")).toEqual([]);
  });

  it("rejects lines with the wrong number of fields or no UUID", () => {
    expect(() => parseNvidiaSmiCsv("0, NVIDIA H100, GPU-x")).toThrow(/expected 9/);
    try {
      parseNvidiaSmiCsv("0, NVIDIA H100, [N/A], 81559, 550.54.15, 700.00, 00000000:18:00.0, 5, 16");
      expect.unreachable();
    } catch (err) {
      expect(isCmeshError(err, "NVIDIA_SMI_PARSE")).toBe(true);
    }
  });
});

describe("parseNvidiaSmiXml", () => {
  it("reads the driver 550 format (gpu_power_readings)", () => {
    const [gpu] = parseNvidiaSmiXml(fixture("h100-sxm-q.xml"));
    expect(gpu).toEqual(parseNvidiaSmiCsv(fixture("h100-sxm.csv"), "12.4")[0]);
  });

  it("reads the older format (power_readings) with two RTX 4090s, one without a power limit", () => {
    const gpus = parseNvidiaSmiXml(fixture("rtx4090-2x-q-old.xml"));
    expect(gpus.map((g) => [g.index, g.name, g.power_limit_w, g.pcie_link_width_max])).toEqual([
      [0, "NVIDIA GeForce RTX 4090", 450, 16],
      [1, "NVIDIA GeForce RTX 4090", 450, 8], // power_limit N/A → enforced_power_limit
    ]);
    expect(gpus[1].uuid).toBe("GPU-0c5e93a1-47f2-d86b-1e30-95ab6c7d2e18");
    expect(gpus.every((g) => g.cuda_version === "12.0" && g.driver_version === "525.147.05")).toBe(true);
  });

  it("extracts the CUDA version and rejects what is not nvidia-smi XML", () => {
    expect(parseCudaVersionFromXml(fixture("h100-sxm-q.xml"))).toBe("12.4");
    expect(parseCudaVersionFromXml("<x/>")).toBeNull();
    expect(() => parseNvidiaSmiXml("<html></html>")).toThrow(/nvidia_smi_log/);
  });
});
