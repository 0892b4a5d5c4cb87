import { randomUUID } from "node:crypto";
import { CmeshError } from "@computemesh/core";
import type {
  AllocationEvent,
  AllocationView,
  JobSpec,
  JobState,
  JobView,
  MachineView,
  MarketBackend,
  NetworkView,
  RentRequest,
} from "../backend.ts";

/**
 * TEST DOUBLE. An in-memory stand-in for the validator's market, for API tests and benchmarks only: it does
 * not talk to miners, prove GPUs or run containers. Rentals return the SSH endpoint given by `sshEndpoint`
 * (tests may point it at a real sshd); jobs are "run" by `jobScript`, a function of the spec.
 */
export interface ScriptedJobResult {
  exitCode: number;
  stdout: string;
  stderr?: string;
  /** Simulated run time; beyond `limits.executionSec` the job ends as timed_out. */
  runMs?: number;
  outputs?: { path: string; contentBase64: string }[];
}

export function defaultJobScript(spec: JobSpec): ScriptedJobResult {
  const [cmd, ...args] = spec.command;
  if (cmd === "echo") return { exitCode: 0, stdout: `${args.join(" ")}\n` };
  if (cmd === "sleep") return { exitCode: 0, stdout: "", runMs: Number(args[0] ?? 1) * 1000 };
  if (cmd === "exit") return { exitCode: Number(args[0] ?? 1), stdout: "", stderr: `exit ${args[0]}\n` };
  if (cmd === "cat-inputs") {
    const text = (spec.inputs ?? []).map((i) => Buffer.from(i.contentBase64, "base64").toString()).join("");
    return {
      exitCode: 0,
      stdout: text,
      outputs: (spec.outputPaths ?? []).map((p) => ({
        path: p,
        contentBase64: Buffer.from(text).toString("base64"),
      })),
    };
  }
  return { exitCode: 127, stdout: "", stderr: `${cmd}: command not found\n` };
}

interface JobRecord {
  view: JobView;
  stdout: string;
  stderr: string;
  outputs: { path: string; contentBase64: string }[];
  timer?: NodeJS.Timeout;
}

export class InMemoryMarketDouble implements MarketBackend {
  readonly machines: MachineView[];
  private readonly allocations = new Map<string, AllocationView>();
  private readonly listeners = new Set<(e: AllocationEvent) => void>();
  private readonly jobs = new Map<string, JobRecord>();
  rentCalls = 0;

  constructor(
    machines: MachineView[],
    private readonly opts: {
      rentDelayMs?: number;
      sshEndpoint?: (req: RentRequest) => Promise<{ host: string; port: number; user: string }>;
      jobScript?: (spec: JobSpec) => ScriptedJobResult;
      network?: NetworkView;
    } = {},
  ) {
    this.machines = machines.map((m) => ({ ...m }));
  }

  async listMachines(): Promise<MachineView[]> {
    return this.machines;
  }

  async rent(req: RentRequest): Promise<AllocationView> {
    this.rentCalls++;
    const m = this.machines.find((x) => x.minerHotkey === req.minerHotkey);
    if (!m) throw new CmeshError("MINER_NOT_FOUND", `no miner ${req.minerHotkey}`);
    if (m.allocated) throw new CmeshError("ALLOCATION_CONFLICT", `${req.minerHotkey} is already allocated`);
    m.allocated = true;
    if (this.opts.rentDelayMs) await new Promise((r) => setTimeout(r, this.opts.rentDelayMs));
    const ssh = this.opts.sshEndpoint
      ? await this.opts.sshEndpoint(req)
      : { host: "127.0.0.1", port: 22000 + m.uid, user: "root" };
    const now = new Date();
    const alloc: AllocationView = {
      allocationId: `alloc-${randomUUID()}`,
      minerHotkey: m.minerHotkey,
      state: "active",
      ssh,
      sshCommand: `ssh -p ${ssh.port} ${ssh.user}@${ssh.host}`,
      startedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + req.durationSec * 1000).toISOString(),
      ...(req.clientRef ? { clientRef: req.clientRef } : {}),
    };
    this.allocations.set(alloc.allocationId, alloc);
    this.emit({ allocationId: alloc.allocationId, kind: "started" });
    return alloc;
  }

  async release(allocationId: string, reason: string): Promise<AllocationView> {
    const a = this.allocations.get(allocationId);
    if (!a) throw new CmeshError("ALLOCATION_NOT_FOUND", `no allocation ${allocationId}`);
    if (a.state === "active") {
      a.state = "released";
      a.endedAt = new Date().toISOString();
      a.endReason = reason;
      const m = this.machines.find((x) => x.minerHotkey === a.minerHotkey);
      if (m) m.allocated = false;
    }
    return a;
  }

  /** Simulates the validator losing a machine (health checks failing). */
  loseAllocation(allocationId: string, reason = "health checks failed"): void {
    const a = this.allocations.get(allocationId);
    if (!a || a.state !== "active") return;
    a.state = "lost";
    a.endReason = reason;
    const m = this.machines.find((x) => x.minerHotkey === a.minerHotkey);
    if (m) m.allocated = false;
    this.emit({ allocationId, kind: "lost", reason });
  }

  async allocation(allocationId: string): Promise<AllocationView | undefined> {
    return this.allocations.get(allocationId);
  }

  async allocationByClientRef(clientRef: string): Promise<AllocationView | undefined> {
    return [...this.allocations.values()].find((a) => a.clientRef === clientRef);
  }

  onAllocationEvent(cb: (e: AllocationEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private emit(e: AllocationEvent): void {
    for (const l of this.listeners) l(e);
  }

  async submitJob(spec: JobSpec, opts?: { minerHotkey?: string }): Promise<JobView> {
    const miner = opts?.minerHotkey ?? this.machines.find((m) => m.verified)?.minerHotkey ?? null;
    if (opts?.minerHotkey && !this.machines.some((m) => m.minerHotkey === opts.minerHotkey)) {
      throw new CmeshError("MINER_NOT_FOUND", `no miner ${opts.minerHotkey}`);
    }
    const rec: JobRecord = {
      view: {
        jobId: `job-${randomUUID()}`,
        minerHotkey: miner,
        state: "queued",
        createdAt: new Date().toISOString(),
        stdoutBytes: 0,
        stderrBytes: 0,
      },
      stdout: "",
      stderr: "",
      outputs: [],
    };
    this.jobs.set(rec.view.jobId, rec);
    const result = (this.opts.jobScript ?? defaultJobScript)(spec);
    const limitMs = (spec.limits?.executionSec ?? 3600) * 1000;
    setImmediate(() => {
      if (rec.view.state !== "queued") return;
      rec.view.state = "running";
      rec.view.startedAt = new Date().toISOString();
      const runMs = Math.min(result.runMs ?? 0, limitMs);
      rec.timer = setTimeout(() => {
        const finish = (state: JobState, exitCode: number | null, reason?: string) => {
          rec.view.state = state;
          rec.view.exitCode = exitCode;
          rec.view.reason = reason;
          rec.view.endedAt = new Date().toISOString();
        };
        rec.stdout = result.stdout;
        rec.stderr = result.stderr ?? "";
        rec.view.stdoutBytes = Buffer.byteLength(rec.stdout);
        rec.view.stderrBytes = Buffer.byteLength(rec.stderr);
        if ((result.runMs ?? 0) > limitMs)
          finish("timed_out", null, `killed after ${spec.limits?.executionSec}s`);
        else if (result.exitCode === 0) {
          rec.outputs = result.outputs ?? [];
          finish("completed", 0);
        } else finish("failed", result.exitCode, `exit code ${result.exitCode}`);
      }, runMs);
    });
    return { ...rec.view };
  }

  async job(jobId: string): Promise<JobView | undefined> {
    const r = this.jobs.get(jobId);
    return r ? { ...r.view } : undefined;
  }

  async jobLogs(jobId: string, from = { stdout: 0, stderr: 0 }) {
    const r = this.jobs.get(jobId);
    if (!r) throw new CmeshError("JOB_NOT_FOUND", `no job ${jobId}`);
    const done = !["queued", "accepted", "running"].includes(r.view.state);
    return {
      stdout: Buffer.from(r.stdout).subarray(from.stdout).toString(),
      stderr: Buffer.from(r.stderr).subarray(from.stderr).toString(),
      done,
    };
  }

  async jobOutputs(jobId: string) {
    const r = this.jobs.get(jobId);
    if (!r) throw new CmeshError("JOB_NOT_FOUND", `no job ${jobId}`);
    return r.outputs;
  }

  async cancelJob(jobId: string): Promise<JobView> {
    const r = this.jobs.get(jobId);
    if (!r) throw new CmeshError("JOB_NOT_FOUND", `no job ${jobId}`);
    if (["queued", "accepted", "running"].includes(r.view.state)) {
      if (r.timer) clearTimeout(r.timer);
      r.view.state = "cancelled";
      r.view.reason = "cancelled by renter";
      r.view.endedAt = new Date().toISOString();
    }
    return { ...r.view };
  }

  async network(): Promise<NetworkView> {
    if (this.opts.network) return this.opts.network;
    const n = this.machines.length || 1;
    return {
      netuid: 1,
      block: 1000,
      epoch: 10,
      neurons: this.machines.map((m) => ({
        uid: m.uid,
        hotkey: m.minerHotkey,
        stake: 0,
        incentive: m.score / 100 / n,
        dividends: 0,
        emission: m.score / 10,
        trust: m.verified ? 1 : 0,
      })),
      history: Array.from({ length: 10 }, (_, i) => ({
        epoch: i + 1,
        block: (i + 1) * 100,
        totalScore: 100 * (i + 1),
        meanScore: (100 * (i + 1)) / n,
        neurons: this.machines.length,
      })),
    };
  }
}

const MODELS = [
  { model: "NVIDIA H100 80GB HBM3", vram: 80, price: 2.4, tops: 1979 },
  { model: "NVIDIA A100-SXM4-80GB", vram: 80, price: 1.4, tops: 624 },
  { model: "NVIDIA GeForce RTX 4090", vram: 24, price: 0.45, tops: 660 },
  { model: "NVIDIA L40S", vram: 48, price: 0.9, tops: 733 },
];

/** Deterministic sample machines for tests and the benchmark (hotkeys are fake SS58-looking strings). */
export function sampleMachines(n: number, nowMs = Date.now()): MachineView[] {
  return Array.from({ length: n }, (_, i) => {
    const spec = MODELS[i % MODELS.length];
    const verified = i % 7 !== 6;
    return {
      minerHotkey: `5Fake${String(i).padStart(6, "0")}HotkeyForTestsOnly`,
      uid: i,
      axon: { ip: "127.0.0.1", port: 20000 + (i % 40000) },
      gpuModel: verified ? spec.model : null,
      claimedGpuModel: spec.model,
      gpuCount: 1 + (i % 8),
      vramGiB: spec.vram,
      measuredTops: verified ? spec.tops * (0.9 + (i % 10) / 100) : null,
      simulated: true,
      pricePerGpuHour: Math.round(spec.price * (0.8 + (i % 5) / 10) * 100) / 100,
      reliability: 0.9 + (i % 11) / 100,
      verified,
      lastProofAt: verified ? new Date(nowMs - (i % 60) * 60_000).toISOString() : null,
      allocated: false,
      runsContainers: true,
      score: verified ? 10 + (i % 40) : 0,
      cpuCores: 16 + (i % 4) * 16,
      ramGiB: 64 + (i % 4) * 64,
      diskGiB: 500 + (i % 3) * 500,
    };
  });
}
