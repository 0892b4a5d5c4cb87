// `npm run bench -- yuma`: one Yuma epoch (exact I32F32 emulation, as the local chain runs it) for
// 256 UIDs × 64 validators and 4096 UIDs × 256 validators with random sparse weights, classic and Yuma3 +
// liquid alpha. Baseline measured in the same run: a naive dense float64 classic Yuma (sort-based median).
import { type SparseRow, type YumaInput, yumaEpoch } from "@computemesh/chain";

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function scenario(n: number, validators: number, seed: number) {
  const rand = mulberry32(seed);
  const perRow = Math.max(8, Math.floor(n / 10));
  const weights: SparseRow[] = Array.from({ length: n }, (_, i) => {
    if (i >= validators) return [];
    const cols = new Set<number>();
    while (cols.size < perRow) cols.add(validators + Math.floor(rand() * (n - validators)));
    return [...cols]
      .sort((a, b) => a - b)
      .map((j) => [j, 1 + Math.floor(rand() * 65534)] as [number, number]);
  });
  const stake = Array.from({ length: n }, (_, i) =>
    i < validators ? BigInt(1 + Math.floor(rand() * 1e6)) * 1_000_000_000n : 0n,
  );
  return { weights, stake };
}

function input(n: number, validators: number, yuma3: boolean, seed: number): YumaInput {
  const { weights, stake } = scenario(n, validators, seed);
  return {
    n,
    currentBlock: 10_000,
    tempo: 360,
    activityCutoff: 5000,
    lastEpochBlock: 9_639,
    stake,
    lastUpdate: new Array(n).fill(9_900),
    blockAtRegistration: new Array(n).fill(1),
    validatorPermit: Array.from({ length: n }, (_, i) => i < validators),
    weights,
    bonds: Array.from({ length: n }, () => []),
    emission: 1_000_000_000n * 360n,
    params: {
      kappa: 32767,
      bondsPenalty: 65535,
      bondsMovingAverage: 900_000,
      yuma3,
      liquidAlpha: { enabled: yuma3, low: 0.7, high: 0.9, steepness: 1000 },
      maxAllowedValidators: validators,
    },
  };
}

/** Naive dense float64 classic Yuma, the baseline: stake-weighted median by sorting each column. */
function denseFloatYuma(inp: YumaInput, bonds: number[][]): number[] {
  const n = inp.n;
  const total = inp.stake.reduce<number>((a, s) => a + Number(s), 0);
  const S = inp.stake.map((s) => Number(s) / total);
  const W = Array.from({ length: n }, () => new Float64Array(n));
  inp.weights.forEach((row, i) => {
    let sum = 0;
    for (const [, v] of row) sum += v;
    for (const [j, v] of row) W[i][j] = sum > 0 ? v / sum : 0;
  });
  const kappa = inp.params.kappa / 65535;
  const C = new Float64Array(n);
  const idx = Array.from({ length: n }, (_, i) => i).filter((i) => S[i] > 0);
  for (let j = 0; j < n; j++) {
    const col = idx.map((i) => [W[i][j], S[i]] as const).sort((a, b) => a[0] - b[0]);
    let cum = 0;
    for (const [w, s] of col) {
      cum += s;
      if (cum > 1 - kappa) {
        C[j] = w;
        break;
      }
    }
  }
  const R = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) R[j] += S[i] * Math.min(W[i][j], C[j]);
  const rSum = R.reduce((a, b) => a + b, 0);
  const I = Array.from(R, (r) => (rSum > 0 ? r / rSum : 0));
  const D = new Array<number>(n).fill(0);
  for (let j = 0; j < n; j++) {
    let colSum = 0;
    for (let i = 0; i < n; i++) {
      bonds[i][j] = 0.9 * bonds[i][j] + 0.1 * S[i] * Math.min(W[i][j], C[j]);
      colSum += bonds[i][j];
    }
    for (let i = 0; i < n; i++) D[i] += colSum > 0 ? (bonds[i][j] / colSum) * I[j] : 0;
  }
  return D;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeEpochs(n: number, validators: number, yuma3: boolean, runs: number): number {
  const inp = input(n, validators, yuma3, n * 31 + validators);
  // two warm-up epochs carry bonds forward so that the measured epoch has a full bond matrix
  let state = inp;
  for (let k = 0; k < 2; k++) {
    const out = yumaEpoch(state);
    state = { ...state, bonds: out.bonds, validatorPermit: out.validatorPermit };
  }
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    yumaEpoch(state);
    times.push(performance.now() - t0);
  }
  return median(times);
}

function timeBaseline(n: number, validators: number, runs: number): number {
  const inp = input(n, validators, false, n * 31 + validators);
  const bonds = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  denseFloatYuma(inp, bonds);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    denseFloatYuma(inp, bonds);
    times.push(performance.now() - t0);
  }
  return median(times);
}

const small = { uids: 256, validators: 64 };
const large = { uids: 4096, validators: 256 };
const r = (x: number) => Math.round(x * 100) / 100;
const results = [small, large].map(({ uids, validators }) => {
  const runs = uids <= 256 ? 20 : 3;
  const classic = timeEpochs(uids, validators, false, runs);
  const yuma3 = timeEpochs(uids, validators, true, runs);
  const baseline = timeBaseline(uids, validators, runs);
  return {
    uids,
    validators,
    weightsPerValidator: Math.max(8, Math.floor(uids / 10)),
    classicMsPerEpoch: r(classic),
    yuma3LiquidAlphaMsPerEpoch: r(yuma3),
    baselineDenseFloat64MsPerEpoch: r(baseline),
    ratioClassicToBaseline: r(classic / baseline),
  };
});
process.stdout.write(
  `${JSON.stringify({
    bench: "yuma",
    unit: "ms per epoch (median)",
    what: "yumaEpoch, exact I32F32 emulation, random sparse weights; baseline: naive dense float64 classic Yuma",
    node: process.version,
    results,
  })}\n`,
);
