import {
  div,
  fromInt,
  fromU16Proportion,
  mul,
  normalizeInPlace,
  ONE,
  sum,
  toFloat,
  toU16Proportion,
} from "./fixed.ts";

/** Sparse matrix row: [column uid, value] pairs. */
export type SparseRow = Array<[number, number]>;

export interface YumaParams {
  /** u16, 65535 = 1.0 (default 32767) */
  kappa: number;
  /** u16, 65535 = 1.0 */
  bondsPenalty: number;
  /** parts per million (900000 = 0.9) */
  bondsMovingAverage: number;
  yuma3: boolean;
  /** low/high floats 0..1 (stored on chain as u16 proportions); steepness as the chain's AlphaSigmoidSteepness */
  liquidAlpha: { enabled: boolean; low: number; high: number; steepness: number };
  maxAllowedValidators: number;
}

export interface YumaInput {
  /** number of UIDs in the subnet */
  n: number;
  currentBlock: number;
  tempo: number;
  /** blocks after the last weight update before a validator counts as inactive */
  activityCutoff: number;
  /** block of the previous epoch (`LastMechansimStepBlock`); 0 or absent = unknown (uses currentBlock − tempo) */
  lastEpochBlock?: number;
  /** raw stake per uid (rao) */
  stake: ReadonlyArray<bigint | number>;
  /** stake below this (rao) counts as zero, except for the owner */
  stakeThreshold?: bigint;
  ownerUid?: number | null;
  lastUpdate: readonly number[];
  blockAtRegistration: readonly number[];
  /** permits stored by the previous epoch */
  validatorPermit: readonly boolean[];
  /** stored weights: sparse u16 rows per uid */
  weights: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  /** stored bonds: sparse u16 rows per uid */
  bonds: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  /** with commit/reveal on: the earliest live commit block per uid (absent/Infinity = none) */
  commitBlocks?: readonly number[];
  /** alpha (rao) to distribute this epoch */
  emission: bigint;
  params: YumaParams;
}

export interface YumaOutput {
  /** floats 0..1, indexed by uid (exact I32F32 values converted to float) */
  stake: number[];
  activeStake: number[];
  consensus: number[];
  incentive: number[];
  dividends: number[];
  validatorTrust: number[];
  active: boolean[];
  /** new permits (P') */
  validatorPermit: boolean[];
  /** the bond rows to store (u16), indexed by uid: new rows for permitted uids, kept or cleared otherwise */
  bonds: SparseRow[];
  /** rao per uid */
  serverEmission: bigint[];
  validatorEmission: bigint[];
  emission: bigint[];
  /** what the chain stores as u16 */
  stored: {
    consensus: number[];
    incentive: number[];
    dividends: number[];
    validatorTrust: number[];
    stakeWeight: number[];
  };
}

type Row = Array<[number, number]>; // [uid, raw I32F32]

function sortedRow(
  row: ReadonlyArray<readonly [number, number]>,
  n: number,
  convert: (v: number) => number,
): Row {
  const out: Row = [];
  for (const [j, v] of row) if (j < n) out.push([j, convert(v)]);
  out.sort((a, b) => a[0] - b[0]);
  return out;
}

function rowNormalize(m: Row[]): void {
  for (const row of m) {
    let s = 0;
    for (const e of row) s += e[1];
    if (s > 0) for (const e of row) e[1] = div(e[1], s);
  }
}

function colNormalize(m: Row[], n: number): void {
  const colSum = new Array<number>(n).fill(0);
  for (const row of m) for (const [j, v] of row) colSum[j] += v;
  for (const row of m) for (const e of row) if (colSum[e[0]] !== 0) e[1] = div(e[1], colSum[e[0]]);
}

/** subtensor's deterministic partition search for the stake-weighted κ-quantile of one column. */
function weightedMedian(stake: number[], score: number[], minority: number, stakeSum: number): number {
  let current = stake.map((_, i) => i);
  let lo = 0;
  let hi = stakeSum;
  const limit = current.length;
  for (let iter = 0; iter <= limit; iter++) {
    const n = current.length;
    if (n === 0) return 0;
    if (n === 1) return score[current[0]];
    const pivot = score[current[n >> 1]];
    let loStake = 0;
    let hiStake = 0;
    const lower: number[] = [];
    const upper: number[] = [];
    for (const idx of current) {
      const s = score[idx];
      if (s === pivot) continue;
      if (s < pivot) {
        loStake += stake[idx];
        lower.push(idx);
      } else {
        hiStake += stake[idx];
        upper.push(idx);
      }
    }
    if (minority < lo + loStake && lower.length > 0) {
      current = lower;
      hi = lo + loStake;
    } else if (hi - hiStake <= minority && upper.length > 0) {
      current = upper;
      lo = hi - hiStake;
    } else {
      return pivot;
    }
  }
  return 0;
}

function weightedMedianColumns(activeStake: number[], w: Row[], n: number, kappa: number): number[] {
  const rows: number[] = [];
  const useStake: number[] = [];
  for (let i = 0; i < activeStake.length; i++) {
    if (activeStake[i] > 0) {
      rows.push(i);
      useStake.push(activeStake[i]);
    }
  }
  normalizeInPlace(useStake);
  const stakeSum = sum(useStake);
  const minority = stakeSum - kappa;
  const k = useStake.length;
  const columns: number[][] = Array.from({ length: n }, () => new Array<number>(k).fill(0));
  rows.forEach((i, kk) => {
    for (const [j, v] of w[i]) columns[j][kk] = v;
  });
  return columns.map((col) => weightedMedian(useStake, col, minority, stakeSum));
}

/** Stable ascending sort by value; the n − k smallest lose their permit; zero stake never holds one. */
function topkNonzero(stake: number[], k: number): boolean[] {
  const n = stake.length;
  const result = stake.map((s) => s !== 0);
  if (n < k) return result;
  const idx = stake.map((_, i) => i).sort((a, b) => stake[a] - stake[b] || a - b);
  for (let t = 0; t < n - k; t++) result[idx[t]] = false;
  return result;
}

/** `mat_ema_sparse`: α·new + (1 − α)·old over the union of entries, keeping positive results. */
function emaUnion(next: Row[], old: Row[], alpha: number): Row[] {
  const oneMinus = ONE - alpha;
  return next.map((row, i) => {
    const acc = new Map<number, number>();
    for (const [j, v] of row) acc.set(j, (acc.get(j) ?? 0) + mul(alpha, v));
    for (const [j, v] of old[i] ?? []) acc.set(j, (acc.get(j) ?? 0) + mul(oneMinus, v));
    return [...acc.entries()].filter(([, v]) => v > 0).sort((a, b) => a[0] - b[0]);
  });
}

function liquidAlphaSigmoid(
  consensus: number,
  weight: number,
  bond: number,
  low: number,
  high: number,
  steepness: number,
): number {
  const clamp = (x: number, a: number, b: number) => (x < a ? a : x > b ? b : x);
  const diffBuy = clamp(weight - consensus, 0, ONE);
  const diffSell = clamp(bond - weight, 0, ONE);
  const d = weight >= bond ? diffBuy : diffSell;
  // exponent: (steepness / −100) × (d − 0.5); e^x through float (substrate_fixed's series differs by a few ulps)
  const k = div(fromInt(steepness), fromInt(100));
  let x = -toFloat(mul(k, d - ONE / 2));
  x = clamp(x, -20, 20);
  const e = Math.floor(Math.exp(x) * ONE);
  const sigmoid = div(ONE, ONE + e);
  const alpha = low + mul(sigmoid, high - low);
  return clamp(alpha, low, high);
}

/**
 * One Yuma consensus epoch for one subnet, following subtensor's `epoch_mechanism` step by step (reference §4.2)
 * with exact I32F32 arithmetic: classic Yuma or Yuma3, with liquid alpha. Pure.
 */
export function yumaEpoch(input: YumaInput): YumaOutput {
  const { n, params } = input;
  const owner = input.ownerUid ?? null;
  const current = input.currentBlock;
  const lastUpdate = Array.from({ length: n }, (_, i) => input.lastUpdate[i] ?? 0);
  const registered = Array.from({ length: n }, (_, i) => input.blockAtRegistration[i] ?? 0);
  const active = lastUpdate.map((u) => !(u + input.activityCutoff < current));

  // Stake: zero below threshold (owner exempt), normalize in I64F64, truncate to I32F32.
  const threshold = input.stakeThreshold ?? 0n;
  const rawStake = Array.from({ length: n }, (_, i) => {
    const s = BigInt(input.stake[i] ?? 0);
    return owner !== i && s < threshold ? 0n : s;
  });
  const stakeTotal = rawStake.reduce((a, b) => a + b, 0n);
  const stake = rawStake.map((s) => (stakeTotal === 0n ? Number(s << 32n) : Number((s << 32n) / stakeTotal)));

  const oldPermit = Array.from({ length: n }, (_, i) => input.validatorPermit[i] ?? false);
  if (owner !== null && owner < n) oldPermit[owner] = true;
  const newPermit = topkNonzero(stake, params.maxAllowedValidators);
  if (owner !== null && owner < n) newPermit[owner] = true;

  const activeStake = stake.map((s, i) => (active[i] && oldPermit[i] ? s : 0));
  normalizeInPlace(activeStake);

  // Weights: drop rows without (old) permit, self-weights (except owner), weights older than the target's registration.
  let weights: Row[] = Array.from({ length: n }, (_, i) => {
    if (!oldPermit[i]) return [];
    const row = sortedRow(input.weights[i] ?? [], n, fromInt);
    return row.filter(([j]) => (i !== j || i === owner) && !(lastUpdate[i] <= registered[j]));
  });
  if (input.commitBlocks) {
    const cb = input.commitBlocks;
    weights = weights.map((row, i) =>
      row.filter(([j]) => !((cb[i] ?? Number.POSITIVE_INFINITY) < registered[j])),
    );
  }
  rowNormalize(weights);

  const kappa = div(fromInt(params.kappa), fromInt(65535));
  const consensus = weightedMedianColumns(activeStake, weights, n, kappa);

  const clipped: Row[] = weights.map((row) => {
    const out: Row = [];
    for (const [j, v] of row) {
      const th = consensus[j];
      if (th < v) {
        if (th > 0) out.push([j, th]);
      } else out.push([j, v]);
    }
    return out;
  });
  const validatorTrust = clipped.map((row) => sum(row.map((e) => e[1])));

  const ranks = new Array<number>(n).fill(0);
  clipped.forEach((row, i) => {
    for (const [j, v] of row) ranks[j] += mul(activeStake[i], v);
  });
  normalizeInPlace(ranks);
  const incentive = ranks;

  // Weights for bonds: W + β (W̄ − W).
  const beta = div(fromInt(params.bondsPenalty), fromInt(65535));
  let wb: Row[];
  if (beta === 0) wb = weights.map((r) => r.map((e) => [e[0], e[1]] as [number, number]));
  else if (beta === ONE) wb = clipped.map((r) => r.map((e) => [e[0], e[1]] as [number, number]));
  else {
    wb = weights.map((row, i) => {
      const c = new Map(clipped[i]);
      const out: Row = [];
      for (const [j, v] of row) {
        const interp = v + mul(beta, (c.get(j) ?? 0) - v);
        if (interp > 0) out.push([j, interp]);
      }
      return out;
    });
  }

  const lastTempo = input.lastEpochBlock ? input.lastEpochBlock + 1 : Math.max(0, current - input.tempo);
  const maskBondColumns = (m: Row[]): Row[] =>
    m.map((row) => row.filter(([j]) => !(lastTempo <= registered[j])));

  let dividends: number[];
  let emaBonds: Row[];
  const bmaAlpha = ONE - div(fromInt(params.bondsMovingAverage), fromInt(1_000_000));
  if (params.yuma3) {
    const bonds = maskBondColumns(input.bonds.slice(0, n).map((r) => sortedRow(r, n, fromU16Proportion)));
    while (bonds.length < n) bonds.push([]);
    const liquid = params.liquidAlpha.enabled && consensus.some((c) => c !== 0);
    const low = div(fromInt(Math.floor(params.liquidAlpha.low * 65535)), fromInt(65535));
    const high = div(fromInt(Math.floor(params.liquidAlpha.high * 65535)), fromInt(65535));
    emaBonds = liquid
      ? wb.map((newRow, i) => {
          const oldRow = new Map(bonds[i]);
          const out: Row = [];
          for (const [j, w] of newRow) {
            const old = oldRow.get(j);
            const a = liquidAlphaSigmoid(consensus[j], w, old ?? 0, low, high, params.liquidAlpha.steepness);
            const decayed = old === undefined ? 0 : mul(ONE - a, old);
            const val = Math.min(decayed + Math.max(mul(a, w), 0), ONE);
            if (val > 0) out.push([j, val]);
          }
          return out;
        })
      : emaUnion(wb, bonds, bmaAlpha);
    const norm = emaBonds.map((r) => r.map((e) => [e[0], e[1]] as [number, number]));
    colNormalize(norm, n);
    const perValidator = norm.map((row) => {
      let acc = 0;
      for (const [j, v] of row) {
        const p = mul(v, incentive[j]);
        if (p !== 0) acc += p;
      }
      return acc;
    });
    dividends = perValidator.map((t, i) => mul(t, activeStake[i]));
    normalizeInPlace(dividends);
  } else {
    const bonds = maskBondColumns(input.bonds.slice(0, n).map((r) => sortedRow(r, n, fromInt)));
    while (bonds.length < n) bonds.push([]);
    colNormalize(bonds, n);
    const delta: Row[] = wb.map((row, i) =>
      row.map(([j, v]) => [j, mul(v, activeStake[i])] as [number, number]),
    );
    colNormalize(delta, n);
    emaBonds = emaUnion(delta, bonds, bmaAlpha);
    colNormalize(emaBonds, n);
    dividends = emaBonds.map((row) => {
      let acc = 0;
      for (const [j, v] of row) acc += mul(incentive[j], v);
      return acc;
    });
    normalizeInPlace(dividends);
    const colMax = new Array<number>(n).fill(0);
    for (const row of emaBonds) for (const [j, v] of row) if (colMax[j] < v) colMax[j] = v;
    for (const row of emaBonds) for (const e of row) if (colMax[e[0]] !== 0) e[1] = div(e[1], colMax[e[0]]);
  }

  // Emission.
  const combined = incentive.map((x, i) => x + dividends[i]);
  const emissionSum = sum(combined);
  let serverShare = incentive.map((x) => div(x, emissionSum));
  let validatorShare = dividends.map((x) => div(x, emissionSum));
  let combinedShare = [...combined];
  normalizeInPlace(combinedShare);
  if (emissionSum === 0) {
    serverShare = incentive.slice();
    const base = activeStake.every((s) => s === 0) ? stake : activeStake;
    validatorShare = base.slice();
    combinedShare = base.slice();
  }
  const E = input.emission;
  const toRao = (share: number) => (BigInt(share) * E) >> 32n;

  const bondsOut: SparseRow[] = Array.from({ length: n }, (_, i) => {
    if (newPermit[i]) return emaBonds[i].map(([j, v]) => [j, toU16Proportion(v)] as [number, number]);
    if (oldPermit[i]) return [];
    return (input.bonds[i] ?? []).map(([j, v]) => [j, v] as [number, number]);
  });

  const u16 = (xs: number[]) => xs.map(toU16Proportion);
  return {
    stake: stake.map(toFloat),
    activeStake: activeStake.map(toFloat),
    consensus: consensus.map(toFloat),
    incentive: incentive.map(toFloat),
    dividends: dividends.map(toFloat),
    validatorTrust: validatorTrust.map(toFloat),
    active,
    validatorPermit: newPermit,
    bonds: bondsOut,
    serverEmission: serverShare.map(toRao),
    validatorEmission: validatorShare.map(toRao),
    emission: combinedShare.map(toRao),
    stored: {
      consensus: u16(consensus),
      incentive: u16(incentive),
      dividends: u16(dividends),
      validatorTrust: u16(validatorTrust),
      stakeWeight: u16(stake),
    },
  };
}
