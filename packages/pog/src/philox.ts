// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based PRNG.
// Output block i depends only on (key, counter i), so any backend (this file, the CUDA worker, curand's
// Philox4_32_10) produces the same bytes for the same element in any order and in parallel.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 values. */
function mulhi(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/**
 * Philox4x32-10 of counter (c0..c3) under key (k0, k1); writes the four output words into `out` at `at`.
 * All inputs are u32.
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
  at = 0,
): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    const hi0 = mulhi(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
  }
  out[at] = x0;
  out[at + 1] = x1;
  out[at + 2] = x2;
  out[at + 3] = x3;
}

/**
 * Fills `out` with the byte stream of key (k0, k1) starting at stream byte `firstByte` (a multiple of 16):
 * block b is philox(counter = (b mod 2^32, floor(b / 2^32), 0, 0)), its four words little-endian.
 */
export function philoxBytes(k0: number, k1: number, firstByte: number, out: Uint8Array): void {
  if (firstByte % 16 !== 0 || out.byteLength % 16 !== 0) {
    throw new RangeError("philoxBytes works on whole 16-byte blocks");
  }
  const words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength / 4);
  if (!LITTLE_ENDIAN) throw new Error("philoxBytes needs a little-endian host");
  const firstBlock = firstByte / 16;
  const blocks = out.byteLength / 16;
  for (let i = 0; i < blocks; i++) {
    const b = firstBlock + i;
    philox4x32(b % 0x1_0000_0000, Math.floor(b / 0x1_0000_0000), 0, 0, k0, k1, words, i * 4);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
