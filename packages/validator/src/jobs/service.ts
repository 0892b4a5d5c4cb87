// JobService: the validator's side of dockerized jobs (queue → choose a miner → JobSubmit → poll → logs and
// outputs → receipt signed by the validator and countersigned by the miner).
//
// Wiring into the Validator class (validator engineer / integrator):
//   this.jobs = await JobService.open({
//     dendrite: this.dendrite, hotkey: this.hotkeyPair, db: this.store.db /* or sqlitePath */, logger,
//     registry: this.metrics.registry,
//     candidates: async () => (await this.listMachines()).map((m) => ({ hotkey: m.minerHotkey, axon: m.axon,
//       verified: m.verified, allocated: m.allocated, reliability: m.reliability })),
//   });
//   submitJob(spec, opts) { return this.jobs.submitJob(spec, opts); }   // likewise job, jobLogs, jobOutputs,
//   cancelJob, jobReceipt (the API's optional MarketBackend.jobReceipt: `jobReceipt(id) { return
//   this.requireJobs().jobReceipt(id); }`); onJobEvent for SSE/webhooks; and `await this.jobs.close()` in stop().
import { randomUUID } from "node:crypto";
import { CmeshError } from "@computemesh/core";
import {
  type Dendrite,
  type DendriteResult,
  isTerminalJobState,
  JOB_LIMITS,
  JobCancel,
  type JobOutputFile,
  JobOutputs,
  JobReceipt,
  type JobReceiptPayload,
  type JobSpec,
  JobSpecSchema,
  type JobState,
  JobStatus,
  JobSubmit,
  jobOutputsDigest,
  jobReceiptId,
  jobReceiptMinerMessage,
  jobSpecDigest,
  type KeyringPair,
  type MinerJobStatus,
  type SignedJobReceipt,
  JobLogs as JobLogsSynapse,
  sha256Hex,
  signJobReceipt,
  verifySignature,
} from "@computemesh/protocol";
import type { Kysely } from "kysely";
import { type Logger, pino } from "pino";
import type { Registry } from "prom-client";
import { JobServiceMetrics } from "./metrics.ts";
import { type ValidatorJobRow, ValidatorJobStore } from "./store.ts";

/** A miner the service may send jobs to (built from the validator's machine list). */
export interface JobMinerCandidate {
  hotkey: string;
  axon: { ip: string; port: number } | null;
  verified: boolean;
  allocated: boolean;
  reliability?: number;
}

/** The market contract's JobView. */
export interface JobView {
  jobId: string;
  minerHotkey: string | null;
  state: JobState;
  exitCode?: number | null;
  reason?: string;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  stdoutBytes: number;
  stderrBytes: number;
}

export interface JobLogsChunk {
  stdout: string;
  stderr: string;
  done: boolean;
  /** Byte offsets to ask from next time. */
  nextOffset: { stdout: number; stderr: number };
}

export interface JobEvent {
  jobId: string;
  state: JobState;
  view: JobView;
}

export interface JobServiceOptions {
  dendrite: Pick<Dendrite, "query">;
  /** The validator's hotkey: signs job receipts (must be the dendrite's hotkey). */
  hotkey: KeyringPair;
  candidates: () => Promise<JobMinerCandidate[]>;
  /** The validator's Kysely database (SQLite or PostgreSQL); otherwise an SQLite file (or memory) of its own. */
  // biome-ignore lint/suspicious/noExplicitAny: any database; the job table is created at runtime
  db?: Kysely<any>;
  sqlitePath?: string;
  logger?: Logger;
  /** Longest pause between status polls of a running job (polls start at 50 ms and back off). Default 500 ms. */
  pollIntervalMs?: number;
  /** A miner unreachable for this long has lost the job. Default 20 s. */
  minerDeadAfterMs?: number;
  /** A job no miner takes within this time fails. Default 120 s. */
  queueTimeoutMs?: number;
  /** Prometheus registry for `cmesh_validator_jobs_*` metrics (none when absent). */
  registry?: Registry;
  /** Miners a job may be lost on before it fails (1 = no retry). Default 2: retried once on another miner. */
  maxAttempts?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const nowIso = () => new Date().toISOString();

function failureText(r: { status: number; kind: string; message: string }): string {
  return `${r.kind} (${r.status}): ${r.message}`.slice(0, 300);
}

/**
 * Runs renters' jobs on miners. Every job is persisted; a job whose miner stops answering for
 * `minerDeadAfterMs` is moved to another miner (up to `maxAttempts` miners) or failed with the reason.
 */
export class JobService {
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly deadMs: number;
  private readonly queueMs: number;
  private readonly maxAttempts: number;
  private readonly drivers = new Map<string, Promise<void>>();
  private readonly finalizing = new Map<string, Promise<void>>();
  private readonly listeners = new Set<(e: JobEvent) => void>();
  private closed = false;
  private readonly metrics: JobServiceMetrics | undefined;

  private constructor(
    private readonly opts: JobServiceOptions,
    private readonly store: ValidatorJobStore,
  ) {
    this.log = (opts.logger ?? pino({ level: "silent" })).child({ component: "jobs" });
    this.pollMs = opts.pollIntervalMs ?? 500;
    this.deadMs = opts.minerDeadAfterMs ?? 20_000;
    this.queueMs = opts.queueTimeoutMs ?? 120_000;
    this.maxAttempts = opts.maxAttempts ?? 2;
    this.metrics = opts.registry ? new JobServiceMetrics(opts.registry) : undefined;
  }

  /** Opens the job table and resumes every job that had not finished. */
  static async open(opts: JobServiceOptions): Promise<JobService> {
    const store = await ValidatorJobStore.open({ db: opts.db, sqlitePath: opts.sqlitePath });
    const service = new JobService(opts, store);
    for (const row of await store.unfinished()) service.startDriver(row.jobId);
    return service;
  }

  /**
   * Queues a job. With `minerHotkey` only that miner is used (it must be verified, serving and not rented);
   * otherwise the service picks a verified, unallocated miner.
   */
  async submitJob(spec: JobSpec, opts: { minerHotkey?: string } = {}): Promise<JobView> {
    if (this.closed) throw new CmeshError("JOBS_CLOSED", "the job service is shut down");
    const parsed = JobSpecSchema.safeParse(spec);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CmeshError("JOB_SPEC_INVALID", `${issue?.path.join(".") || "spec"}: ${issue?.message}`, {
        details: { issues: parsed.error.issues },
      });
    }
    if (opts.minerHotkey) {
      const m = (await this.opts.candidates()).find((c) => c.hotkey === opts.minerHotkey);
      const why = !m
        ? "is not known to this validator"
        : !m.axon
          ? "does not serve an axon"
          : !m.verified
            ? "is not verified"
            : m.allocated
              ? "is rented"
              : null;
      if (why) throw new CmeshError("MINER_UNAVAILABLE", `miner ${opts.minerHotkey} ${why}`);
    }
    const row: ValidatorJobRow = {
      jobId: randomUUID(),
      state: "queued",
      minerHotkey: null,
      namedMiner: opts.minerHotkey ?? null,
      exitCode: null,
      reason: null,
      createdAt: nowIso(),
      startedAt: null,
      endedAt: null,
      stdoutBytes: 0,
      stderrBytes: 0,
      spec: parsed.data,
      attempts: 0,
      tried: [],
      finalized: false,
      stdoutB64: null,
      stderrB64: null,
      outputs: null,
      receipt: null,
    };
    await this.store.insert(row);
    this.emit(row);
    this.startDriver(row.jobId);
    return toView(row);
  }

  async job(jobId: string): Promise<JobView | undefined> {
    const row = await this.store.get(jobId);
    return row ? toView(row) : undefined;
  }

  /** Logs from byte offsets: from the miner while the job runs, from the validator's copy once it ended. */
  async jobLogs(jobId: string, fromOffset = { stdout: 0, stderr: 0 }): Promise<JobLogsChunk> {
    const row = await this.mustGet(jobId);
    const from = { stdout: Math.max(0, fromOffset.stdout | 0), stderr: Math.max(0, fromOffset.stderr | 0) };
    if (row.finalized) {
      const out = Buffer.from(row.stdoutB64 ?? "", "base64").subarray(from.stdout);
      const err = Buffer.from(row.stderrB64 ?? "", "base64").subarray(from.stderr);
      return {
        stdout: out.toString("utf8"),
        stderr: err.toString("utf8"),
        done: true,
        nextOffset: { stdout: from.stdout + out.length, stderr: from.stderr + err.length },
      };
    }
    const target = row.minerHotkey ? await this.targetOf(row.minerHotkey) : null;
    if (!target || from.stdout > JOB_LIMITS.maxLogBytes || from.stderr > JOB_LIMITS.maxLogBytes) {
      return { stdout: "", stderr: "", done: false, nextOffset: from };
    }
    const res = await this.opts.dendrite.query(target, JobLogsSynapse, {
      jobId,
      stdoutOffset: from.stdout,
      stderrOffset: from.stderr,
      maxBytes: JOB_LIMITS.maxLogChunkBytes,
    });
    if (!res.ok) return { stdout: "", stderr: "", done: false, nextOffset: from };
    return {
      stdout: Buffer.from(res.response.stdoutChunk, "base64").toString("utf8"),
      stderr: Buffer.from(res.response.stderrChunk, "base64").toString("utf8"),
      done: false, // done only once the validator holds the final copy
      nextOffset: { stdout: res.response.nextStdoutOffset, stderr: res.response.nextStderrOffset },
    };
  }

  /** The outputs of an ended job (what the miner collected, within the protocol's size cap). */
  async jobOutputs(jobId: string): Promise<JobOutputFile[]> {
    const row = await this.mustGet(jobId);
    if (!row.finalized) {
      throw new CmeshError("JOB_NOT_FINISHED", `job ${jobId} is ${row.state}; outputs exist once it ends`);
    }
    return row.outputs ?? [];
  }

  /** The receipt signed by this validator and countersigned by the miner, once the job ended. */
  async jobReceipt(jobId: string): Promise<(SignedJobReceipt & { jobId: string }) | undefined> {
    const receipt = (await this.mustGet(jobId)).receipt;
    return receipt ? { jobId, ...receipt } : undefined;
  }

  /** Cancels a job (a queued job at once; a running one is killed on its miner). An ended job is unchanged. */
  async cancelJob(jobId: string, reason = "cancelled by the renter"): Promise<JobView> {
    const row = await this.mustGet(jobId);
    if (isTerminalJobState(row.state)) return toView(row);
    if (row.minerHotkey) {
      const target = await this.targetOf(row.minerHotkey);
      const res = target
        ? await this.opts.dendrite.query(target, JobCancel, { jobId, cancelReason: reason })
        : null;
      if (res?.ok) {
        await this.finalize(jobId, res.response.cancelled);
        return toView(await this.mustGet(jobId));
      }
      const why = res ? failureText(res) : "miner has no axon";
      await this.endWithoutMiner(jobId, "cancelled", `${reason} (the miner did not confirm: ${why})`);
      return toView(await this.mustGet(jobId));
    }
    await this.endWithoutMiner(jobId, "cancelled", reason);
    return toView(await this.mustGet(jobId));
  }

  /** Subscribes to state changes of every job; returns the unsubscribe function. */
  onJobEvent(cb: (e: JobEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Stops driving jobs (they resume at the next open()). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.drivers.values()]);
    await Promise.all([...this.finalizing.values()]);
    await this.store.close();
  }

  private async mustGet(jobId: string): Promise<ValidatorJobRow> {
    const row = await this.store.get(jobId);
    if (!row) throw new CmeshError("JOB_NOT_FOUND", `no job ${jobId}`);
    return row;
  }

  private emit(row: ValidatorJobRow): void {
    if (row.state === "queued" && row.attempts === 0) this.metrics?.submitted.inc();
    if (row.state === "queued" && row.attempts > 0) this.metrics?.retried.inc();
    if (isTerminalJobState(row.state)) this.metrics?.ended.inc({ state: row.state });
    const view = toView(row);
    for (const cb of this.listeners) {
      try {
        cb({ jobId: row.jobId, state: row.state, view });
      } catch (err) {
        this.log.warn({ err }, "job event listener threw");
      }
    }
  }

  private async patch(jobId: string, patch: Partial<ValidatorJobRow>): Promise<ValidatorJobRow> {
    const before = await this.mustGet(jobId);
    await this.store.update(jobId, patch);
    const after = await this.mustGet(jobId);
    if (before.state !== after.state) this.emit(after);
    return after;
  }

  private async targetOf(hotkey: string): Promise<{ ip: string; port: number; hotkey: string } | null> {
    const m = (await this.opts.candidates()).find((c) => c.hotkey === hotkey);
    return m?.axon ? { ip: m.axon.ip, port: m.axon.port, hotkey } : null;
  }

  private startDriver(jobId: string): void {
    if (this.drivers.has(jobId)) return;
    const p = this.drive(jobId)
      .catch((err) => this.log.error({ jobId, err: (err as Error).message }, "job driver crashed"))
      .finally(() => this.drivers.delete(jobId));
    this.drivers.set(jobId, p);
  }

  private async drive(jobId: string): Promise<void> {
    const declined = new Map<string, string>(); // miners that refused this job in this round, with why
    let queuedSince = Date.now();
    let lastContact = Date.now();
    // Short jobs finish fast: poll at 50 ms first, doubling up to pollIntervalMs.
    let pollDelay = Math.min(50, this.pollMs);
    while (!this.closed) {
      const row = await this.store.get(jobId);
      if (!row || row.finalized || isTerminalJobState(row.state)) return;

      if (!row.minerHotkey) {
        const placed = await this.place(row, declined);
        if (placed) {
          lastContact = Date.now();
          pollDelay = Math.min(50, this.pollMs);
          continue;
        }
        if (Date.now() - queuedSince > this.queueMs) {
          const tried = [...declined].map(([hk, why]) => `${hk}: ${why}`).join("; ");
          const base = row.namedMiner
            ? `miner ${row.namedMiner} did not take the job`
            : "no miner took the job";
          await this.endWithoutMiner(
            jobId,
            "failed",
            [row.reason, `${base} within ${Math.round(this.queueMs / 1000)}s${tried ? ` (${tried})` : ""}`]
              .filter(Boolean)
              .join("; "),
          );
          return;
        }
        // Busy miners may free up: forget their refusals now and then.
        if (declined.size > 0 && Math.random() < 0.2) declined.clear();
        await sleep(this.pollMs);
        continue;
      }

      const target = await this.targetOf(row.minerHotkey);
      const res = target ? await this.opts.dendrite.query(target, JobStatus, { jobId }) : null;
      if (res?.ok) {
        lastContact = Date.now();
        const s = res.response.status;
        if (isTerminalJobState(s.state)) {
          await this.finalize(jobId, s);
          return;
        }
        await this.patch(jobId, {
          state: s.state,
          startedAt: s.startedAt,
          stdoutBytes: s.stdoutBytes,
          stderrBytes: s.stderrBytes,
        });
      } else if (res && res.status === 404) {
        lastContact = 0; // the miner no longer knows the job: lost now
      }
      if (!res?.ok && Date.now() - lastContact > this.deadMs) {
        const why = res ? failureText(res) : "no axon address";
        const lostReason = `miner ${row.minerHotkey} lost the job (unreachable or unknown for ${Math.round(this.deadMs / 1000)}s: ${why})`;
        const attempts = row.attempts + 1;
        if (attempts < this.maxAttempts && !row.namedMiner) {
          this.log.warn({ jobId, miner: row.minerHotkey }, "miner lost the job; retrying on another miner");
          await this.patch(jobId, {
            state: "queued",
            minerHotkey: null,
            attempts,
            reason: `${lostReason}; retried on another miner`,
            startedAt: null,
            stdoutBytes: 0,
            stderrBytes: 0,
          });
          queuedSince = Date.now();
          continue;
        }
        await this.patch(jobId, { attempts });
        await this.endWithoutMiner(jobId, "failed", [row.reason, lostReason].filter(Boolean).join("; "));
        return;
      }
      await sleep(pollDelay);
      pollDelay = Math.min(pollDelay * 2, this.pollMs);
    }
  }

  /** Sends the job to one suitable miner; returns whether a miner accepted it. */
  private async place(row: ValidatorJobRow, declined: Map<string, string>): Promise<boolean> {
    const all = await this.opts.candidates();
    const pool = all
      .filter((c) => (row.namedMiner ? c.hotkey === row.namedMiner : true))
      .filter((c) => c.axon && c.verified && !c.allocated)
      .filter((c) => !row.tried.includes(c.hotkey) || row.namedMiner)
      .filter((c) => !declined.has(c.hotkey))
      .sort((a, b) => (b.reliability ?? 0) - (a.reliability ?? 0) || Math.random() - 0.5);
    for (const c of pool) {
      const target = { ip: c.axon!.ip, port: c.axon!.port, hotkey: c.hotkey };
      const res = await this.opts.dendrite.query(target, JobSubmit, {
        jobId: row.jobId,
        spec: row.spec,
        specSha256: jobSpecDigest(row.spec),
      });
      if (res.ok) {
        // The job may have been cancelled while the request was in flight.
        const now = await this.mustGet(row.jobId);
        if (isTerminalJobState(now.state)) {
          await this.opts.dendrite.query(target, JobCancel, {
            jobId: row.jobId,
            cancelReason: now.reason ?? "cancelled",
          });
          return true;
        }
        await this.patch(row.jobId, {
          minerHotkey: c.hotkey,
          state: res.response.job.state,
          tried: [...row.tried, c.hotkey],
        });
        this.log.info({ jobId: row.jobId, miner: c.hotkey }, "job accepted by miner");
        return true;
      }
      declined.set(c.hotkey, failureText(res));
      // A 4xx other than busy means the miner refuses this spec; a named miner has no alternative.
      if (
        row.namedMiner &&
        res.status >= 400 &&
        res.status < 500 &&
        res.status !== 429 &&
        res.status !== 408
      ) {
        await this.endWithoutMiner(row.jobId, "failed", `miner ${c.hotkey} refused the job: ${res.message}`);
        return true;
      }
    }
    return false;
  }

  /** Ends a job the validator cannot get results for (never placed, lost, or cancel not confirmed). */
  private async endWithoutMiner(jobId: string, state: JobState, reason: string): Promise<void> {
    const row = await this.mustGet(jobId);
    if (row.finalized) return;
    await this.patch(jobId, {
      state,
      reason: reason.slice(0, JOB_LIMITS.maxReasonChars),
      endedAt: nowIso(),
      finalized: true,
    });
  }

  /** Fetches logs and outputs of an ended job, stores them, and exchanges the receipt. Runs once per job. */
  private finalize(jobId: string, status: MinerJobStatus): Promise<void> {
    const running = this.finalizing.get(jobId);
    if (running) return running;
    const p = this.doFinalize(jobId, status).finally(() => this.finalizing.delete(jobId));
    this.finalizing.set(jobId, p);
    return p;
  }

  private async doFinalize(jobId: string, status: MinerJobStatus): Promise<void> {
    const row = await this.mustGet(jobId);
    if (row.finalized || !row.minerHotkey || !isTerminalJobState(status.state)) return;
    const target = await this.targetOf(row.minerHotkey);
    const problems: string[] = [];
    let stdout: Buffer = Buffer.alloc(0);
    let stderr: Buffer = Buffer.alloc(0);
    let outputs: JobOutputFile[] = [];
    if (target) {
      const logs = await this.fetchAllLogs(target, jobId);
      if (logs.ok) ({ stdout, stderr } = logs);
      else problems.push(`logs unavailable: ${logs.message}`);
      const out = await this.opts.dendrite.query(target, JobOutputs, { jobId });
      if (out.ok) {
        outputs = out.response.files;
        if (out.response.skipped.length > 0) {
          problems.push(
            `outputs skipped: ${out.response.skipped
              .slice(0, 5)
              .map((s) => `${s.path} (${s.reason})`)
              .join(", ")}`,
          );
        }
      } else problems.push(`outputs unavailable: ${failureText(out)}`);
    } else problems.push("miner has no axon address; logs and outputs unavailable");

    const earlier = row.attempts > 0 ? row.reason : null; // why the job moved to this miner
    const reason = [earlier, status.reason, ...problems].filter(Boolean).join("; ") || null;
    const ended = await this.patch(jobId, {
      state: status.state,
      exitCode: status.exitCode,
      reason: reason ? reason.slice(0, JOB_LIMITS.maxReasonChars) : null,
      startedAt: status.startedAt,
      endedAt: status.endedAt ?? nowIso(),
      stdoutBytes: stdout.length,
      stderrBytes: stderr.length,
      stdoutB64: stdout.toString("base64"),
      stderrB64: stderr.toString("base64"),
      outputs,
      finalized: true,
    });
    if (target) {
      const receipt = await this.exchangeReceipt(target, ended, status, stdout, stderr, outputs);
      if (receipt) await this.store.update(jobId, { receipt });
    }
  }

  private async fetchAllLogs(
    target: { ip: string; port: number; hotkey: string },
    jobId: string,
  ): Promise<{ ok: true; stdout: Buffer; stderr: Buffer } | { ok: false; message: string }> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let so = 0;
    let se = 0;
    // Each round moves at least one offset forward, and both are capped by maxLogBytes.
    for (let round = 0; round < 2 * Math.ceil(JOB_LIMITS.maxLogBytes / 1024) + 2; round++) {
      const res: DendriteResult<{
        stdoutChunk: string;
        stderrChunk: string;
        nextStdoutOffset: number;
        nextStderrOffset: number;
        logsDone: boolean;
      }> = await this.opts.dendrite.query(target, JobLogsSynapse, {
        jobId,
        stdoutOffset: so,
        stderrOffset: se,
        maxBytes: JOB_LIMITS.maxLogChunkBytes,
      });
      if (!res.ok) return { ok: false, message: failureText(res) };
      const o = Buffer.from(res.response.stdoutChunk, "base64");
      const e = Buffer.from(res.response.stderrChunk, "base64");
      out.push(o);
      err.push(e);
      so += o.length;
      se += e.length;
      if (res.response.logsDone || (o.length === 0 && e.length === 0)) break;
      if (so > JOB_LIMITS.maxLogBytes || se > JOB_LIMITS.maxLogBytes) break;
    }
    return { ok: true, stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
  }

  private async exchangeReceipt(
    target: { ip: string; port: number; hotkey: string },
    row: ValidatorJobRow,
    status: MinerJobStatus,
    stdout: Buffer,
    stderr: Buffer,
    outputs: JobOutputFile[],
  ): Promise<SignedJobReceipt | null> {
    const payload: JobReceiptPayload = {
      kind: "computemesh.job-finished.v1",
      jobId: row.jobId,
      minerHotkey: target.hotkey,
      validatorHotkey: this.opts.hotkey.address,
      state: status.state,
      exitCode: status.exitCode,
      startedAt: status.startedAt,
      endedAt: status.endedAt,
      stdoutSha256: sha256Hex(stdout),
      stderrSha256: sha256Hex(stderr),
      outputsSha256: jobOutputsDigest(outputs),
      issuedAt: nowIso(),
    };
    const validatorSignature = signJobReceipt(payload, this.opts.hotkey);
    const res = await this.opts.dendrite.query(target, JobReceipt, {
      payload,
      payloadSha256: jobReceiptId(payload),
      validatorSignature,
    });
    if (!res.ok) {
      this.log.warn(
        { jobId: row.jobId, failure: failureText(res) },
        "miner did not countersign the job receipt",
      );
      return null;
    }
    const minerSignature = res.response.minerSignature;
    if (
      !verifySignature(jobReceiptMinerMessage(payload, validatorSignature), minerSignature, target.hotkey)
    ) {
      this.log.warn({ jobId: row.jobId }, "miner's receipt countersignature does not verify");
      return null;
    }
    return { payload, validatorSignature, minerSignature };
  }
}

function toView(row: ValidatorJobRow): JobView {
  const v: JobView = {
    jobId: row.jobId,
    minerHotkey: row.minerHotkey,
    state: row.state,
    createdAt: row.createdAt,
    stdoutBytes: row.stdoutBytes,
    stderrBytes: row.stderrBytes,
  };
  if (row.exitCode !== null) v.exitCode = row.exitCode;
  if (row.reason) v.reason = row.reason;
  if (row.startedAt) v.startedAt = row.startedAt;
  if (row.endedAt) v.endedAt = row.endedAt;
  return v;
}
