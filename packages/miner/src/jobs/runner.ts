import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, realpathSync } from "node:fs";
import { chmod, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import {
  isTerminalJobState,
  JOB_LIMITS,
  type JobSpec,
  type JobState,
  jobSpecDigest,
  type MinerJobStatus,
} from "@computemesh/protocol";
import type Docker from "dockerode";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import {
  DEFAULT_CEILINGS,
  JOB_LABELS,
  type JobLimitCeilings,
  jobContainerName,
  jobContainerOptions,
  type ResolvedJobLimits,
  resolveJobLimits,
} from "./container-spec.ts";
import { JobRunnerError } from "./errors.ts";
import { type CollectedOutputs, collectOutputs, directorySize, writeInputs } from "./files.ts";
import { CappedFileSink, utf8SafeEnd } from "./log-sink.ts";
import { JobRunnerMetrics } from "./metrics.ts";
import { type MinerJobRow, MinerJobStore, toStatus } from "./store.ts";

export interface JobRunnerOptions {
  docker: Docker;
  /** Jobs live under `<dataDir>/jobs/<jobId>/`; the job table is `<dataDir>/jobs.sqlite`. */
  dataDir: string;
  logger: Logger;
  /** Jobs accepted at once (queued, accepted or running); more are declined as busy. Default 2. */
  maxConcurrentJobs?: number;
  ceilings?: JobLimitCeilings;
  /** Bytes of stdout and of stderr kept per job. Default JOB_LIMITS.maxLogBytes. */
  maxLogBytes?: number;
  /** Pull an image that is not present (default true); false makes a missing image fail the job at once. */
  allowPull?: boolean;
  /** Bytes a job may write to /output (checked every second; over it the job is killed). Default 1 GiB. */
  maxOutputDiskBytes?: number;
  /** Prometheus registry for `cmesh_miner_jobs_*` metrics (none when absent). */
  registry?: Registry;
  /** Called whenever a job changes state (for metrics and logs). */
  onStateChange?: (status: MinerJobStatus) => void;
}

type KillReason =
  | { kind: "cancel"; reason: string }
  | { kind: "timeout" }
  | { kind: "limit"; reason: string };

interface CapturedOutput {
  sinks: { stdout: CappedFileSink; stderr: CappedFileSink };
  ended: Promise<void>;
  stream: Readable;
}

interface LiveJob {
  kill?: KillReason;
  container?: Docker.Container;
  sinks?: { stdout: CappedFileSink; stderr: CappedFileSink };
  done: Promise<void>;
}

/** The cancel reason when the job was cancelled (a function so TypeScript does not narrow across awaits). */
function cancelReason(live: LiveJob): string | null {
  return live.kill?.kind === "cancel" ? live.kill.reason : null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const nowIso = () => new Date().toISOString();

function withDeadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new JobRunnerError("JOB_STAGE_TIMEOUT", message)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function errorMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return String(e?.json?.message ?? e?.message ?? err).slice(0, 500);
}

function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number })?.statusCode === 404;
}

/**
 * Runs jobs in Docker containers on the miner: `--network none`, inputs mounted read-only at /volume, outputs at
 * /output, CPU/memory/pids limits, all capabilities dropped. Download (image + inputs), execution and upload
 * (output collection) each have a time limit; stdout/stderr are kept up to a cap; every state change is written
 * to SQLite, and `open()` reconciles what a previous process left behind.
 */
export class JobRunner {
  private readonly store: MinerJobStore;
  private readonly live = new Map<string, LiveJob>();
  private readonly maxConcurrent: number;
  private readonly ceilings: JobLimitCeilings;
  private readonly maxLogBytes: number;
  private readonly log: Logger;
  private closed = false;
  /** Labels this runner's containers: derived from the data directory, so a restart finds its own. */
  readonly runnerId: string;
  private readonly metrics: JobRunnerMetrics | undefined;

  private constructor(private readonly opts: JobRunnerOptions) {
    mkdirSync(join(opts.dataDir, "jobs"), { recursive: true });
    this.runnerId = createHash("sha256").update(realpathSync(opts.dataDir)).digest("hex").slice(0, 16);
    this.store = new MinerJobStore(join(opts.dataDir, "jobs.sqlite"));
    this.maxConcurrent = opts.maxConcurrentJobs ?? 2;
    this.ceilings = opts.ceilings ?? DEFAULT_CEILINGS;
    this.maxLogBytes = opts.maxLogBytes ?? JOB_LIMITS.maxLogBytes;
    this.log = opts.logger.child({ component: "job-runner" });
    this.metrics = opts.registry ? new JobRunnerMetrics(opts.registry) : undefined;
  }

  /** Opens the job table and reconciles jobs a previous process left unfinished. */
  static async open(opts: JobRunnerOptions): Promise<JobRunner> {
    const runner = new JobRunner(opts);
    await runner.reconcile();
    return runner;
  }

  private jobDir(jobId: string): string {
    return join(this.opts.dataDir, "jobs", jobId);
  }

  private paths(jobId: string) {
    const dir = this.jobDir(jobId);
    return {
      dir,
      input: join(dir, "input"),
      output: join(dir, "output"),
      stdout: join(dir, "stdout.log"),
      stderr: join(dir, "stderr.log"),
      outputs: join(dir, "outputs.json"),
    };
  }

  /** Accepts a job (idempotent for the same owner and spec) and starts it in the background. */
  async submit(jobId: string, spec: JobSpec, owner: string): Promise<MinerJobStatus> {
    if (this.closed) throw new JobRunnerError("MINER_BUSY", "the job runner is shutting down");
    const existing = this.store.get(jobId);
    if (existing) {
      if (existing.owner === owner && jobSpecDigest(existing.spec) === jobSpecDigest(stripInputs(spec))) {
        return this.status(jobId)!;
      }
      throw new JobRunnerError(
        "JOB_EXISTS",
        `job ${jobId} already exists on this miner with another owner or spec`,
      );
    }
    const { limits, refused } = resolveJobLimits(spec, this.ceilings);
    if (refused.length > 0) {
      throw new JobRunnerError("JOB_REJECTED", `limits over this miner's ceilings: ${refused.join(", ")}`);
    }
    if (this.store.countUnfinished() >= this.maxConcurrent) {
      throw new JobRunnerError("MINER_BUSY", `this miner already runs ${this.maxConcurrent} job(s)`, {
        hint: "try another miner or retry later",
      });
    }
    this.store.insert({ jobId, owner, spec: stripInputs(spec), state: "accepted", createdAt: nowIso() });
    const live: LiveJob = { done: Promise.resolve() };
    this.live.set(jobId, live);
    live.done = this.execute(jobId, spec, limits, live)
      .catch((err) => this.log.error({ jobId, err: errorMessage(err) }, "job execution crashed"))
      .finally(() => this.live.delete(jobId));
    this.emit(jobId);
    return this.status(jobId)!;
  }

  /** The row of a job (state, owner, spec without input contents). */
  get(jobId: string): MinerJobRow | undefined {
    return this.store.get(jobId);
  }

  status(jobId: string): MinerJobStatus | undefined {
    const row = this.store.get(jobId);
    if (!row) return undefined;
    const s = toStatus(row);
    const sinks = this.live.get(jobId)?.sinks;
    if (sinks && !isTerminalJobState(row.state)) {
      s.stdoutBytes = sinks.stdout.kept;
      s.stderrBytes = sinks.stderr.kept;
      s.stdoutTruncated = sinks.stdout.truncated;
      s.stderrTruncated = sinks.stderr.truncated;
    }
    return s;
  }

  /** Resolves when the job reaches a terminal state. */
  async waitFor(jobId: string): Promise<MinerJobStatus> {
    for (;;) {
      const s = this.status(jobId);
      if (!s) throw new JobRunnerError("JOB_NOT_FOUND", `no job ${jobId} on this miner`);
      if (isTerminalJobState(s.state)) return s;
      const live = this.live.get(jobId);
      if (live) await live.done;
      else await sleep(50);
    }
  }

  /** Up to `maxBytes` of each stream from the given byte offsets; `done` once the job ended and both are read. */
  readLogs(
    jobId: string,
    stdoutOffset: number,
    stderrOffset: number,
    maxBytes: number,
  ): { stdout: Buffer; stderr: Buffer; nextStdoutOffset: number; nextStderrOffset: number; done: boolean } {
    const row = this.store.get(jobId);
    if (!row) throw new JobRunnerError("JOB_NOT_FOUND", `no job ${jobId} on this miner`);
    const p = this.paths(jobId);
    const out = readChunk(p.stdout, stdoutOffset, maxBytes);
    const err = readChunk(p.stderr, stderrOffset, maxBytes);
    const done = isTerminalJobState(row.state) && out.atEnd && err.atEnd;
    return {
      stdout: out.bytes,
      stderr: err.bytes,
      nextStdoutOffset: stdoutOffset + out.bytes.length,
      nextStderrOffset: stderrOffset + err.bytes.length,
      done,
    };
  }

  /** The collected outputs of a finished job. */
  async outputs(jobId: string): Promise<CollectedOutputs> {
    const row = this.store.get(jobId);
    if (!row) throw new JobRunnerError("JOB_NOT_FOUND", `no job ${jobId} on this miner`);
    if (!isTerminalJobState(row.state)) {
      throw new JobRunnerError(
        "JOB_NOT_FINISHED",
        `job ${jobId} is ${row.state}; outputs exist once it ends`,
      );
    }
    const file = this.paths(jobId).outputs;
    if (!existsSync(file)) return { files: [], skipped: [] };
    return JSON.parse(await readFile(file, "utf8")) as CollectedOutputs;
  }

  /** Kills a job that has not ended (state becomes cancelled); a finished job is returned unchanged. */
  async cancel(jobId: string, reason: string): Promise<MinerJobStatus> {
    const row = this.store.get(jobId);
    if (!row) throw new JobRunnerError("JOB_NOT_FOUND", `no job ${jobId} on this miner`);
    if (isTerminalJobState(row.state)) return this.status(jobId)!;
    const why = reason || "cancelled by the validator";
    this.store.update(jobId, { cancelRequested: why });
    const live = this.live.get(jobId);
    if (live) {
      live.kill ??= { kind: "cancel", reason: why };
      await live.container?.kill().catch(() => undefined);
      await Promise.race([live.done, sleep(10_000)]);
    } else {
      this.finish(jobId, { state: "cancelled", reason: why, exitCode: null });
    }
    return this.status(jobId)!;
  }

  /** Stores the countersigned receipt of a job. */
  storeReceipt(jobId: string, receipt: unknown): void {
    this.store.update(jobId, { receipt });
  }

  /**
   * Stops watching jobs. Containers keep running unless `killRunning`; the next `open()` reconciles them.
   */
  async close(opts: { killRunning?: boolean } = {}): Promise<void> {
    this.closed = true;
    const lives = [...this.live.values()];
    if (opts.killRunning) {
      for (const l of lives) {
        l.kill ??= { kind: "cancel", reason: "the miner shut down" };
        await l.container?.kill().catch(() => undefined);
      }
      await Promise.all(lives.map((l) => Promise.race([l.done, sleep(15_000)])));
    }
    this.detached = true;
    this.store.close();
  }

  /** Set by close(): background watchers stop writing (the store is closed). */
  private detached = false;

  private emit(jobId: string): void {
    if (this.detached) return;
    this.metrics?.active.set(this.store.countUnfinished());
    const s = this.status(jobId);
    if (s) this.opts.onStateChange?.(s);
  }

  private update(jobId: string, patch: Parameters<MinerJobStore["update"]>[1]): void {
    if (this.detached) return;
    this.store.update(jobId, patch);
  }

  private finish(
    jobId: string,
    end: { state: JobState; reason: string | null; exitCode: number | null },
    sinks?: LiveJob["sinks"],
  ): void {
    if (this.detached) return;
    const patch: Parameters<MinerJobStore["update"]>[1] = { ...end, endedAt: nowIso() };
    if (sinks) {
      patch.stdoutBytes = sinks.stdout.kept;
      patch.stderrBytes = sinks.stderr.kept;
      patch.stdoutTruncated = sinks.stdout.truncated;
      patch.stderrTruncated = sinks.stderr.truncated;
    }
    this.store.update(jobId, patch);
    this.metrics?.ended.inc({ state: end.state });
    this.log.info({ jobId, ...end }, "job ended");
    this.emit(jobId);
  }

  private async execute(
    jobId: string,
    spec: JobSpec,
    limits: ResolvedJobLimits,
    live: LiveJob,
  ): Promise<void> {
    const p = this.paths(jobId);
    try {
      // Download stage: the image must be present (pulled if the daemon can) and the inputs written.
      await withDeadline(
        (async () => {
          await this.ensureImage(spec.image);
          await writeInputs(p.input, spec.inputs ?? []);
          mkdirSync(p.output, { recursive: true });
          await chmod(p.output, 0o777); // the image may run as a non-root user
        })(),
        limits.downloadSec * 1000,
        `download stage exceeded its ${limits.downloadSec}s limit`,
      );
      if (live.kill?.kind === "cancel")
        return this.finish(jobId, { state: "cancelled", reason: live.kill.reason, exitCode: null });

      await this.docker
        .getContainer(jobContainerName(jobId))
        .remove({ force: true })
        .catch(() => undefined);
      const container = await this.docker.createContainer(
        jobContainerOptions({
          jobId,
          spec,
          limits,
          inputDir: p.input,
          outputDir: p.output,
          runnerId: this.runnerId,
        }),
      );
      live.container = container;
      this.update(jobId, { containerId: container.id });
      if (cancelReason(live) !== null) {
        await container.remove({ force: true }).catch(() => undefined);
        return this.finish(jobId, { state: "cancelled", reason: cancelReason(live), exitCode: null });
      }
      // Attached before start so not a byte of output is missed (Docker's own log file may rotate).
      const attached = (await container.attach({
        stream: true,
        stdout: true,
        stderr: true,
        logs: false,
      })) as unknown as Readable;
      const output = this.capture(jobId, attached, live);
      await container.start();
      const deadlineAt = Date.now() + limits.executionSec * 1000;
      this.update(jobId, { state: "running", startedAt: nowIso(), deadlineAt });
      this.emit(jobId);
      await this.watch(jobId, container, deadlineAt, limits, live, true, output);
    } catch (err) {
      if (this.detached) return; // a newer runner owns the job now
      const reason =
        err instanceof JobRunnerError ? err.message : `could not run the job container: ${errorMessage(err)}`;
      await live.container?.remove({ force: true }).catch(() => undefined);
      this.finish(jobId, { state: "failed", reason, exitCode: null }, live.sinks);
      await this.cleanupDirs(jobId);
    }
  }

  /** Demultiplexes a Docker output stream into the job's capped stdout/stderr files. */
  private capture(jobId: string, stream: Readable, live: LiveJob): CapturedOutput {
    const p = this.paths(jobId);
    const sinks = {
      stdout: new CappedFileSink(p.stdout, this.maxLogBytes),
      stderr: new CappedFileSink(p.stderr, this.maxLogBytes),
    };
    live.sinks = sinks;
    const ended = new Promise<void>((resolve) => {
      stream.once("end", resolve);
      stream.once("close", resolve);
      stream.once("error", () => resolve());
    });
    this.docker.modem.demuxStream(stream, sinks.stdout, sinks.stderr);
    return { sinks, ended, stream };
  }

  /** Captures logs, enforces the execution deadline, then collects outputs and records how the job ended. */
  private async watch(
    jobId: string,
    container: Docker.Container,
    deadlineAt: number,
    limits: ResolvedJobLimits,
    live: LiveJob,
    running: boolean,
    output: CapturedOutput,
  ): Promise<void> {
    const p = this.paths(jobId);
    const { sinks, ended: logsEnded, stream: logStream } = output;
    // A container that already exited (found so after a restart) is collected, never marked timed out.
    const timer = running
      ? setTimeout(
          () => {
            live.kill ??= { kind: "timeout" };
            container.kill().catch(() => undefined);
          },
          Math.max(0, deadlineAt - Date.now()),
        )
      : undefined;
    // The output directory is a host directory without a quota: watch its size and kill a job that floods it.
    const maxDisk = this.opts.maxOutputDiskBytes ?? 1024 ** 3;
    let checking = false;
    const diskWatch = running
      ? setInterval(() => {
          if (checking) return;
          checking = true;
          directorySize(p.output, maxDisk + 1)
            .then((size) => {
              if (size > maxDisk) {
                live.kill ??= {
                  kind: "limit",
                  reason: `the job wrote more than ${maxDisk} bytes to /output and was killed`,
                };
                return container.kill();
              }
            })
            .catch(() => undefined)
            .finally(() => {
              checking = false;
            });
        }, 1000)
      : undefined;
    try {
      await container.wait();
    } finally {
      clearTimeout(timer);
      clearInterval(diskWatch);
    }
    await Promise.race([logsEnded, sleep(3000)]);
    logStream.destroy();
    sinks.stdout.closeFile();
    sinks.stderr.closeFile();
    if (this.detached) return; // a newer runner owns the job now
    const info = await container.inspect();
    const exitCode = info.State.ExitCode;

    // Upload stage: collect the outputs within the upload limit.
    let uploadFailure: string | null = null;
    const spec = this.store.get(jobId)?.spec;
    try {
      const collected = await withDeadline(
        collectOutputs(p.output, spec?.outputPaths ?? [], JOB_LIMITS.maxOutputBytes),
        limits.uploadSec * 1000,
        `collecting outputs exceeded the ${limits.uploadSec}s upload limit`,
      );
      await writeFile(p.outputs, JSON.stringify(collected));
    } catch (err) {
      uploadFailure =
        err instanceof JobRunnerError ? err.message : `collecting outputs failed: ${errorMessage(err)}`;
    }

    let end: { state: JobState; reason: string | null; exitCode: number | null };
    const cancelled = cancelReason(live);
    if (cancelled !== null) end = { state: "cancelled", reason: cancelled, exitCode };
    else if (live.kill?.kind === "timeout")
      end = {
        state: "timed_out",
        reason: `execution exceeded its ${limits.executionSec}s limit and was killed`,
        exitCode,
      };
    else if (live.kill?.kind === "limit") end = { state: "failed", reason: live.kill.reason, exitCode };
    else if (info.State.OOMKilled)
      end = { state: "failed", reason: `killed: out of memory (limit ${limits.memoryMiB} MiB)`, exitCode };
    else if (exitCode !== 0) end = { state: "failed", reason: `exited with code ${exitCode}`, exitCode };
    else if (uploadFailure) end = { state: "failed", reason: uploadFailure, exitCode };
    else end = { state: "completed", reason: null, exitCode };
    this.finish(jobId, end, sinks);
    await container.remove({ force: true }).catch(() => undefined);
    await this.cleanupDirs(jobId);
  }

  private get docker(): Docker {
    return this.opts.docker;
  }

  private async cleanupDirs(jobId: string): Promise<void> {
    const p = this.paths(jobId);
    await rm(p.input, { recursive: true, force: true }).catch(() => undefined);
    await rm(p.output, { recursive: true, force: true }).catch(() => undefined);
  }

  private async ensureImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (this.opts.allowPull === false) {
      throw new JobRunnerError(
        "JOB_IMAGE_UNAVAILABLE",
        `image ${image} is not on this miner (pulling is disabled)`,
      );
    }
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) =>
        this.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
      );
    } catch (err) {
      throw new JobRunnerError(
        "JOB_IMAGE_UNAVAILABLE",
        `image ${image} is not on this miner and could not be pulled: ${errorMessage(err)}`,
      );
    }
  }

  /**
   * Brings the table in line with Docker after a restart: a running container is watched again (its deadline
   * kept), an exited one is collected, a missing one is reported failed with the reason; job containers unknown
   * to the table are removed.
   */
  private async reconcile(): Promise<void> {
    for (const row of this.store.unfinished()) {
      const jobId = row.jobId;
      let info: Docker.ContainerInspectInfo | null = null;
      if (row.containerId) {
        try {
          info = await this.docker.getContainer(row.containerId).inspect();
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
      if (!row.containerId || !info) {
        const reason = row.containerId
          ? "container lost: it no longer exists after the miner restarted"
          : "the miner restarted before the job's container was created";
        this.finish(jobId, { state: "failed", reason, exitCode: null });
        await this.cleanupDirs(jobId);
        continue;
      }
      const container = this.docker.getContainer(row.containerId);
      if (info.State.Status === "created" || !row.deadlineAt) {
        await container.remove({ force: true }).catch(() => undefined);
        this.finish(jobId, {
          state: "failed",
          reason: "the miner restarted before the job started",
          exitCode: null,
        });
        await this.cleanupDirs(jobId);
        continue;
      }
      this.log.info({ jobId, running: info.State.Running }, "reattaching to a job container after restart");
      const { limits } = resolveJobLimits(row.spec, {
        ...this.ceilings,
        maxExecutionSec: Number.MAX_SAFE_INTEGER,
      });
      const live: LiveJob = { container, done: Promise.resolve() };
      if (row.cancelRequested) live.kill = { kind: "cancel", reason: row.cancelRequested };
      this.live.set(jobId, live);
      // Replayed from Docker's log file (bounded, so a very long output may miss a part).
      const replay = (await container.logs({
        follow: true,
        stdout: true,
        stderr: true,
      })) as unknown as Readable;
      const output = this.capture(jobId, replay, live);
      live.done = this.watch(jobId, container, row.deadlineAt, limits, live, info.State.Running, output)
        .catch((err) => {
          this.finish(jobId, {
            state: "failed",
            reason: `lost the job container: ${errorMessage(err)}`,
            exitCode: null,
          });
        })
        .finally(() => this.live.delete(jobId));
    }
    const containers = await this.docker.listContainers({
      all: true,
      filters: { label: [`${JOB_LABELS.kind}=job`, `${JOB_LABELS.runner}=${this.runnerId}`] },
    });
    for (const c of containers) {
      const jobId = c.Labels[JOB_LABELS.job];
      const row = jobId ? this.store.get(jobId) : undefined;
      if (!row || (isTerminalJobState(row.state) && !this.live.has(row.jobId))) {
        await this.docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
      }
    }
  }
}

function stripInputs(spec: JobSpec): JobSpec {
  if (!spec.inputs) return spec;
  return {
    ...spec,
    inputs: spec.inputs.map((f) => ({ path: f.path, contentBase64: "" })),
  };
}

function readChunk(path: string, offset: number, maxBytes: number): { bytes: Buffer; atEnd: boolean } {
  if (!existsSync(path)) return { bytes: Buffer.alloc(0), atEnd: true };
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (offset >= size) return { bytes: Buffer.alloc(0), atEnd: true };
    const n = Math.min(maxBytes, size - offset);
    const buf = Buffer.alloc(n);
    const read = readSync(fd, buf, 0, n, offset);
    const end = offset + read >= size ? read : utf8SafeEnd(buf, 0, read);
    return { bytes: buf.subarray(0, end), atEnd: offset + end >= size };
  } finally {
    closeSync(fd);
  }
}
