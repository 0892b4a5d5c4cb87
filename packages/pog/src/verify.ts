// Validator-side checks of opened leaves: pure functions of the workload, the committed root and the answer.
import { randomInt } from "node:crypto";
import { prepareInt8Gemm } from "./gemm.ts";
import { leafHash, verifyPath } from "./merkle.ts";
import {
  pageBytesOf,
  type VramSpec,
  vramFirstPage,
  vramMixPage,
  vramPageCount,
  vramRefIndex,
} from "./vram.ts";
import { leafCount, matrixARows, matrixB, type WorkloadSpec } from "./workload.ts";

export interface Leaf {
  index: number;
  data: Uint8Array;
  path: readonly Uint8Array[];
}

export type CheckResult = { ok: true } | { ok: false; reason: string; message: string };

const ok: CheckResult = { ok: true };
const fail = (reason: string, message: string): CheckResult => ({ ok: false, reason, message });

/**
 * s distinct indices in [0, count), drawn with the validator's CSPRNG (never derived from anything the miner
 * saw before committing).
 */
export function drawIndices(count: number, s: number, rand: (max: number) => number = randomInt): number[] {
  const want = Math.min(s, count);
  const picked = new Set<number>();
  while (picked.size < want) picked.add(rand(count));
  return [...picked];
}

/**
 * Checks that the answer opens exactly the requested rows, that each row hashes to a leaf whose path reaches
 * `root`, and that each row equals the validator's own exact recomputation.
 */
export function verifyGemmOpening(
  spec: WorkloadSpec,
  root: Uint8Array,
  requested: readonly number[],
  answer: readonly Leaf[],
): CheckResult {
  const total = leafCount(spec);
  if (answer.length !== requested.length) {
    return fail("WRONG_ROWS", `asked for ${requested.length} rows, got ${answer.length}`);
  }
  const rowBytes = spec.n * 4;
  for (let i = 0; i < requested.length; i++) {
    const leaf = answer[i];
    if (leaf.index !== requested[i])
      return fail("WRONG_ROWS", `answer ${i} opens row ${leaf.index}, not ${requested[i]}`);
    if (leaf.data.byteLength !== rowBytes) {
      return fail(
        "MALFORMED_ANSWER",
        `row ${leaf.index} has ${leaf.data.byteLength} bytes, expected ${rowBytes}`,
      );
    }
    if (!verifyPath(leafHash(leaf.index, leaf.data), leaf.index, total, leaf.path, root)) {
      return fail(
        "BAD_MERKLE_PATH",
        `row ${leaf.index} does not match its Merkle path to the committed root`,
      );
    }
  }
  // recompute every opened row at once: (s × n) · (n × n), so the GEMM's 4-row blocking applies
  const b = matrixB(spec);
  const n = spec.n;
  const a = new Int8Array(answer.length * n);
  answer.forEach((leaf, i) => {
    const k = Math.floor(leaf.index / n);
    const r = leaf.index % n;
    a.set(matrixARows(spec, k, r, r + 1), i * n);
  });
  const expected = prepareInt8Gemm(b, n, n).multiply(a, answer.length);
  for (let i = 0; i < answer.length; i++) {
    const leaf = answer[i];
    const got = new Int32Array(new Uint8Array(leaf.data).buffer);
    for (let j = 0; j < n; j++) {
      if (got[j] !== expected[i * n + j]) {
        return fail("WRONG_RESULT", `row ${leaf.index} differs from the exact product at column ${j}`);
      }
    }
  }
  return ok;
}

/** The leaves a miner must return to open VRAM page g: g itself, and for i ≥ 1 its predecessor and reference. */
export function vramLeavesNeeded(spec: VramSpec, g: number, pageAt: (g: number) => Uint8Array): number[] {
  const i = g % spec.pagesPerChain;
  if (i === 0) return [g];
  const prev = new Uint32Array(new Uint8Array(pageAt(g - 1)).buffer);
  return [g, g - 1, g - i + vramRefIndex(prev, i)];
}

/**
 * Checks opened VRAM pages: each requested page must come with its predecessor and reference page, all three
 * on the committed tree, and must equal the mix of the two (page 0 of a chain must equal the seeded stream).
 */
export function verifyVramOpening(
  spec: VramSpec,
  root: Uint8Array,
  requested: readonly number[],
  answer: readonly Leaf[],
): CheckResult {
  const total = vramPageCount(spec);
  const byIndex = new Map<number, Leaf>();
  for (const leaf of answer) {
    if (leaf.data.byteLength !== spec.pageBytes) {
      return fail(
        "MALFORMED_ANSWER",
        `page ${leaf.index} has ${leaf.data.byteLength} bytes, expected ${spec.pageBytes}`,
      );
    }
    if (!verifyPath(leafHash(leaf.index, leaf.data), leaf.index, total, leaf.path, root)) {
      return fail("VRAM_BAD_PATH", `page ${leaf.index} does not match its Merkle path to the committed root`);
    }
    byIndex.set(leaf.index, leaf);
  }
  const words = (leaf: Leaf) => new Uint32Array(new Uint8Array(leaf.data).buffer);
  for (const g of requested) {
    const page = byIndex.get(g);
    if (!page) return fail("VRAM_MISSING_PAGE", `page ${g} was requested but not opened`);
    const chain = Math.floor(g / spec.pagesPerChain);
    const i = g % spec.pagesPerChain;
    let expected: Uint32Array;
    if (i === 0) {
      expected = vramFirstPage(spec, chain);
    } else {
      const prev = byIndex.get(g - 1);
      if (!prev) return fail("VRAM_MISSING_PAGE", `page ${g} came without its predecessor ${g - 1}`);
      const prevWords = words(prev);
      const refIndex = g - i + vramRefIndex(prevWords, i);
      const ref = byIndex.get(refIndex);
      if (!ref) return fail("VRAM_MISSING_PAGE", `page ${g} came without its reference page ${refIndex}`);
      expected = vramMixPage(prevWords, words(ref), i);
    }
    if (!Buffer.from(pageBytesOf(expected)).equals(Buffer.from(page.data))) {
      return fail("VRAM_BAD_PAGE", `page ${g} is not the mix of its predecessor and reference page`);
    }
  }
  return ok;
}
