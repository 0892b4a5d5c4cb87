/**
 * I32F32 fixed-point arithmetic (what subtensor's epoch uses), emulated exactly on JS numbers holding the raw
 * value (value × 2^32, an integer). Multiplication and division truncate like the `fixed` crate does for
 * non-negative operands; products and quotients that could lose precision in a double fall back to BigInt.
 */
export const ONE = 4294967296; // 2^32
const TWO16 = 65536;
const SAFE = 2 ** 53;

export function fromInt(v: number): number {
  return v * ONE;
}

export function toFloat(raw: number): number {
  return raw / ONE;
}

/** Nearest-below raw value for a float (used only for values the chain itself derives from floats). */
export function fromFloat(x: number): number {
  return Math.floor(x * ONE);
}

export function mul(a: number, b: number): number {
  if (a < 0 || b < 0) {
    // floor toward −∞ like an arithmetic shift of the 128-bit product
    return Number((BigInt(a) * BigInt(b)) >> 32n);
  }
  const p = a * b;
  if (p < SAFE) return Math.floor(p / ONE);
  let x = a;
  let y = b;
  if (x < y) {
    x = b;
    y = a;
  }
  if (p < 2 ** 68) {
    const xh = Math.floor(x / TWO16);
    const xl = x - xh * TWO16;
    const hi = xh * y; // < 2^52
    const lo = xl * y; // < 2^50
    return Math.floor((hi + Math.floor(lo / TWO16)) / TWO16);
  }
  return Number((BigInt(a) * BigInt(b)) >> 32n);
}

/** a / b truncated; 0 when b is 0 (`safe_div`). */
export function div(a: number, b: number): number {
  if (b === 0) return 0;
  if (a >= 0 && b > 0) {
    const q = (a / b) * ONE;
    if (q < 2 ** 36) {
      const f = Math.floor(q);
      const frac = q - f;
      if (frac > 1e-4 && frac < 1 - 1e-4) return f;
    }
  }
  const n = BigInt(a) << 32n;
  const d = BigInt(b);
  let q = n / d;
  if (n % d !== 0n && n < 0n !== d < 0n) q -= 1n;
  return Number(q);
}

/** `fixed_proportion_to_u16`: floor(x × 65535), saturating to 0..65535. */
export function toU16Proportion(raw: number): number {
  const v = Math.floor(mul(raw, fromInt(65535)) / ONE);
  return v < 0 ? 0 : v > 65535 ? 65535 : v;
}

/** `u16_proportion_to_fixed`: v / 65535. */
export function fromU16Proportion(v: number): number {
  return div(fromInt(v), fromInt(65535));
}

export function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

export function normalizeInPlace(xs: number[]): void {
  const s = sum(xs);
  if (s === 0) return;
  for (let i = 0; i < xs.length; i++) xs[i] = div(xs[i], s);
}
