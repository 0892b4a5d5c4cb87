// The CUDA worker compiles with nvcc, and its host-side path (the same __host__ __device__ PRNG, SHA-256, GEMM
// definitions and tree) agrees bit for bit with the TypeScript backend, directly and over the axon.
// No GPU exists in CI: the tensor-core kernels are compiled, not run. CMESH_REQUIRE_NVCC=1 turns a missing nvcc
// into a failure.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildCudaWorker,
  CpuBackend,
  drawIndices,
  findNvcc,
  NativeWorkerBackend,
  runPogRound,
  verifyGemmOpening,
  verifyVramOpening,
  vramLeavesNeeded,
} from "@computemesh/pog";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMiner, validatorDendrite } from "./pog-helpers.ts";

const nvcc = await findNvcc();
const required = process.env.CMESH_REQUIRE_NVCC === "1";
if (!nvcc && !required) {
  console.warn("SKIPPING pog-cuda tests: nvcc not found (set CMESH_REQUIRE_NVCC=1 to make this a failure)");
}

describe.skipIf(!nvcc && !required)("CUDA proof-of-GPU worker", () => {
  let dir = "";
  let binary = "";
  let worker: NativeWorkerBackend;
  const seed = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

  beforeAll(async () => {
    if (!nvcc)
      throw new Error(
        "CMESH_REQUIRE_NVCC=1 but nvcc is not installed (no CUDA toolkit on PATH or in /usr/local/cuda)",
      );
    dir = await mkdtemp(join(tmpdir(), "cmesh-cuda-"));
    binary = await buildCudaWorker({ outDir: dir, archs: ["80"] });
    worker = new NativeWorkerBackend({ binary, host: true });
    await worker.start();
  }, 180_000);

  afterAll(async () => {
    worker?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("compiles (int8 WMMA kernels, GPU-side SHA-256) and refuses to run without a GPU unless --host", async () => {
    expect(binary).toMatch(/pog_worker$/);
    const gpu = new NativeWorkerBackend({ binary });
    await expect(gpu.start()).rejects.toThrow(/no CUDA device|did not start/);
  });

  it.each([
    [16, 1],
    [48, 3],
    [64, 5],
  ])("GEMM n=%d m=%d: same root as the TypeScript backend; opened rows verify", async (n, m) => {
    const spec = { seed, n, m };
    const native = await worker.commitGemm(spec);
    const ts = await new CpuBackend().commitGemm(spec);
    expect(native.root.toString("hex")).toBe(ts.root.toString("hex"));
    expect(native.leafCount).toBe(n * m);
    const idx = drawIndices(n * m, 10);
    expect(verifyGemmOpening(spec, native.root, idx, await native.open(idx))).toEqual({ ok: true });
  });

  it("VRAM fill: same root as the TypeScript backend; opened pages verify", async () => {
    const spec = { seed, chains: 3, pagesPerChain: 11, pageBytes: 512 };
    const native = await worker.commitVram(spec);
    const ts = await new CpuBackend().commitVram(spec);
    expect(native.root.toString("hex")).toBe(ts.root.toString("hex"));
    const all = await native.open([...Array(33).keys()]);
    const requested = [0, 7, 21, 32];
    const need = [...new Set(requested.flatMap((g) => vramLeavesNeeded(spec, g, (x) => all[x].data)))];
    expect(verifyVramOpening(spec, native.root, requested, await native.open(need))).toEqual({ ok: true });
  });

  it.each([2, 3])(
    "the split over %d (emulated) GPUs gives the same roots and verifying openings",
    async (devices) => {
      const split = new NativeWorkerBackend({ binary, host: true, hostDevices: devices });
      await split.start();
      try {
        const spec = { seed, n: 32, m: 5 };
        const native = await split.commitGemm(spec);
        expect(native.root).toEqual((await new CpuBackend().commitGemm(spec)).root);
        const idx = drawIndices(160, 12);
        expect(verifyGemmOpening(spec, native.root, idx, await native.open(idx))).toEqual({ ok: true });
        const vspec = { seed, chains: 6, pagesPerChain: 4, pageBytes: 256 }; // 3 devices: 8 pages each
        const vram = await split.commitVram(vspec);
        expect(vram.root).toEqual((await new CpuBackend().commitVram(vspec)).root);
        const all = await vram.open([...Array(24).keys()]);
        const requested = [0, 5, 13, 23];
        const need = [...new Set(requested.flatMap((g) => vramLeavesNeeded(vspec, g, (x) => all[x].data)))];
        expect(verifyVramOpening(vspec, vram.root, requested, await vram.open(need))).toEqual({ ok: true });
      } finally {
        split.stop();
      }
    },
  );

  it("reports worker errors instead of hanging", async () => {
    await expect(worker.commitGemm({ seed, n: 0, m: 1 })).rejects.toThrow();
  });

  it("a miner driving the worker passes a full round over the axon", async () => {
    const gpus = { model: "CPU", count: 1, uuids: [] };
    const miner = await startMiner({ uri: "//Ferdie//cuda", backend: worker, gpus });
    try {
      const verdict = await runPogRound(await validatorDendrite(), miner.target, gpus, {
        workload: { n: 64, m: 2 },
      });
      expect(verdict).toMatchObject({ passed: true, backend: "cpu" });
    } finally {
      await miner.stop();
    }
  });
});
