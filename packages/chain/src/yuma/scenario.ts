import { CmeshError } from "@computemesh/core";
import { z } from "zod";
import { maxUpscaleU16 } from "../weights.ts";
import { type SparseRow, type YumaParams, yumaEpoch } from "./epoch.ts";

const weightMap = z.record(z.string().regex(/^\d+$/), z.number().finite().nonnegative());

/** The `cmesh sim yuma` scenario format (see README). Unknown keys are rejected so typos do not pass silently. */
export const yumaScenarioSchema = z
  .object({
    params: z
      .object({
        kappa: z.number().int().min(0).max(65535).default(32767),
        bondsMovingAverage: z.number().int().min(0).max(1_000_000).default(900_000),
        bondsPenalty: z.number().int().min(0).max(65535).default(65535),
        yuma3: z.boolean().default(false),
        liquidAlpha: z
          .object({
            enabled: z.boolean().default(false),
            low: z.number().min(0).max(1).default(0.7),
            high: z.number().min(0).max(1).default(0.9),
            steepness: z.number().int().min(0).max(32767).default(1000),
          })
          .strict()
          .default({ enabled: false, low: 0.7, high: 0.9, steepness: 1000 }),
        maxAllowedValidators: z.number().int().min(1).max(65535).default(128),
        tempo: z.number().int().min(1).max(65535).default(360),
        activityCutoff: z.number().int().min(1).default(5000),
        ownerUid: z.number().int().min(0).nullable().default(null),
      })
      .strict()
      .default({} as never),
    /** relative stake per uid (TAO); converted to rao */
    stake: z.array(z.number().finite().nonnegative()).min(1).max(65535),
    /** alpha rao distributed per epoch (default 1e9) */
    emission: z.number().int().nonnegative().default(1_000_000_000),
    epochs: z
      .array(z.object({ weights: z.record(z.string().regex(/^\d+$/), weightMap).default({}) }).strict())
      .min(1),
  })
  .strict();

export type YumaScenario = z.input<typeof yumaScenarioSchema>;

export interface YumaScenarioEpoch {
  consensus: number[];
  incentive: number[];
  dividends: number[];
  validatorTrust: number[];
  /** dense u16 bond rows, one per uid (validator rows carry the values) */
  bonds: number[][];
  validatorPermit: boolean[];
  /** rao per uid */
  emission: string[];
}

/**
 * Runs Yuma alone over a scenario: all UIDs registered at block 0; before each epoch the listed validators set
 * weights (stored as the chain stores them: max-upscaled u16, zeros kept); a validator missing from an epoch keeps
 * its previous weights and last-update block. Bonds and permits carry over between epochs through u16 storage.
 */
export function simulateYuma(raw: unknown): { epochs: YumaScenarioEpoch[] } {
  const parsed = yumaScenarioSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CmeshError("INVALID_SCENARIO", `invalid Yuma scenario: ${z.prettifyError(parsed.error)}`, {
      hint: 'expected {"params": {...}, "stake": [...], "epochs": [{"weights": {"0": {"3": 1}}}]}',
    });
  }
  const sc = parsed.data;
  const n = sc.stake.length;
  const p = sc.params;
  const params: YumaParams = {
    kappa: p.kappa,
    bondsMovingAverage: p.bondsMovingAverage,
    bondsPenalty: p.bondsPenalty,
    yuma3: p.yuma3,
    liquidAlpha: p.liquidAlpha,
    maxAllowedValidators: p.maxAllowedValidators,
  };
  const stake = sc.stake.map((s) => BigInt(Math.round(s * 1e9)));
  let weights: SparseRow[] = Array.from({ length: n }, () => []);
  let bonds: SparseRow[] = Array.from({ length: n }, () => []);
  let permits = new Array<boolean>(n).fill(false);
  const lastUpdate = new Array<number>(n).fill(0);
  const registeredAt = new Array<number>(n).fill(0);
  let lastEpochBlock = 0;
  const out: YumaScenarioEpoch[] = [];
  sc.epochs.forEach((epoch, e) => {
    const block = (e + 1) * (p.tempo + 1);
    for (const [v, row] of Object.entries(epoch.weights)) {
      const uid = Number(v);
      if (uid >= n) throw new CmeshError("INVALID_SCENARIO", `epoch ${e}: validator uid ${uid} ≥ n (${n})`);
      const entries = Object.entries(row).map(([k, w]) => [Number(k), w] as const);
      for (const [j] of entries) {
        if (j >= n)
          throw new CmeshError("INVALID_SCENARIO", `epoch ${e}: uid ${uid} weights uid ${j} ≥ n (${n})`);
      }
      const values = maxUpscaleU16(entries.map(([, w]) => w));
      weights[uid] = entries.map(([j], k) => [j, values[k]] as [number, number]);
      lastUpdate[uid] = block - 1;
    }
    const r = yumaEpoch({
      n,
      currentBlock: block,
      tempo: p.tempo,
      activityCutoff: p.activityCutoff,
      lastEpochBlock,
      stake,
      ownerUid: p.ownerUid,
      lastUpdate,
      blockAtRegistration: registeredAt,
      validatorPermit: permits,
      weights,
      bonds,
      emission: BigInt(sc.emission),
      params,
    });
    bonds = r.bonds;
    permits = r.validatorPermit;
    lastEpochBlock = block;
    weights = weights.map((row) => row.slice());
    out.push({
      consensus: r.consensus,
      incentive: r.incentive,
      dividends: r.dividends,
      validatorTrust: r.validatorTrust,
      bonds: bonds.map((row) => {
        const dense = new Array<number>(n).fill(0);
        for (const [j, v] of row) dense[j] = v;
        return dense;
      }),
      validatorPermit: r.validatorPermit,
      emission: r.emission.map(String),
    });
  });
  return { epochs: out };
}
