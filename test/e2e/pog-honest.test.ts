// Honest miners pass: a CPU-class miner measured for real, and SIMULATED GPU miners on a local network.
import { findGpu, gpuScore } from "@computemesh/core";
import {
  allowSimulatedPog,
  CpuBackend,
  runPogRound,
  SimulatedGpuBackend,
  UuidRegistry,
} from "@computemesh/pog";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MinerHandle, startMiner, validatorDendrite } from "./pog-helpers.ts";

describe("proof-of-GPU over the axon: honest miners", () => {
  const miners: MinerHandle[] = [];
  afterAll(async () => {
    for (const m of miners) await m.stop();
  });

  it("a CPU-only miner passes as the CPU class, timed by the validator's clock", async () => {
    const gpus = { model: "CPU", count: 1, uuids: [] };
    const miner = await startMiner({ uri: "//Bob", backend: new CpuBackend(), gpus });
    miners.push(miner);
    const dendrite = await validatorDendrite();
    const verdict = await runPogRound(dendrite, miner.target, gpus, { workload: { n: 64, m: 4 } });
    expect(verdict).toMatchObject({ passed: true, provenModel: "CPU", simulated: false, backend: "cpu" });
    expect(verdict.measuredTops).toBeGreaterThan(0);
    expect(verdict.rttMs).toBeGreaterThan(0);
    expect(verdict.computeMs).toBeGreaterThan(0);
    expect(verdict.workload).toEqual({ n: 64, m: 4, ops: 2 * 4 * 64 ** 3, samples: 66 });
    expect(verdict.vram).toBeUndefined();
    expect(
      gpuScore({ model: verdict.provenModel!, count: 1, allocated: false, proven: verdict.passed }),
    ).toBe(0);
  });

  it("a SIMULATED H100 SXM ×2 miner passes on a local network, every figure marked simulated", async () => {
    const gpus = { model: "NVIDIA H100 80GB HBM3", count: 2, uuids: ["GPU-sim-0", "GPU-sim-1"] };
    const miner = await startMiner({ uri: "//Charlie", backend: new SimulatedGpuBackend(), gpus });
    miners.push(miner);
    const dendrite = await validatorDendrite();
    const simulation = allowSimulatedPog({ network: "local", chainEndpoint: "ws://127.0.0.1:9944" });
    const verdict = await runPogRound(dendrite, miner.target, gpus, {
      simulation,
      uuidRegistry: new UuidRegistry(),
    });
    expect(verdict).toMatchObject({ passed: true, simulated: true, backend: "simulated-gpu" });
    expect(verdict.provenModel).toBe("NVIDIA H100 80GB HBM3");
    expect(verdict.vram?.passed).toBe(true);
    expect(verdict.exclusions?.["h100-pcie"]).toBe("bandwidth");
    expect(verdict.exclusions?.["a100-sxm4-80gb"]).toBe("compute");
    const h100 = findGpu("NVIDIA H100 80GB HBM3")!;
    expect(verdict.measuredTops).toBeCloseTo(2 * h100.int8DenseTops * 0.75, 0);
  });

  it("a SIMULATED A100 SXM4 passes at the cheaper model its measurements cannot rule out, and says so", async () => {
    const gpus = { model: "NVIDIA A100-SXM4-80GB", count: 1, uuids: ["GPU-sim-a100"] };
    const miner = await startMiner({ uri: "//Dave", backend: new SimulatedGpuBackend(), gpus });
    miners.push(miner);
    const dendrite = await validatorDendrite();
    const simulation = allowSimulatedPog({ network: "local", chainEndpoint: "ws://127.0.0.1:9944" });
    const verdict = await runPogRound(dendrite, miner.target, gpus, {
      simulation,
      uuidRegistry: new UuidRegistry(),
    });
    expect(verdict.passed).toBe(true);
    expect(verdict.reason).toBeUndefined();
    expect(verdict.downgradedFrom).toBe(findGpu("NVIDIA A100-SXM4-80GB")!.name);
    const proven = findGpu(verdict.provenModel!)!;
    expect(proven.baseScore).toBeLessThan(findGpu("NVIDIA A100-SXM4-80GB")!.baseScore);
    expect(verdict.message).toMatch(/do not rule out/);
  });

  beforeAll(() => {
    delete process.env.CMESH_NETWORK;
  });
});
