// Miner side: answers PogPing, PogChallenge, PogOpen, PogVramFill and PogVramOpen on an axon.
import type { Axon, CallerInfo } from "@computemesh/protocol";
import { SynapseError } from "@computemesh/protocol";
import { type Logger, pino } from "pino";
import type { Commitment, PogBackend } from "./backend.ts";
import { encodeLeaf, PogChallenge, PogOpen, PogPing, PogVramFill, PogVramOpen } from "./synapses.ts";
import { vramLeavesNeeded } from "./verify.ts";
import { validateVramSpec, type VramSpec, vramTotalBytes } from "./vram.ts";
import { validateWorkload, type WorkloadSpec, workloadOps } from "./workload.ts";

export interface PogResponderOptions {
  backend: PogBackend;
  /** The GPUs this miner has (what its specs report); challenges for other claims are refused. */
  gpus: { model: string; count: number; uuids: string[] };
  /** Largest workload accepted, in integer ops; default 2^36 on a cpu backend, 2^56 otherwise. */
  maxOps?: number;
  /** Largest VRAM buffer accepted, bytes; default 2^28 on a cpu backend, 2^41 otherwise. */
  maxVramBytes?: number;
  /** How long a commitment waits for its opening; default 120 s. */
  openWindowMs?: number;
  logger?: Logger;
}

interface Pending {
  caller: string;
  kind: "gemm" | "vram";
  commitment: Commitment;
  spec: WorkloadSpec | VramSpec;
  timer: NodeJS.Timeout;
}

/** Serves proof-of-GPU on `axon`. Each caller has at most one pending commitment per kind. */
export function attachPogResponder(axon: Axon, opts: PogResponderOptions): { pending(): number } {
  const log = (opts.logger ?? pino({ level: "silent" })).child({ component: "pog-responder" });
  const cpu = opts.backend.kind !== "cuda";
  const maxOps = opts.maxOps ?? (cpu ? 2 ** 36 : 2 ** 56);
  const maxVram = opts.maxVramBytes ?? (cpu ? 2 ** 28 : 2 ** 41);
  const windowMs = opts.openWindowMs ?? 120_000;
  const pending = new Map<string, Pending>();

  const keep = (id: string, p: Omit<Pending, "timer">) => {
    for (const [other, q] of pending) {
      if (q.caller === p.caller && q.kind === p.kind) drop(other);
    }
    const timer = setTimeout(() => drop(id), windowMs);
    timer.unref();
    pending.set(id, { ...p, timer });
  };
  const drop = (id: string) => {
    const p = pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    p.commitment.release();
    pending.delete(id);
  };
  const take = (id: string, caller: CallerInfo, kind: Pending["kind"]): Pending => {
    const p = pending.get(id);
    if (!p || p.kind !== kind) throw new SynapseError(404, `no pending ${kind} commitment ${id}`);
    if (p.caller !== caller.hotkey)
      throw new SynapseError(403, `commitment ${id} belongs to another validator`);
    return p;
  };
  const checkClaim = (claim: { model: string; count: number }) => {
    if (claim.model !== opts.gpus.model || claim.count > opts.gpus.count) {
      throw new SynapseError(
        400,
        `this miner has ${opts.gpus.count}× ${opts.gpus.model}, not ${claim.count}× ${claim.model}`,
      );
    }
  };

  axon.attach(PogPing, async (req) => ({ nonce: req.nonce }), { priority: 10 });

  axon.attach(
    PogChallenge,
    async (req, caller) => {
      checkClaim(req.claim);
      const spec: WorkloadSpec = { seed: Buffer.from(req.seed, "hex"), n: req.n, m: req.m };
      try {
        validateWorkload(spec);
      } catch (err) {
        throw new SynapseError(400, (err as Error).message);
      }
      if (workloadOps(spec) > maxOps) {
        throw new SynapseError(
          413,
          `workload of ${workloadOps(spec)} ops exceeds this miner's limit ${maxOps}`,
        );
      }
      const started = performance.now();
      const commitment = await opts.backend.commitGemm(spec);
      log.info(
        { caller: caller.hotkey, n: spec.n, m: spec.m, ms: performance.now() - started },
        "pog committed",
      );
      keep(req.challenge_id, { caller: caller.hotkey, kind: "gemm", commitment, spec });
      return {
        challenge_id: req.challenge_id,
        root: commitment.root.toString("hex"),
        leaf_count: commitment.leafCount,
        backend: opts.backend.kind,
        simulated: opts.backend.simulated,
      };
    },
    { priority: 5 },
  );

  axon.attach(
    PogOpen,
    async (req, caller) => {
      const p = take(req.challenge_id, caller, "gemm");
      try {
        for (const i of req.indices) {
          if (i >= p.commitment.leafCount) throw new SynapseError(400, `row ${i} is outside the commitment`);
        }
        const leaves = await p.commitment.open(req.indices);
        return { challenge_id: req.challenge_id, leaves: leaves.map(encodeLeaf) };
      } finally {
        drop(req.challenge_id);
      }
    },
    { priority: 6 },
  );

  axon.attach(
    PogVramFill,
    async (req, caller) => {
      checkClaim(req.claim);
      const spec: VramSpec = {
        seed: Buffer.from(req.seed, "hex"),
        chains: req.chains,
        pagesPerChain: req.pages_per_chain,
        pageBytes: req.page_bytes,
      };
      try {
        validateVramSpec(spec);
      } catch (err) {
        throw new SynapseError(400, (err as Error).message);
      }
      if (vramTotalBytes(spec) > maxVram) {
        throw new SynapseError(
          413,
          `VRAM buffer of ${vramTotalBytes(spec)} bytes exceeds this miner's limit ${maxVram}`,
        );
      }
      const commitment = await opts.backend.commitVram(spec);
      keep(req.challenge_id, { caller: caller.hotkey, kind: "vram", commitment, spec });
      return {
        challenge_id: req.challenge_id,
        root: commitment.root.toString("hex"),
        leaf_count: commitment.leafCount,
        backend: opts.backend.kind,
        simulated: opts.backend.simulated,
      };
    },
    { priority: 5 },
  );

  axon.attach(
    PogVramOpen,
    async (req, caller) => {
      const p = take(req.challenge_id, caller, "vram");
      try {
        const spec = p.spec as VramSpec;
        const wanted = new Set<number>();
        for (const g of req.pages) {
          if (g >= p.commitment.leafCount) throw new SynapseError(400, `page ${g} is outside the commitment`);
          const i = g % spec.pagesPerChain;
          const prev = i === 0 ? undefined : (await p.commitment.open([g - 1]))[0].data;
          for (const need of vramLeavesNeeded(spec, g, () => prev!)) wanted.add(need);
        }
        const leaves = await p.commitment.open([...wanted]);
        return { challenge_id: req.challenge_id, leaves: leaves.map(encodeLeaf) };
      } finally {
        drop(req.challenge_id);
      }
    },
    { priority: 6 },
  );

  return { pending: () => pending.size };
}
