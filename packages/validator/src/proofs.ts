// Proof-of-GPU rounds on the randomized schedule: the claim comes from the miner's specs, the verdict from
// @computemesh/pog's runPogRound (the validator's own clock and recomputation), and every verdict is stored with
// the time of the next round in one transaction, so a restart neither loses nor repeats a round.
import { findGpu } from "@computemesh/core";
import { runPogRound, type PogVerdict, type SimulationGrant, type UuidRegistry } from "@computemesh/pog";
import type { AxonTarget, Dendrite, MachineSpecs } from "@computemesh/protocol";
import type { Logger } from "pino";
import type { ValidatorMetrics } from "./metrics.ts";
import { nextPogAt, type PogScheduleOptions, retryPogAt } from "./schedule.ts";
import type { ValidatorStore } from "./store/store.ts";

/** Verdict reasons that say the round could not run, not that the miner lied: retried soon, not scored. */
export const INCONCLUSIVE_POG_REASONS = ["UNREACHABLE", "MINER_REFUSED"] as const;

export interface GpuClaim {
  model: string;
  count: number;
  uuids: string[];
}

/**
 * What the miner's specs claim: the most common GPU model and its devices (with UUIDs), or the CPU class for a
 * machine without GPUs. Null when the specs name no model the catalog knows.
 */
export function claimFromSpecs(specs: MachineSpecs): GpuClaim | null {
  if (specs.gpu.count === 0 || specs.gpu.details.length === 0) return { model: "CPU", count: 1, uuids: [] };
  const byModel = new Map<string, { name: string; uuids: string[] }>();
  for (const d of specs.gpu.details) {
    const model = findGpu(d.name);
    if (!model) continue;
    const entry = byModel.get(model.id) ?? { name: model.name, uuids: [] };
    entry.uuids.push(d.uuid);
    byModel.set(model.id, entry);
  }
  const best = [...byModel.values()].sort((a, b) => b.uuids.length - a.uuids.length)[0];
  return best ? { model: best.name, count: best.uuids.length, uuids: best.uuids } : null;
}

export interface ProofRunnerDeps {
  store: ValidatorStore;
  dendrite: Dendrite;
  uuidRegistry: UuidRegistry;
  schedule: PogScheduleOptions;
  random: () => number;
  now: () => Date;
  log: Logger;
  metrics: ValidatorMetrics;
  simulation?: SimulationGrant;
  workload?: { n: number; m: number };
  samples?: number;
  vram: boolean;
}

export interface DueProof {
  target: AxonTarget;
  specs: MachineSpecs;
  /** The scheduled slot (miners.next_pog_at): identifies the round, so a replayed slot is stored once. */
  slot: string;
}

export async function runProof(d: ProofRunnerDeps, due: DueProof): Promise<PogVerdict | null> {
  const hotkey = due.target.hotkey;
  const claim = claimFromSpecs(due.specs);
  const startedAt = d.now().toISOString();
  let verdict: PogVerdict;
  if (!claim) {
    verdict = {
      passed: false,
      reason: "UNKNOWN_MODEL",
      message: `no GPU in the specs is in the catalog (${due.specs.gpu.details.map((g) => g.name).join(", ")})`,
      hotkey,
      claim: { model: due.specs.gpu.details[0]?.name ?? "", count: due.specs.gpu.count, uuids: [] },
      provenModel: null,
      measuredTops: 0,
      elapsedMs: 0,
      computeMs: 0,
      rttMs: 0,
      simulated: d.simulation !== undefined,
      at: startedAt,
    };
  } else {
    try {
      verdict = await runPogRound(d.dendrite, due.target, claim, {
        uuidRegistry: d.uuidRegistry,
        simulation: d.simulation,
        workload: d.workload,
        samples: d.samples,
        ...(d.vram ? {} : { vram: false as const }),
        logger: d.log,
      });
    } catch (err) {
      d.log.error({ err, miner: hotkey }, "proof-of-GPU round crashed; will retry");
      await d.store.setNextPog(hotkey, retryPogAt(d.now(), d.schedule, d.random).toISOString());
      return null;
    }
  }
  const inconclusive = (INCONCLUSIVE_POG_REASONS as readonly string[]).includes(verdict.reason ?? "");
  const now = d.now();
  const next = inconclusive ? retryPogAt(now, d.schedule, d.random) : nextPogAt(now, d.schedule, d.random);
  await d.store.recordPogResult(
    {
      roundId: `${hotkey}@${due.slot}`,
      hotkey,
      startedAt,
      finishedAt: now.toISOString(),
      passed: verdict.passed,
      reason: verdict.passed ? null : (verdict.reason ?? "FAILED"),
      claimedModel: claim?.model ?? verdict.claim.model ?? null,
      provenModel: verdict.passed ? verdict.provenModel : null,
      gpuCount: verdict.claim.count,
      measuredTops: Number.isFinite(verdict.measuredTops) ? verdict.measuredTops : null,
      simulated: verdict.simulated,
      uuids: verdict.claim.uuids,
    },
    next.toISOString(),
  );
  d.metrics.proofs.inc({
    result: verdict.passed ? "passed" : "failed",
    reason: verdict.passed ? "ok" : (verdict.reason ?? "FAILED"),
  });
  d.log.info(
    {
      miner: hotkey,
      passed: verdict.passed,
      reason: verdict.reason,
      model: verdict.provenModel,
      tops: verdict.measuredTops,
      next: next.toISOString(),
    },
    "proof-of-GPU round done",
  );
  return verdict;
}
