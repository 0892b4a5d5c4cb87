import { z } from "zod";
import type { SubnetHyperparams } from "./types.ts";

/**
 * Hyperparameters of a new local subnet. Runtime initial values of subtensor (reference §3.6) except where a
 * one-machine network needs otherwise: commit/reveal off (set it per subnet), weights rate limit 100 blocks,
 * burn 1 TAO, activity cutoff 5000 blocks.
 */
export const DEFAULT_HYPERPARAMS: SubnetHyperparams = {
  tempo: 360,
  kappa: 32767,
  bondsMovingAverage: 900_000,
  bondsPenalty: 65535,
  yuma3: false,
  liquidAlpha: { enabled: false, low: 0.7, high: 0.9, steepness: 1000 },
  maxAllowedValidators: 128,
  maxAllowedUids: 256,
  immunityPeriod: 4096,
  weightsRateLimit: 100,
  weightsVersionKey: 0,
  activityCutoff: 5000,
  minStakeToSetWeights: 0n,
  commitRevealEnabled: false,
  commitRevealPeriod: 1,
  burn: 1_000_000_000n,
};

const bigintLike = z
  .union([z.bigint(), z.string().regex(/^\d+$/), z.number().int().nonnegative()])
  .transform(BigInt);

/** Hyperparameters as they cross a boundary (JSON: bigints as decimal strings). */
export const hyperparamsSchema = z
  .object({
    tempo: z.number().int().min(1).max(65535),
    kappa: z.number().int().min(0).max(65535),
    bondsMovingAverage: z.number().int().min(0).max(1_000_000),
    bondsPenalty: z.number().int().min(0).max(65535),
    yuma3: z.boolean(),
    liquidAlpha: z
      .object({
        enabled: z.boolean(),
        low: z.number().min(0).max(1),
        high: z.number().min(0).max(1),
        steepness: z.number().int().min(0).max(32767),
      })
      .strict(),
    maxAllowedValidators: z.number().int().min(1).max(65535),
    maxAllowedUids: z.number().int().min(1).max(4096),
    immunityPeriod: z.number().int().min(0),
    weightsRateLimit: z.number().int().min(0),
    weightsVersionKey: z.number().int().min(0),
    activityCutoff: z.number().int().min(1),
    minStakeToSetWeights: bigintLike,
    commitRevealEnabled: z.boolean(),
    commitRevealPeriod: z.number().int().min(1).max(100),
    burn: bigintLike,
  })
  .strict();

export const partialHyperparamsSchema = hyperparamsSchema.partial().strict();

export function hyperparamsToJson(p: SubnetHyperparams): Record<string, unknown> {
  return { ...p, minStakeToSetWeights: p.minStakeToSetWeights.toString(), burn: p.burn.toString() };
}

export function hyperparamsFromJson(raw: unknown): SubnetHyperparams {
  return hyperparamsSchema.parse(raw);
}
