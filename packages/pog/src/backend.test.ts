import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CpuBackend, SimulatedGpuBackend } from "./backend.ts";
import { gemmInt8Naive } from "./gemm.ts";
import { leafHash } from "./merkle.ts";
import { drawIndices, verifyGemmOpening, verifyVramOpening, vramLeavesNeeded } from "./verify.ts";
import { matrixARows, matrixB, validateWorkload, type WorkloadSpec } from "./workload.ts";

const seed = Uint8Array.from({ length: 32 }, (_, i) => i);

describe("workload", () => {
  it("is fixed by the seed: same seed same matrices, other seed other matrices", () => {
    const spec: WorkloadSpec = { seed, n: 32, m: 2 };
    expect(matrixB(spec)).toEqual(matrixB({ ...spec }));
    expect(matrixB({ ...spec, seed: randomBytes(32) })).not.toEqual(matrixB(spec));
    expect(matrixARows(spec, 0, 0, 32)).not.toEqual(matrixARows(spec, 1, 0, 32));
    // rows are slices of the same stream
    expect(matrixARows(spec, 1, 5, 7)).toEqual(matrixARows(spec, 1, 0, 32).subarray(5 * 32, 7 * 32));
    // unstructured: not Hankel (A[i][j] would depend on i+j only)
    const a = matrixARows(spec, 0, 0, 32);
    expect(a[1 * 32 + 0]).not.toBe(a[0 * 32 + 1]);
  });

  it("rejects bad sizes and seeds", () => {
    expect(() => validateWorkload({ seed, n: 24, m: 1 })).toThrow(/multiple of 16/);
    expect(() => validateWorkload({ seed, n: 16, m: 0 })).toThrow(/m must/);
    expect(() => validateWorkload({ seed: new Uint8Array(31), n: 16, m: 1 })).toThrow(/32 bytes/);
    expect(() => validateWorkload({ seed, n: 262144, m: 1 })).toThrow();
  });
});

describe("CpuBackend GEMM commitment", () => {
  const spec: WorkloadSpec = { seed, n: 48, m: 3 };

  it("commits to the exact products and opens rows that verify", async () => {
    const backend = new CpuBackend();
    const commitment = await backend.commitGemm(spec);
    expect(commitment.leafCount).toBe(144);
    const b = matrixB(spec);
    const c1 = gemmInt8Naive(matrixARows(spec, 1, 0, 48), b, 48, 48, 48);
    const [row] = await commitment.open([48 + 7]);
    expect(new Int32Array(new Uint8Array(row.data).buffer)).toEqual(c1.subarray(7 * 48, 8 * 48));
    const idx = drawIndices(commitment.leafCount, 20);
    expect(new Set(idx).size).toBe(20);
    const answer = await commitment.open(idx);
    expect(verifyGemmOpening(spec, commitment.root, idx, answer)).toEqual({ ok: true });
    // same workload → same root, on the simulated backend too (bit-identical)
    const again = await new SimulatedGpuBackend().commitGemm(spec);
    expect(again.root).toEqual(commitment.root);
  });

  it("rejects a wrong value, a wrong index, a short row and a wrong root", async () => {
    const commitment = await new CpuBackend().commitGemm(spec);
    const idx = [3, 100];
    const answer = await commitment.open(idx);
    // a wrong value with a consistent path (a miner that committed to a wrong row)
    const data = new Uint8Array(answer[0].data);
    data[0] ^= 1;
    const wrongTree = { ...answer[0], data };
    const r1 = verifyGemmOpening(spec, commitment.root, idx, [wrongTree, answer[1]]);
    expect(r1).toMatchObject({ ok: false, reason: "BAD_MERKLE_PATH" });
    expect(verifyGemmOpening(spec, commitment.root, [3, 101], answer)).toMatchObject({
      reason: "WRONG_ROWS",
    });
    const short = { ...answer[0], data: answer[0].data.subarray(4) };
    expect(verifyGemmOpening(spec, commitment.root, idx, [short, answer[1]])).toMatchObject({
      reason: "MALFORMED_ANSWER",
    });
    expect(verifyGemmOpening(spec, randomBytes(32), idx, answer)).toMatchObject({
      reason: "BAD_MERKLE_PATH",
    });
    expect(verifyGemmOpening(spec, commitment.root, idx, answer.slice(1))).toMatchObject({
      reason: "WRONG_ROWS",
    });
    expect(leafHash(3, answer[0].data)).toBeInstanceOf(Buffer);
  });
});

describe("CpuBackend VRAM commitment", () => {
  const vspec = { seed, chains: 3, pagesPerChain: 9, pageBytes: 256 };

  it("opens pages with predecessor and reference that verify; a tampered page fails", async () => {
    const commitment = await new CpuBackend().commitVram(vspec);
    expect(commitment.leafCount).toBe(27);
    const all = await commitment.open([...Array(27).keys()]);
    const pageAt = (g: number) => all[g].data;
    const requested = [0, 5, 13, 26];
    const needed = [...new Set(requested.flatMap((g) => vramLeavesNeeded(vspec, g, pageAt)))];
    const answer = await commitment.open(needed);
    expect(verifyVramOpening(vspec, commitment.root, requested, answer)).toEqual({ ok: true });
    expect(verifyVramOpening(vspec, commitment.root, requested, answer.slice(1))).toMatchObject({
      ok: false,
    });
    const forged = answer.map((l) => ({ ...l, data: new Uint8Array(l.data) }));
    forged[1].data[9] ^= 0xff;
    expect(verifyVramOpening(vspec, commitment.root, requested, forged)).toMatchObject({
      reason: "VRAM_BAD_PATH",
    });
  });
});
