import type { Validator } from "@computemesh/validator";
import type { MachineHistoryView, MarketBackend, NetworkView } from "./backend.ts";

const RAO_PER_TAO = 1e9;

/**
 * The market of a real `Validator`, with the optional extensions the web UI uses: the metagraph (network page),
 * proof and score history (machine page) from the validator's store, and signed job receipts. Every contract
 * member is passed straight through.
 *
 * @example await startApiServer({ backend: validatorMarket(validator), db: validator.store.db, port: 8080 });
 */
export function validatorMarket(v: Validator): MarketBackend {
  const db = v.store.db;
  return {
    listMachines: () => v.listMachines(),
    rent: (req) => v.rent(req),
    release: (id, reason) => v.release(id, reason),
    allocation: (id) => v.allocation(id),
    onAllocationEvent: (cb) => v.onAllocationEvent(cb),
    submitJob: (spec, opts) => v.submitJob(spec, opts),
    job: (id) => v.job(id),
    jobLogs: (id, from) => v.jobLogs(id, from),
    jobOutputs: (id) => v.jobOutputs(id),
    cancelJob: (id) => v.cancelJob(id),

    async jobReceipt(jobId) {
      const r = await v.jobs?.jobReceipt(jobId);
      if (!r) return undefined;
      return {
        jobId,
        payload: r.payload as unknown as Record<string, unknown>,
        validatorSignature: r.validatorSignature,
        minerSignature: r.minerSignature,
      };
    },

    async network(): Promise<NetworkView> {
      const mg = await v.syncMetagraph();
      const rows = await db
        .selectFrom("scores")
        .select(["epoch", "score"])
        .orderBy("epoch", "desc")
        .limit(5000)
        .execute();
      const byEpoch = new Map<number, number[]>();
      for (const r of rows)
        byEpoch.set(Number(r.epoch), [...(byEpoch.get(Number(r.epoch)) ?? []), Number(r.score)]);
      const epochs = [...byEpoch.keys()].sort((a, b) => a - b).slice(-50);
      return {
        netuid: mg.netuid,
        block: mg.block,
        epoch: epochs.at(-1),
        neurons: mg.neurons.map((n) => ({
          uid: n.uid,
          hotkey: n.hotkey,
          coldkey: n.coldkey,
          stake: Number(n.stake) / RAO_PER_TAO,
          incentive: n.incentive,
          dividends: n.dividends,
          emission: Number(n.emission) / RAO_PER_TAO,
          trust: n.trust,
          validatorPermit: n.validatorPermit,
          isValidator: n.validatorPermit && Number(n.stake) > 0,
        })),
        // The validator's own view per epoch: total and mean of the scores it computed.
        history: epochs.map((e) => {
          const s = byEpoch.get(e) ?? [];
          const total = s.reduce((a, b) => a + b, 0);
          return {
            epoch: e,
            totalScore: total,
            meanScore: s.length ? total / s.length : 0,
            neurons: s.length,
          };
        }),
      };
    },

    async machineHistory(hotkey: string): Promise<MachineHistoryView> {
      const proofs = await db
        .selectFrom("pog_results")
        .select(["finished_at", "passed", "proven_model", "measured_tops", "reason"])
        .where("hotkey", "=", hotkey)
        .orderBy("finished_at", "desc")
        .limit(50)
        .execute();
      const scores = await db
        .selectFrom("scores")
        .select(["computed_at", "score"])
        .where("hotkey", "=", hotkey)
        .orderBy("computed_at", "desc")
        .limit(100)
        .execute();
      const probes = await db
        .selectFrom("probes")
        .select(["at", "ok"])
        .where("hotkey", "=", hotkey)
        .orderBy("at", "desc")
        .limit(500)
        .execute();
      // Uptime at each score sample: share of probes passed in the samples up to it (running window of 20).
      const probesAsc = [...probes].reverse();
      const uptimeAt = (at: string) => {
        const window = probesAsc.filter((p) => p.at <= at).slice(-20);
        return window.length ? window.filter((p) => Number(p.ok) === 1).length / window.length : undefined;
      };
      return {
        proofs: proofs.map((p) => ({
          at: p.finished_at,
          passed: Number(p.passed) === 1,
          model: p.proven_model,
          measuredTops: p.measured_tops === null ? null : Number(p.measured_tops),
          reason: p.reason ?? undefined,
        })),
        scores: scores
          .reverse()
          .map((s) => ({ at: s.computed_at, score: Number(s.score), reliability: uptimeAt(s.computed_at) })),
      };
    },
  };
}
