// `cmesh sim network`: the real protocol (axons and dendrites on 127.0.0.1, signed synapses), the real validator
// (specs, receipts, proof-of-GPU verification, scoring, weights) and the embedded chain's Yuma, with honest and
// cheating miners. The only modeled part is GPU speed: validators run proof-of-GPU in SIMULATED mode (timing from
// the claimed model's speed model), and a timing audit (the same round, non-simulated, on each miner's virtual
// device clock) measures what a real validator clock would see.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalChain } from "@computemesh/chain";
import { CmeshError } from "@computemesh/core";
import { allowSimulatedPog, runPogRound } from "@computemesh/pog";
import { cryptoReady, Dendrite, keypairFromUri } from "@computemesh/protocol";
import { type EpochReport, Validator } from "@computemesh/validator";
import { pino } from "pino";
import { z } from "zod";
import {
  CHEATER_KINDS,
  type CheaterKind,
  HONEST_MODELS,
  type MinerKind,
  type MinerPlan,
  type SimMiner,
  startSimMiner,
} from "./miners.ts";
import { agreement, mulberry32, shuffle } from "./stats.ts";

const TAO = 1_000_000_000n;
/** Virtual seconds per simulated epoch (the validators' clock; proof schedules are in these seconds). */
const EPOCH_SEC = 600;
const EPOCH_BLOCKS = 10;
/** Small proof-of-GPU workload (128 rows, 66 opened) so hundreds of rounds fit on a laptop CPU. */
const WORKLOAD = { n: 64, m: 2 };
/** Epoch (0-based) after whose scoring the renting validator rents the victim and the drop-out miners. */
const RENT_EPOCH = 1;
/** Epoch (0-based) at whose start the drop-out miners stop their axons. */
const DROP_EPOCH = 2;

export const NetworkSimOptionsSchema = z.object({
  miners: z.number().int().min(6).max(1024),
  validators: z.number().int().min(1).max(64),
  cheaters: z.number().min(0).max(0.9),
  epochs: z.number().int().min(3).max(1000),
  seed: z.number().int().nonnegative(),
  /** Proof-of-GPU mean interval in virtual seconds (each epoch is 600 s). */
  pogIntervalSec: z.number().positive().default(1800),
});
export type NetworkSimOptions = z.input<typeof NetworkSimOptionsSchema>;

export interface KindFigures {
  miners: number;
  /** Share of (miner, validator) pairs whose final-epoch score shows the cheat (0, or no rental bonus for replays). */
  detectionRate: number;
  /**
   * Share of miners of this kind the timing audit (the validator's round timed on the modeled device clock) fails
   * (null when none was audited: the drop-outs are gone by then).
   */
  auditFailRate: number | null;
  /** Reasons of failed proof-of-GPU rounds across validators, with counts. */
  reasons: Record<string, number>;
  /** Timing-audit outcomes ("passed" or "failed <reason>"), with counts. */
  audit: Record<string, number>;
}

export interface NetworkSimResult {
  mode: "simulated-pog";
  modeled: string;
  config: z.output<typeof NetworkSimOptionsSchema>;
  kinds: Record<CheaterKind, KindFigures>;
  honest: {
    miners: number;
    /** Share of (honest miner, validator, epoch) scores that were not "ok". */
    falsePositiveRate: number;
    falsePositives: number;
    auditFailRate: number;
    audit: Record<string, number>;
  };
  epochs: {
    epoch: number;
    honestIncentive: number;
    cheaterIncentive: number;
    byKind: Record<string, number>;
    /** Mean and minimum pairwise cosine similarity of the validators' weight vectors. */
    weightAgreement: { mean: number; min: number };
    proofsRun: number;
    ms: number;
  }[];
  rentals: { rented: number; lostDeclared: number };
  /** Fetched receipts the validators rejected (forged, replayed from another miner, other network), summed. */
  receiptsRejected: number;
  wallMs: number;
}

function countBy(items: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[i] = (out[i] ?? 0) + 1;
  return out;
}

function planMiners(miners: number, cheaterFraction: number, rand: () => number): MinerPlan[] {
  const cheaters = Math.round(miners * cheaterFraction);
  const kinds: MinerKind[] = [];
  for (let i = 0; i < cheaters; i++) kinds.push(CHEATER_KINDS[i % CHEATER_KINDS.length]);
  // shared UUIDs come in pairs
  const shared = kinds.filter((k) => k === "shared_uuid").length;
  if (shared % 2 === 1) kinds[kinds.lastIndexOf("shared_uuid")] = "partial_compute";
  while (kinds.length < miners) kinds.push("honest");
  // miner 0 is the honest rental whose receipts the replaying miners copy
  const order = [kinds[kinds.length - 1], ...shuffle(kinds.slice(0, -1), rand)];
  let pair = 0;
  let sharedSeen = 0;
  return order.map((kind, index) => {
    const model = HONEST_MODELS[Math.floor(rand() * HONEST_MODELS.length)];
    const plan: MinerPlan = {
      index,
      kind,
      claimedModel: model,
      actualModel: model,
      count: 1,
      uuids: [`GPU-sim-${index.toString(16).padStart(8, "0")}-0`],
    };
    if (kind === "slow_gpu") {
      // same memory as the claim (80 GB), about a third of its int8 throughput
      plan.claimedModel = "NVIDIA H100 80GB HBM3";
      plan.actualModel = "NVIDIA A100 80GB PCIe";
    } else if (kind === "spoofed_specs") {
      // an H100-class compute die with half the memory its specs claim
      plan.claimedModel = "NVIDIA H100 80GB HBM3";
      plan.actualModel = "NVIDIA H100 80GB HBM3";
    } else if (kind === "shared_uuid") {
      if (sharedSeen++ % 2 === 0) pair = index;
      plan.uuids = [`GPU-sim-shared-${pair.toString(16).padStart(8, "0")}-0`];
    }
    return plan;
  });
}

/** Runs the whole simulation and tears everything down. */
export async function runNetworkSim(
  input: NetworkSimOptions,
  progress: (line: string) => void = () => {},
): Promise<NetworkSimResult> {
  const parsed = NetworkSimOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new CmeshError("INVALID_ARGUMENT", `bad simulation options: ${parsed.error.issues[0]?.message}`, {
      hint: "--miners ≥ 6, --validators ≥ 1, --cheaters in [0, 0.9], --epochs ≥ 3",
    });
  }
  const cfg = parsed.data;
  const started = performance.now();
  await cryptoReady();
  const rand = mulberry32(cfg.seed);
  const dir = mkdtempSync(join(tmpdir(), "cmesh-sim-network-"));
  const chain = await LocalChain.open({ dbPath: join(dir, "chain.sqlite"), blockTimeMs: 0, create: true });
  const client = chain.client();
  const miners: SimMiner[] = [];
  const validators: Validator[] = [];
  try {
    const owner = keypairFromUri(`//sim-${cfg.seed}-owner`);
    await chain.faucet(owner.address, 10_000n * TAO);
    const netuid = await chain.createSubnet(owner, {
      tempo: EPOCH_BLOCKS - 1,
      burn: TAO,
      weightsRateLimit: 1,
      maxAllowedValidators: cfg.validators,
      maxAllowedUids: cfg.miners + cfg.validators + 1,
      activityCutoff: 100_000,
    });
    await chain.advanceBlocks(1);

    const vKeys = [];
    for (let i = 0; i < cfg.validators; i++) {
      const hotkey = keypairFromUri(`//sim-${cfg.seed}-validator-${i}`);
      const coldkey = keypairFromUri(`//sim-${cfg.seed}-validator-${i}-cold`);
      await chain.faucet(coldkey.address, 1010n * TAO);
      await client.burnedRegister(netuid, hotkey.address, coldkey);
      await client.addStake(netuid, hotkey.address, 1000n * TAO, coldkey);
      vKeys.push(hotkey);
    }

    const plans = planMiners(cfg.miners, cfg.cheaters, rand);
    progress(`starting ${plans.length} miner axons on 127.0.0.1`);
    for (const plan of plans) {
      const victim = miners[0];
      miners.push(
        await startSimMiner({
          chain: client,
          faucet: (a, r) => chain.faucet(a, r),
          netuid,
          plan,
          hotkey: keypairFromUri(`//sim-${cfg.seed}-miner-${plan.index}`),
          coldkey: keypairFromUri(`//sim-${cfg.seed}-miner-${plan.index}-cold`),
          dir,
          replaySource: victim ? () => victim.receipts.receipts() : undefined,
        }),
      );
    }
    await chain.advanceBlocks(EPOCH_BLOCKS);

    let virtualNow = Date.now();
    const now = () => new Date(virtualNow);
    const pogSimulation = allowSimulatedPog({ network: "local", chainEndpoint: "embedded" });
    const silent = pino({ level: "silent" });
    for (let i = 0; i < cfg.validators; i++) {
      const vRand = mulberry32(cfg.seed * 1000 + i + 1);
      validators.push(
        await Validator.start({
          chain: chain.client(),
          hotkey: vKeys[i],
          netuid,
          db: join(dir, `validator-${i}.db`),
          epochBlocks: EPOCH_BLOCKS,
          autoRun: false,
          jobs: false,
          logger: silent,
          now,
          random: vRand,
          pogSimulation,
          pog: {
            initialDelayMaxSec: 0,
            meanIntervalSec: cfg.pogIntervalSec,
            retryAfterSec: 60,
            ttlSec: cfg.pogIntervalSec * 3,
            workload: WORKLOAD,
            concurrency: 8,
          },
          health: { timeoutMs: 2000, maxFailures: 1 },
          weights: { retryBaseMs: 0 },
        }),
      );
    }

    const hotkeyKind = new Map(miners.map((m) => [m.hotkey.address, m.plan.kind]));
    const reports: EpochReport[][] = [];
    const epochs: NetworkSimResult["epochs"] = [];
    let rented = 0;
    const allocationIds: string[] = [];
    for (let e = 0; e < cfg.epochs; e++) {
      const t0 = performance.now();
      if (e === DROP_EPOCH) {
        for (const m of miners) if (m.plan.kind === "dropout") await m.stop();
      }
      const round = await Promise.all(validators.map((v) => v.runEpoch()));
      reports.push(round);
      if (e === RENT_EPOCH) {
        for (const m of miners) {
          if (m.plan.index !== 0 && m.plan.kind !== "dropout") continue;
          try {
            const a = await validators[0].rent({
              minerHotkey: m.hotkey.address,
              sshPublicKey:
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNpbXVsYXRlZHNpbXVsYXRlZHNpbXVsYXRlZHNpbQ sim",
              durationSec: 24 * 3600,
            });
            allocationIds.push(a.allocationId);
            rented++;
          } catch (err) {
            progress(`rent of miner ${m.plan.index} failed: ${(err as Error).message}`);
          }
        }
      }
      if (e >= DROP_EPOCH) await validators[0].checkAllocations();
      await chain.advanceBlocks(EPOCH_BLOCKS);
      virtualNow += EPOCH_SEC * 1000;
      const mg = chain.metagraph(netuid);
      const byKind: Record<string, number> = {};
      for (const n of mg.neurons) {
        const kind = hotkeyKind.get(n.hotkey);
        if (kind) byKind[kind] = (byKind[kind] ?? 0) + n.incentive;
      }
      const honestIncentive = byKind.honest ?? 0;
      const total = Object.values(byKind).reduce((a, b) => a + b, 0);
      epochs.push({
        epoch: e,
        honestIncentive: total > 0 ? honestIncentive / total : 0,
        cheaterIncentive: total > 0 ? (total - honestIncentive) / total : 0,
        byKind: Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, total > 0 ? v / total : 0])),
        weightAgreement: agreement(round.filter((r) => r.scored).map((r) => r.u16)),
        proofsRun: round.reduce((a, r) => a + r.proofsRun, 0),
        ms: Math.round(performance.now() - t0),
      });
      progress(
        `epoch ${e}: honest incentive ${(epochs[e].honestIncentive * 100).toFixed(1)} %, cheaters ${(epochs[e].cheaterIncentive * 100).toFixed(1)} %, ${epochs[e].proofsRun} proofs, ${epochs[e].ms} ms`,
      );
    }

    // timing audit: the same round, non-simulated, timed by each miner's modeled device clock
    const auditDendrite = new Dendrite({ hotkey: vKeys[0] });
    const auditFailed = new Map<string, boolean>();
    const auditOutcome = new Map<string, string>();
    for (const m of miners) {
      if (m.stopped) continue;
      const v = await runPogRound(
        auditDendrite,
        m.axon.target(),
        { model: m.plan.claimedModel, count: m.plan.count, uuids: m.plan.uuids },
        { workload: WORKLOAD, vram: false, clock: () => m.clock.now },
      );
      // The audit checks the work and the compute timing only (VRAM is skipped: its small simulated buffer cannot
      // be timed against the claimed memory), so a pass here is reported without a model.
      auditFailed.set(m.hotkey.address, !v.passed);
      auditOutcome.set(m.hotkey.address, v.passed ? "passed" : `failed ${v.reason}`);
    }

    const last = reports[reports.length - 1];
    const lost = (await Promise.all(allocationIds.map((id) => validators[0].allocation(id)))).filter(
      (a) => a?.state === "lost",
    ).length;
    const reasons = new Map<string, Record<string, number>>();
    for (const v of validators) {
      for (const m of miners) {
        for (const r of await v.store.pogResults(m.hotkey.address, 10_000)) {
          if (r.passed) continue;
          const byReason = reasons.get(m.plan.kind) ?? {};
          const key = r.reason ?? "FAILED";
          byReason[key] = (byReason[key] ?? 0) + 1;
          reasons.set(m.plan.kind, byReason);
        }
      }
    }
    let receiptsRejected = 0;
    for (const v of validators) {
      const m = /cmesh_validator_receipts_total\{source="fetched",result="rejected"\} (\d+)/.exec(
        await v.metrics.text(),
      );
      receiptsRejected += Number(m?.[1] ?? 0);
    }
    const kinds = {} as Record<CheaterKind, KindFigures>;
    for (const kind of CHEATER_KINDS) {
      const set = miners.filter((m) => m.plan.kind === kind);
      let caught = 0;
      for (const m of set) {
        for (const r of last) {
          const s = r.scores.find((x) => x.hotkey === m.hotkey.address);
          const shows = kind === "replayed_receipts" ? !s?.allocated : !s || s.score === 0;
          if (shows) caught++;
        }
      }
      const audited = set.filter((m) => auditFailed.has(m.hotkey.address));
      kinds[kind] = {
        miners: set.length,
        detectionRate: set.length ? caught / (set.length * last.length) : 0,
        auditFailRate: audited.length
          ? audited.filter((m) => auditFailed.get(m.hotkey.address)).length / audited.length
          : null,
        reasons: reasons.get(kind) ?? {},
        audit: countBy(audited.map((m) => auditOutcome.get(m.hotkey.address) ?? "")),
      };
    }
    const honest = miners.filter((m) => m.plan.kind === "honest");
    let fp = 0;
    let honestScores = 0;
    for (const round of reports) {
      for (const r of round) {
        for (const m of honest) {
          const s = r.scores.find((x) => x.hotkey === m.hotkey.address);
          honestScores++;
          if (!s || s.reason !== "ok") fp++;
        }
      }
    }
    return {
      mode: "simulated-pog",
      modeled:
        "GPU speed only: validators time proof-of-GPU with the claimed model's speed model (SIMULATED mode); the timing audit uses each miner's modeled device time. Every synapse, signature, verification, score, weight and Yuma epoch is real.",
      config: cfg,
      kinds,
      honest: {
        miners: honest.length,
        falsePositiveRate: honestScores ? fp / honestScores : 0,
        falsePositives: fp,
        auditFailRate: honest.length
          ? honest.filter((m) => auditFailed.get(m.hotkey.address)).length / honest.length
          : 0,
        audit: countBy(honest.map((m) => auditOutcome.get(m.hotkey.address) ?? "")),
      },
      epochs,
      rentals: { rented, lostDeclared: lost },
      receiptsRejected,
      wallMs: Math.round(performance.now() - started),
    };
  } finally {
    for (const v of validators) await v.stop().catch(() => {});
    for (const m of miners) await m.stop().catch(() => {});
    await chain.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
