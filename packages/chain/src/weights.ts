import { CmeshError } from "@computemesh/core";
import { compactToU8a, u8aConcat, u8aToHex } from "@polkadot/util";
import { blake2AsU8a, decodeAddress } from "@polkadot/util-crypto";

export const U16_MAX = 65535;

/** Python's round(): ties go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function assertUids(uids: number[]): void {
  for (const uid of uids) {
    if (!Number.isInteger(uid) || uid < 0 || uid > U16_MAX) {
      throw new CmeshError("INVALID_WEIGHTS", `uid ${uid} is not an integer in 0..65535`);
    }
  }
}

/**
 * The Bittensor SDK's float → u16 conversion (`convert_weights_and_uids_for_emit`): weights must be finite and
 * ≥ 0; they are divided by their maximum, scaled to 65535 with Python rounding, and zero entries are dropped.
 * All-zero input gives empty vectors (nothing to send). Pure.
 */
export function normalizeWeights(uids: number[], weights: number[]): { uids: number[]; values: number[] } {
  if (uids.length !== weights.length) {
    throw new CmeshError(
      "INVALID_WEIGHTS",
      `uids (${uids.length}) and weights (${weights.length}) differ in length`,
    );
  }
  assertUids(uids);
  let max = 0;
  for (const w of weights) {
    if (!Number.isFinite(w) || w < 0) {
      throw new CmeshError("INVALID_WEIGHTS", `weight ${w} is not a finite number ≥ 0`);
    }
    if (w > max) max = w;
  }
  const out = { uids: [] as number[], values: [] as number[] };
  if (max === 0) return out;
  for (let i = 0; i < uids.length; i++) {
    const v = roundHalfEven((weights[i] / max) * U16_MAX);
    if (v !== 0) {
      out.uids.push(uids[i]);
      out.values.push(v);
    }
  }
  return out;
}

/** What the chain stores: values scaled so that the largest becomes 65535 (`round(v * 65535 / max)`). */
export function maxUpscaleU16(values: number[]): number[] {
  const max = values.reduce((m, v) => (v > m ? v : m), 0);
  if (max === 0) return values.map(() => 0);
  return values.map((v) => Math.min(U16_MAX, Math.round((v * U16_MAX) / max)));
}

function vecU16(values: number[]): Uint8Array {
  const body = new Uint8Array(values.length * 2);
  values.forEach((v, i) => {
    body[i * 2] = v & 0xff;
    body[i * 2 + 1] = (v >> 8) & 0xff;
  });
  return u8aConcat(compactToU8a(values.length), body);
}

function u16le(v: number): Uint8Array {
  return new Uint8Array([v & 0xff, (v >> 8) & 0xff]);
}

function u64le(v: bigint | number): Uint8Array {
  const out = new Uint8Array(8);
  let x = BigInt(v);
  for (let i = 0; i < 8; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/**
 * Commit/reveal v2 hash: blake2b-256 of SCALE(AccountId32 ‖ u16 netuid ‖ Vec<u16> uids ‖ Vec<u16> values ‖
 * Vec<u16> salt ‖ u64 version_key). `uids`/`values` are the u16 vectors actually sent (after normalization).
 */
export function weightsCommitHash(
  hotkeyAddress: string,
  netuid: number,
  uids: number[],
  values: number[],
  salt: number[],
  versionKey: number | bigint,
): string {
  assertUids(uids);
  for (const s of [...values, ...salt]) {
    if (!Number.isInteger(s) || s < 0 || s > U16_MAX) {
      throw new CmeshError("INVALID_WEIGHTS", `value ${s} is not a u16`);
    }
  }
  const bytes = u8aConcat(
    decodeAddress(hotkeyAddress),
    u16le(netuid),
    vecU16(uids),
    vecU16(values),
    vecU16(salt),
    u64le(versionKey),
  );
  return u8aToHex(blake2AsU8a(bytes, 256));
}
