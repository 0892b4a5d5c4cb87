// Validator side: one proof-of-GPU round against one miner, timed by the validator's own clock.
//   UUID binding → round-trip probe → PogChallenge (time it) → PogOpen of s CSPRNG rows (verify exactly)
//   → PogVramFill (time it) → PogVramOpen (verify) → identification by physics → verdict.
import { randomBytes } from "node:crypto";
import { findGpu, type GpuModel } from "@computemesh/core";
import type { AxonTarget, Dendrite, DendriteResult } from "@computemesh/protocol";
import { type Logger, pino } from "pino";
import { type Exclusion, identify, minimumTops } from "./identify.ts";
import { isLoopbackHost, isSimulationGrant, type SimulationGrant } from "./simulation.ts";
import { expectedGemmSeconds, expectedVramSeconds, sizeGemm, sizeVram, vramTrafficBytes } from "./speed.ts";
import {
  decodeLeaf,
  type OpenedLeafWire,
  PogChallenge,
  PogOpen,
  PogPing,
  PogVramFill,
  PogVramOpen,
} from "./synapses.ts";
import type { UuidRegistry } from "./uuid-registry.ts";
import { drawIndices, type Leaf, verifyGemmOpening, verifyVramOpening } from "./verify.ts";
import { type VramSpec, vramPageCount, vramTotalBytes } from "./vram.ts";
import { leafCount, type WorkloadSpec, workloadOps } from "./workload.ts";

/** s: rows opened per round. 0.9^66 = 9.6e-4 < 1e-3 (docs/proof-of-gpu.md, "Spot checks"). */
export const DEFAULT_SAMPLES = 66;
/** Pages opened per VRAM round (each with its two parents). 0.9^66 < 1e-3 as for rows. */
export const DEFAULT_VRAM_SAMPLES = 66;
/** The VRAM fill must finish within RTT + slack + margin × the claimed model's expected time. */
export const VRAM_DEADLINE_MARGIN = 1.25;
export const VRAM_DEADLINE_SLACK_MS = 50;

/** Stable reason codes of a failed verdict. */
export type PogFailure =
  | "UNKNOWN_MODEL"
  | "BAD_CLAIM"
  | "UUID_CONFLICT"
  | "UNREACHABLE"
  | "MINER_REFUSED"
  | "TIMEOUT"
  | "MALFORMED_ANSWER"
  | "OVERSIZED_ANSWER"
  | "SIMULATED_BACKEND"
  | "SIMULATION_NOT_ALLOWED"
  | "WRONG_ROOT"
  | "WRONG_ROWS"
  | "BAD_MERKLE_PATH"
  | "WRONG_RESULT"
  | "TOO_SLOW"
  | "VRAM_TOO_SLOW"
  | "VRAM_BAD_PATH"
  | "VRAM_BAD_PAGE"
  | "VRAM_MISSING_PAGE"
  | "NOT_DISTINGUISHABLE";

export interface PogVerdict {
  passed: boolean;
  reason?: PogFailure;
  message?: string;
  hotkey: string;
  claim: { model: string; count: number; uuids: string[] };
  /** The most valuable model (of `claim.count` devices) the round proved; score this, not the claim. */
  provenModel: string | null;
  /** Set when the round passed at a cheaper model than claimed because the measurements cannot tell them apart. */
  downgradedFrom?: string;
  /** Aggregate int8 throughput measured by the validator's clock (or, if simulated, by the speed model). */
  measuredTops: number;
  /** Whole round, validator clock. */
  elapsedMs: number;
  /** Challenge time minus the round trip. */
  computeMs: number;
  rttMs: number;
  workload?: { n: number; m: number; ops: number; samples: number };
  vram?: {
    bytes: number;
    pages: number;
    fillMs: number;
    deadlineMs: number;
    bandwidthGBs: number;
    passed: boolean;
  };
  exclusions?: Record<string, Exclusion | null>;
  backend?: string;
  /** True when any part came from the SIMULATED mode; such a verdict must never count on a real network. */
  simulated: boolean;
  at: string;
}

export interface PogRoundOptions {
  /** Rows to open; default DEFAULT_SAMPLES. */
  samples?: number;
  vramSamples?: number;
  /** Override the sizing (tests, benchmarks); default from the claimed model's speed model. */
  workload?: { n: number; m: number };
  vram?: { chains: number; pagesPerChain: number; pageBytes: number } | false;
  /** Binds the claim's UUIDs to the target hotkey; a UUID on two hotkeys fails the round. */
  uuidRegistry?: UuidRegistry;
  /** SIMULATED mode grant (`allowSimulatedPog`); only for loopback miners of a local network. */
  simulation?: SimulationGrant;
  /** Timeout of the challenge; default 10 s + 5 × the expected time. */
  challengeTimeoutMs?: number;
  /** Draws opened indices; default the CSPRNG (`crypto.randomInt`). Only tests pass a seeded one. */
  random?: (max: number) => number;
  /** The validator's clock, ms; default performance.now. */
  clock?: () => number;
  logger?: Logger;
}

const PINGS = 3;

export async function runPogRound(
  dendrite: Dendrite,
  target: AxonTarget,
  claim: { model: string; count: number; uuids: string[] },
  opts: PogRoundOptions = {},
): Promise<PogVerdict> {
  const clock = opts.clock ?? (() => performance.now());
  const log = (opts.logger ?? pino({ level: "silent" })).child({
    component: "pog-round",
    hotkey: target.hotkey,
  });
  const started = clock();
  const simulated = opts.simulation !== undefined;
  const base: PogVerdict = {
    passed: false,
    hotkey: target.hotkey,
    claim: { model: claim.model, count: claim.count, uuids: [...claim.uuids] },
    provenModel: null,
    measuredTops: 0,
    elapsedMs: 0,
    computeMs: 0,
    rttMs: 0,
    simulated,
    at: new Date().toISOString(),
  };
  const done = (extra: Partial<PogVerdict>): PogVerdict => {
    const verdict = { ...base, ...extra, elapsedMs: clock() - started };
    log.info({ passed: verdict.passed, reason: verdict.reason, tops: verdict.measuredTops }, "pog verdict");
    return verdict;
  };
  const failed = (reason: PogFailure, message: string, extra: Partial<PogVerdict> = {}) =>
    done({ ...extra, passed: false, reason, message });

  if (simulated && (!isSimulationGrant(opts.simulation) || !isLoopbackHost(target.ip))) {
    return failed("SIMULATION_NOT_ALLOWED", `simulated proof-of-GPU refused for miner at ${target.ip}`);
  }
  const model = findGpu(claim.model);
  if (!model) return failed("UNKNOWN_MODEL", `"${claim.model}" is not in the GPU catalog`);
  if (!Number.isInteger(claim.count) || claim.count < 1 || claim.count > 64) {
    return failed("BAD_CLAIM", `GPU count must be 1..64, got ${claim.count}`);
  }
  if (
    model.class === "gpu" &&
    (claim.uuids.length !== claim.count || new Set(claim.uuids).size !== claim.count)
  ) {
    return failed("BAD_CLAIM", `a claim of ${claim.count} GPUs needs ${claim.count} distinct UUIDs`);
  }
  if (opts.uuidRegistry && claim.uuids.length > 0) {
    const bound = opts.uuidRegistry.claim(target.hotkey, claim.uuids);
    if (!bound.ok) {
      const list = bound.conflicts.map((c) => `${c.uuid} (${c.hotkeys.join(", ")})`).join("; ");
      return failed("UUID_CONFLICT", `GPU UUID claimed by more than one hotkey: ${list}`);
    }
  }
  const wireClaim = { model: claim.model, count: claim.count, uuids: claim.uuids };

  // 1. round trip
  let rttMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < PINGS; i++) {
    const nonce = randomBytes(16).toString("hex");
    const t0 = clock();
    const res = await dendrite.query(target, PogPing, { nonce }, { timeoutMs: 5000 });
    const t1 = clock();
    if (!res.ok) return failed("UNREACHABLE", `round-trip probe failed: ${res.message}`);
    if (res.response.nonce !== nonce)
      return failed("MALFORMED_ANSWER", "round-trip probe echoed another nonce");
    rttMs = Math.min(rttMs, t1 - t0);
  }
  base.rttMs = rttMs;

  // 2. compute challenge, timed
  const size = opts.workload ?? (simulated ? { n: 64, m: 4 } : sizeGemm(model, claim.count));
  const spec: WorkloadSpec = { seed: randomBytes(32), n: size.n, m: size.m };
  const expectedMs = expectedGemmSeconds(model, claim.count, spec) * 1000;
  const challengeId = randomBytes(16).toString("hex");
  const t0 = clock();
  const committed = await dendrite.query(
    target,
    PogChallenge,
    {
      challenge_id: challengeId,
      seed: Buffer.from(spec.seed).toString("hex"),
      n: spec.n,
      m: spec.m,
      claim: wireClaim,
    },
    { timeoutMs: Math.ceil(opts.challengeTimeoutMs ?? 10_000 + 5 * expectedMs) },
  );
  const t1 = clock();
  const samples = opts.samples ?? DEFAULT_SAMPLES;
  base.workload = { n: spec.n, m: spec.m, ops: workloadOps(spec), samples };
  if (!committed.ok) return failed(...queryFailure(committed, "challenge"));
  const c = committed.response;
  base.backend = c.backend;
  if (c.challenge_id !== challengeId) return failed("MALFORMED_ANSWER", "answer names another challenge");
  if (c.simulated && !simulated) {
    return failed(
      "SIMULATED_BACKEND",
      "the miner answered from a simulated backend; only a local simulation accepts that",
    );
  }
  if (c.leaf_count !== leafCount(spec)) {
    return failed(
      "WRONG_ROOT",
      `commitment covers ${c.leaf_count} rows, the workload has ${leafCount(spec)}`,
    );
  }
  // SIMULATED: the small workload stands for the full-size one; its time is the claimed model's speed model.
  const fullSize = sizeGemm(model, claim.count);
  const computeMs = simulated
    ? expectedGemmSeconds(model, claim.count, fullSize) * 1000
    : Math.max(t1 - t0 - rttMs, 1e-9);
  const measuredTops = (simulated ? workloadOps(fullSize) : workloadOps(spec)) / (computeMs / 1000) / 1e12;
  base.computeMs = computeMs;
  base.measuredTops = measuredTops;

  // 3. open s rows named only now, verify exactly
  const indices = drawIndices(leafCount(spec), samples, opts.random);
  const opened = await dendrite.query(
    target,
    PogOpen,
    { challenge_id: challengeId, indices },
    { timeoutMs: Math.ceil(30_000 + rttMs) },
  );
  if (!opened.ok) return failed(...queryFailure(opened, "opening"));
  const leaves = decodeLeaves(opened.response.leaves);
  if (!leaves) return failed("MALFORMED_ANSWER", "an opened row's declared length does not match its bytes");
  const check = verifyGemmOpening(spec, Buffer.from(c.root, "hex"), indices, leaves);
  if (!check.ok) return failed(mapReason(check.reason), check.message);
  const floor = minimumTops(model, claim.count);
  if (!(measuredTops >= floor)) {
    return failed(
      "TOO_SLOW",
      `measured ${measuredTops.toPrecision(3)} TOPS; ${claim.count}× ${model.name} reaches at least ${floor.toPrecision(3)}`,
    );
  }

  // 4. VRAM challenge
  let provenVramGiB = 0;
  let bandwidthGBs = 0;
  if (opts.vram !== false && model.vramGiB > 0) {
    const vram = await runVram(
      dendrite,
      target,
      model,
      claim.count,
      wireClaim,
      rttMs,
      simulated,
      opts,
      clock,
    );
    base.vram = vram.summary;
    if (!vram.ok) return failed(vram.reason, vram.message);
    provenVramGiB = model.vramGiB;
    bandwidthGBs = vram.summary.bandwidthGBs;
  }

  // 5. identification by physics
  const id = identify({
    claim: model,
    count: claim.count,
    measuredTops,
    provenVramGiB,
    measuredBandwidthGBs: bandwidthGBs,
  });
  base.exclusions = id.exclusions;
  if (!id.passed && id.reason === "NOT_DISTINGUISHABLE" && id.provenModel) {
    // Every check of the work passed; only the model is ambiguous. Credit the cheapest model the measurements
    // cannot rule out, and say so: scoring uses provenModel, never the claim.
    return done({
      passed: true,
      provenModel: id.provenModel,
      downgradedFrom: model.name,
      message: id.message,
    });
  }
  if (!id.passed) return failed(id.reason!, id.message!, { provenModel: id.provenModel });
  return done({ passed: true, provenModel: id.provenModel });
}

type VramOutcome =
  | { ok: true; summary: NonNullable<PogVerdict["vram"]> }
  | { ok: false; reason: PogFailure; message: string; summary?: PogVerdict["vram"] };

async function runVram(
  dendrite: Dendrite,
  target: AxonTarget,
  model: GpuModel,
  count: number,
  wireClaim: { model: string; count: number; uuids: string[] },
  rttMs: number,
  simulated: boolean,
  opts: PogRoundOptions,
  clock: () => number,
): Promise<VramOutcome> {
  const seed = randomBytes(32);
  const size = opts.vram || (simulated ? { chains: 4, pagesPerChain: 16, pageBytes: 1024 } : undefined);
  const spec: VramSpec = size ? { seed, ...size } : sizeVram(model, count, seed);
  // In simulation the small buffer stands for the claimed memory: time it as the full-size fill would take.
  const expectedMs =
    (simulated
      ? expectedVramSeconds(model, count, sizeVram(model, count, seed))
      : expectedVramSeconds(model, count, spec)) * 1000;
  const deadlineMs = rttMs + VRAM_DEADLINE_SLACK_MS + VRAM_DEADLINE_MARGIN * expectedMs;
  const challengeId = randomBytes(16).toString("hex");
  const t0 = clock();
  const filled = await dendrite.query(
    target,
    PogVramFill,
    {
      challenge_id: challengeId,
      seed: seed.toString("hex"),
      chains: spec.chains,
      pages_per_chain: spec.pagesPerChain,
      page_bytes: spec.pageBytes,
      claim: wireClaim,
    },
    { timeoutMs: Math.ceil(opts.challengeTimeoutMs ?? 10_000 + 5 * deadlineMs) },
  );
  const t1 = clock();
  if (!filled.ok) {
    const [reason, message] = queryFailure(filled, "VRAM fill");
    return { ok: false, reason: reason === "TIMEOUT" ? "VRAM_TOO_SLOW" : reason, message };
  }
  const fillMs = simulated ? expectedMs : t1 - t0;
  const trafficBytes = simulated ? vramTrafficBytes(sizeVram(model, count, seed)) : vramTrafficBytes(spec);
  const summary = {
    bytes: simulated ? vramTotalBytes(sizeVram(model, count, seed)) : vramTotalBytes(spec),
    pages: vramPageCount(spec),
    fillMs,
    deadlineMs,
    bandwidthGBs: trafficBytes / (Math.max(fillMs - rttMs, 1e-9) / 1000) / 1e9,
    passed: false,
  };
  const f = filled.response;
  if (f.challenge_id !== challengeId)
    return { ok: false, reason: "MALFORMED_ANSWER", message: "answer names another challenge", summary };
  if (f.simulated && !simulated) {
    return {
      ok: false,
      reason: "SIMULATED_BACKEND",
      message: "VRAM answered by a simulated backend",
      summary,
    };
  }
  if (f.leaf_count !== vramPageCount(spec)) {
    return {
      ok: false,
      reason: "VRAM_BAD_PATH",
      message: `commitment covers ${f.leaf_count} pages, not ${vramPageCount(spec)}`,
      summary,
    };
  }
  if (fillMs > deadlineMs) {
    return {
      ok: false,
      reason: "VRAM_TOO_SLOW",
      message: `VRAM fill took ${fillMs.toFixed(0)} ms; ${count}× ${model.name} with ${model.vramGiB} GiB each needs at most ${deadlineMs.toFixed(0)} ms`,
      summary,
    };
  }
  const pages = drawIndices(vramPageCount(spec), opts.vramSamples ?? DEFAULT_VRAM_SAMPLES, opts.random);
  const opened = await dendrite.query(
    target,
    PogVramOpen,
    { challenge_id: challengeId, pages },
    { timeoutMs: Math.ceil(30_000 + rttMs) },
  );
  if (!opened.ok) return { ok: false, ...tuple(queryFailure(opened, "VRAM opening")), summary };
  const leaves = decodeLeaves(opened.response.leaves);
  if (!leaves)
    return {
      ok: false,
      reason: "MALFORMED_ANSWER",
      message: "an opened page's declared length does not match its bytes",
      summary,
    };
  const check = verifyVramOpening(spec, Buffer.from(f.root, "hex"), pages, leaves);
  if (!check.ok) return { ok: false, reason: mapReason(check.reason), message: check.message, summary };
  summary.passed = true;
  return { ok: true, summary };
}

function tuple([reason, message]: [PogFailure, string]): { reason: PogFailure; message: string } {
  return { reason, message };
}

function decodeLeaves(wire: readonly OpenedLeafWire[]): Leaf[] | null {
  const out: Leaf[] = [];
  for (const w of wire) {
    const leaf = decodeLeaf(w);
    if (!leaf) return null;
    out.push(leaf);
  }
  return out;
}

function queryFailure(
  res: Extract<DendriteResult<unknown>, { ok: false }>,
  what: string,
): [PogFailure, string] {
  const message = `${what}: ${res.message}`;
  switch (res.kind) {
    case "timeout":
      return ["TIMEOUT", message];
    case "invalid_response":
      return [/too[_ ]big|too large/i.test(res.message) ? "OVERSIZED_ANSWER" : "MALFORMED_ANSWER", message];
    case "unreachable":
      return ["UNREACHABLE", message];
    default:
      return ["MINER_REFUSED", message];
  }
}

function mapReason(reason: string): PogFailure {
  return reason as PogFailure;
}
