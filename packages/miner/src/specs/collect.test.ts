import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { collectSpecs, probeGpus } from "./collect.ts";

const fixtures = join(import.meta.dirname, "fixtures");

/** A stand-in nvidia-smi that prints recorded output (the machine running the tests has no GPU). */
function recordedNvidiaSmi(csv: string, xml: string | null, exitCode = 0, stderr = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "cmesh-nvsmi-"));
  const bin = join(dir, "nvidia-smi");
  writeFileSync(
    bin,
    `#!/bin/sh
if [ "$1" = "-q" ]; then ${xml ? `cat '${join(fixtures, xml)}'` : "exit 9"}; exit 0; fi
${stderr ? `cat '${join(fixtures, stderr)}' >&2` : ""}
${csv ? `cat '${join(fixtures, csv)}'` : ""}
exit ${exitCode}
`,
  );
  chmodSync(bin, 0o755);
  return bin;
}

describe("probeGpus", () => {
  it("reports GPUs with the CUDA version from the XML", async () => {
    const probe = await probeGpus(recordedNvidiaSmi("h100-sxm-8x.csv", "h100-sxm-q.xml"));
    expect(probe.absentReason).toBeNull();
    expect(probe.gpus).toHaveLength(8);
    expect(probe.gpus.every((g) => g.cuda_version === "12.4")).toBe(true);
  });

  it("says why there is no GPU when nvidia-smi is missing", async () => {
    const probe = await probeGpus("/nonexistent/nvidia-smi");
    expect(probe.gpus).toEqual([]);
    expect(probe.absentReason).toMatch(/not found: no NVIDIA driver/);
  });

  it("says why there is no GPU when the driver is not loaded", async () => {
    const probe = await probeGpus(recordedNvidiaSmi("", null, 9, "no-driver.stderr.txt"));
    expect(probe.gpus).toEqual([]);
    expect(probe.absentReason).toMatch(/couldn't communicate with the NVIDIA driver/);
  });
});

describe("collectSpecs", () => {
  it("describes this machine (no GPU) and says so, with disk, RAM, CPU and price", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cmesh-specs-"));
    const specs = await collectSpecs({
      dataDir,
      pricing: { currency: "USD", perGpuHour: 1.25 },
      nvidiaSmi: "/nonexistent/nvidia-smi",
      docker: async () => ({ available: true, serverVersion: "20.10.24", nvidiaRuntime: false }),
    });
    expect(specs.gpu.count).toBe(0);
    expect(specs.gpu.absent_reason).toMatch(/no NVIDIA driver/);
    expect(specs.cpu.count).toBeGreaterThan(0);
    expect(specs.ram.total).toBeGreaterThan(0);
    expect(specs.ram.available).toBeLessThanOrEqual(specs.ram.total);
    expect(specs.hard_disk.path).toBe(dataDir);
    expect(specs.hard_disk.free).toBeGreaterThan(0);
    expect(specs.hard_disk.free).toBeLessThanOrEqual(specs.hard_disk.total);
    expect(specs.docker).toEqual({ available: true, server_version: "20.10.24", nvidia_runtime: false });
    expect(specs.pricing).toEqual({ currency: "USD", per_gpu_hour: 1.25 });
    expect(specs.miner_version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("reports Docker as unavailable when asking it fails", async () => {
    const specs = await collectSpecs({
      dataDir: tmpdir(),
      pricing: { currency: "USD", perGpuHour: 0 },
      nvidiaSmi: recordedNvidiaSmi("rtx4090.csv", null),
      docker: async () => {
        throw new Error("connect ENOENT /var/run/docker.sock");
      },
    });
    expect(specs.docker.available).toBe(false);
    expect(specs.gpu.details[0].name).toBe("NVIDIA GeForce RTX 4090");
    expect(specs.gpu.details[0].cuda_version).toBeNull();
  });
});
