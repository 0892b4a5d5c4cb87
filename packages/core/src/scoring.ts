// The seeds' score formula (seed 003, "Understanding the Score Calculation Process") as pure functions.
import { findGpu, MAX_BASE_SCORE, supportedGpuNames } from "./catalog.ts";
import { CmeshError } from "./errors.ts";

/** Most GPUs per miner that count (the seed's "up to 8"). */
export const MAX_SCORED_GPUS = 8;
/** Points for 8 GPUs of the top model, unallocated. */
export const UNALLOCATED_MAX_POINTS = 50;
/** Multiplier for a miner whose machine is rented out. */
export const ALLOCATION_BONUS = 2;

export interface GpuScoreInput {
  /** Any spelling `findGpu` knows. */
  model: string;
  count: number;
  allocated: boolean;
  /** Whether proof-of-GPU proved this model and count; an unproven GPU scores 0. */
  proven: boolean;
}

/**
 * `base_score(model) × min(count, 8) × 50 / (8 × max_base_score)`, doubled when allocated; 0 when not proven.
 * Result in [0, 100].
 *
 * @throws CmeshError UNKNOWN_GPU when the model is not in the catalog.
 * @example gpuScore({ model: "NVIDIA H200", count: 8, allocated: false, proven: true }) === 50
 */
export function gpuScore(input: GpuScoreInput): number {
  const model = findGpu(input.model);
  if (!model) {
    throw new CmeshError("UNKNOWN_GPU", `unknown GPU model "${input.model}"`, {
      hint: `supported: ${supportedGpuNames().join(", ")}`,
      details: { model: input.model },
    });
  }
  if (!Number.isFinite(input.count) || input.count < 0) {
    throw new CmeshError("INVALID_GPU_COUNT", `GPU count must be a non-negative number, got ${input.count}`);
  }
  if (!input.proven) return 0;
  const count = Math.min(Math.floor(input.count), MAX_SCORED_GPUS);
  const scale = UNALLOCATED_MAX_POINTS / (MAX_SCORED_GPUS * MAX_BASE_SCORE);
  const points = model.baseScore * count * scale;
  return input.allocated ? points * ALLOCATION_BONUS : points;
}

/** Largest value of a u16 weight on chain. */
export const U16_MAX = 65535;

export interface Weights {
  /** Normalized weights summing to 1 (all 0 when every score is 0). */
  normalized: number[];
  /** The same weights as u16 integers, the largest scaled to 65535 (as Bittensor's `normalize_max_weight` + u16 conversion does). */
  u16: number[];
}

/**
 * Normalizes scores over all UIDs (index = UID). Negative, NaN and infinite scores count as 0. With a Map the
 * result covers UIDs 0..max(uid); missing UIDs get 0.
 */
export function scoresToWeights(scores: Map<number, number> | readonly number[]): Weights {
  let values: number[];
  if (scores instanceof Map) {
    const maxUid = Math.max(-1, ...scores.keys());
    values = new Array<number>(maxUid + 1).fill(0);
    for (const [uid, score] of scores) {
      if (!Number.isInteger(uid) || uid < 0) {
        throw new CmeshError("INVALID_UID", `UID must be a non-negative integer, got ${uid}`);
      }
      values[uid] = score;
    }
  } else {
    values = [...scores];
  }
  const clean = values.map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const total = clean.reduce((a, b) => a + b, 0);
  const max = Math.max(0, ...clean);
  if (total === 0) return { normalized: clean.map(() => 0), u16: clean.map(() => 0) };
  return {
    normalized: clean.map((v) => v / total),
    u16: clean.map((v) => Math.round((v / max) * U16_MAX)),
  };
}
