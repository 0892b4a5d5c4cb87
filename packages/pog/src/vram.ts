// The VRAM challenge: a memory-hard fill that only a device holding the whole buffer can finish in time.
// `chains` independent chains of `pagesPerChain` pages of `pageBytes` bytes. Page 0 of chain c is the Philox
// stream of key V_c; page i ≥ 1 is mixed from page i−1 and a data-dependent earlier page j = prev[0] mod i, where
// each 16-word lane walks the reference page at addresses chosen by its own running state (Argon2d/scrypt
// style). A host that keeps less than the buffer must recompute dropped pages on every miss.
// Global page index g = c·pagesPerChain + i; the commitment is the Merkle tree (merkle.ts) over all pages.
import { matrixKey } from "./workload.ts";
import { philoxBytes } from "./philox.ts";

export const VRAM_LANE_WORDS = 16;

export interface VramSpec {
  seed: Uint8Array;
  chains: number;
  pagesPerChain: number;
  /** Multiple of 64 (whole lanes). */
  pageBytes: number;
}

export function validateVramSpec(spec: VramSpec): void {
  if (spec.seed.byteLength !== 32) throw new RangeError("VRAM seed must be 32 bytes");
  if (
    !Number.isInteger(spec.pageBytes) ||
    spec.pageBytes < 64 ||
    spec.pageBytes % 64 !== 0 ||
    spec.pageBytes > 1 << 20
  ) {
    throw new RangeError(`pageBytes must be a multiple of 64 in [64, 1 MiB], got ${spec.pageBytes}`);
  }
  if (!Number.isInteger(spec.chains) || spec.chains < 1 || spec.chains > 1 << 20) {
    throw new RangeError(`chains must be in [1, 2^20], got ${spec.chains}`);
  }
  if (
    !Number.isInteger(spec.pagesPerChain) ||
    spec.pagesPerChain < 2 ||
    spec.chains * spec.pagesPerChain > 2 ** 32
  ) {
    throw new RangeError(
      `pagesPerChain must be ≥ 2 with chains·pagesPerChain ≤ 2^32, got ${spec.pagesPerChain}`,
    );
  }
}

export function vramPageCount(spec: VramSpec): number {
  return spec.chains * spec.pagesPerChain;
}

export function vramTotalBytes(spec: VramSpec): number {
  return vramPageCount(spec) * spec.pageBytes;
}

/** Page 0 of chain `chain`. */
export function vramFirstPage(spec: VramSpec, chain: number): Uint32Array {
  const bytes = new Uint8Array(spec.pageBytes);
  const key = matrixKey(spec.seed, "V", chain);
  philoxBytes(key[0], key[1], 0, bytes);
  return new Uint32Array(bytes.buffer);
}

/** Index of the page that page `i` (≥ 1) references, read from its predecessor. */
export function vramRefIndex(prev: Uint32Array, i: number): number {
  return prev[0] % i;
}

function rotl13(x: number): number {
  return ((x << 13) | (x >>> 19)) >>> 0;
}

/** Page i (≥ 1) from its predecessor and its reference page. */
export function vramMixPage(prev: Uint32Array, ref: Uint32Array, i: number, out?: Uint32Array): Uint32Array {
  const words = prev.length;
  const page = out ?? new Uint32Array(words);
  for (let lane = 0; lane * VRAM_LANE_WORDS < words; lane++) {
    const base = lane * VRAM_LANE_WORDS;
    let x = (prev[base + VRAM_LANE_WORDS - 1] ^ Math.imul(i, 0x9e3779b1) ^ lane) >>> 0;
    for (let t = 0; t < VRAM_LANE_WORDS; t++) {
      const w = base + t;
      const r = ref[x % words];
      x = rotl13((Math.imul(x ^ r, 0x85ebca6b) + prev[w]) >>> 0);
      page[w] = x;
    }
  }
  return page;
}

/** Every page of one chain, in order (the honest fill of one chain). */
export function* vramChainPages(spec: VramSpec, chain: number, keep: Uint32Array[]): Generator<Uint32Array> {
  const first = vramFirstPage(spec, chain);
  keep[0] = first;
  yield first;
  for (let i = 1; i < spec.pagesPerChain; i++) {
    const prev = keep[i - 1];
    const page = vramMixPage(prev, keep[vramRefIndex(prev, i)], i);
    keep[i] = page;
    yield page;
  }
}

export function pageBytesOf(page: Uint32Array): Uint8Array {
  return new Uint8Array(page.buffer, page.byteOffset, page.byteLength);
}
