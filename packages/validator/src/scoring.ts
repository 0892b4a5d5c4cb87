// From what the validator knows about each UID to its score and the epoch's weights. Pure functions over
// @computemesh/core's seed formula (gpuScore) and normalization (scoresToWeights).
import { findGpu, gpuScore, scoresToWeights } from "@computemesh/core";
import type { Exclusion } from "./filters.ts";

export interface ProofSummary {
  passed: boolean;
  /** Catalog name of the proven model (null when the round failed). */
  provenModel: string | null;
  gpuCount: number;
  finishedAt: string;
}

export interface MinerScoreInput {
  uid: number;
  hotkey: string;
  /** Has an axon on the metagraph. */
  serving: boolean;
  /** Answered this epoch (specs or receipts); a miner that stops answering scores 0 in the same epoch. */
  online: boolean;
  exclusion: Exclusion | null;
  /** The most recent proof-of-GPU round, passed or failed. */
  latestProof: ProofSummary | null;
  /** Rented at scoring time according to verified receipts. */
  allocated: boolean;
  /** Is a validator (validator permit): validators are not scored as miners. */
  isValidator: boolean;
}

export type ScoreReason =
  | "ok"
  | "validator"
  | "not_serving"
  | "offline"
  | "excluded"
  | "no_proof"
  | "proof_failed"
  | "proof_expired"
  | "unknown_model";

export interface MinerScore {
  uid: number;
  hotkey: string;
  score: number;
  reason: ScoreReason;
  provenModel: string | null;
  gpuCount: number;
  allocated: boolean;
}

/**
 * One UID's score (0–100). Only a passed, unexpired proof counts (the last round stands while the machine is
 * rented, since rented machines are not re-tested); a failed latest round zeroes the score at once.
 */
export function scoreMiner(m: MinerScoreInput, now: Date, proofTtlMs: number): MinerScore {
  const base = { uid: m.uid, hotkey: m.hotkey, provenModel: null, gpuCount: 0, allocated: m.allocated };
  if (m.isValidator) return { ...base, score: 0, reason: "validator" };
  if (!m.serving) return { ...base, score: 0, reason: "not_serving" };
  if (m.exclusion) return { ...base, score: 0, reason: "excluded" };
  if (!m.online) return { ...base, score: 0, reason: "offline" };
  const p = m.latestProof;
  if (!p) return { ...base, score: 0, reason: "no_proof" };
  if (!p.passed || !p.provenModel) return { ...base, score: 0, reason: "proof_failed" };
  const proven = { ...base, provenModel: p.provenModel, gpuCount: p.gpuCount };
  if (!m.allocated && now.getTime() - Date.parse(p.finishedAt) > proofTtlMs) {
    return { ...proven, score: 0, reason: "proof_expired" };
  }
  if (!findGpu(p.provenModel)) return { ...proven, score: 0, reason: "unknown_model" };
  const score = gpuScore({ model: p.provenModel, count: p.gpuCount, allocated: m.allocated, proven: true });
  return { ...proven, score, reason: "ok" };
}

export interface EpochWeights {
  uids: number[];
  /** Normalized floats summing to 1 (what ChainClient.setWeights takes). */
  normalized: number[];
  /** The same as u16, largest = 65535 (what lands on chain). */
  u16: number[];
  /** True when every score is 0: there is nothing to set. */
  allZero: boolean;
}

/** Weights over all `n` UIDs of the subnet (UIDs without a score get 0). */
export function weightsFromScores(scores: readonly MinerScore[], n: number): EpochWeights {
  const byUid = new Map<number, number>();
  for (let uid = 0; uid < n; uid++) byUid.set(uid, 0);
  for (const s of scores) if (s.uid < n) byUid.set(s.uid, s.score);
  const w = scoresToWeights(byUid);
  const uids = [...Array(n).keys()];
  return { uids, normalized: w.normalized, u16: w.u16, allZero: w.u16.every((x) => x === 0) };
}
