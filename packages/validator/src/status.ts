// The table `cmesh validator status` prints, built from the store alone (works while the validator runs or not).
import { INCONCLUSIVE_POG_REASONS } from "./proofs.ts";
import type { ValidatorStore } from "./store/store.ts";

export interface StatusRow {
  uid: number;
  hotkey: string;
  axon: string | null;
  claimedGpu: string | null;
  provenGpu: string | null;
  gpuCount: number;
  lastProof: "passed" | "failed" | null;
  lastProofReason: string | null;
  lastProofAt: string | null;
  verified: boolean;
  online: boolean;
  score: number;
  allocated: boolean;
  epoch: number | null;
}

export async function buildStatus(
  store: ValidatorStore,
  opts: { ttlMs: number; now: Date },
): Promise<StatusRow[]> {
  const epoch = (await store.latestScoredEpoch()) ?? null;
  const scores = new Map((epoch === null ? [] : await store.scoresForEpoch(epoch)).map((s) => [s.hotkey, s]));
  const rows: StatusRow[] = [];
  for (const m of await store.listMiners()) {
    const proof = await store.latestConclusivePog(m.hotkey, INCONCLUSIVE_POG_REASONS);
    let claimed: string | null = null;
    if (m.specs_json) {
      try {
        claimed =
          (JSON.parse(m.specs_json) as { gpu?: { details?: { name: string }[] } }).gpu?.details?.[0]?.name ??
          "CPU";
      } catch {
        claimed = null;
      }
    }
    const s = scores.get(m.hotkey);
    const fresh = proof ? opts.now.getTime() - Date.parse(proof.finished_at) <= opts.ttlMs : false;
    rows.push({
      uid: m.uid,
      hotkey: m.hotkey,
      axon: m.ip && m.port ? `${m.ip}:${m.port}` : null,
      claimedGpu: claimed,
      provenGpu: proof?.passed === 1 ? proof.proven_model : null,
      gpuCount: proof?.passed === 1 ? proof.gpu_count : 0,
      lastProof: proof ? (proof.passed === 1 ? "passed" : "failed") : null,
      lastProofReason: proof?.reason ?? null,
      lastProofAt: proof?.finished_at ?? null,
      verified: proof?.passed === 1 && (fresh || s?.allocated === 1),
      online: m.specs_failures === 0 && m.specs_at !== null,
      score: s?.score ?? 0,
      allocated: s?.allocated === 1,
      epoch,
    });
  }
  return rows;
}
