import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Axon,
  type CallerInfo,
  countersignJobReceipt,
  isTerminalJobState,
  JobCancel,
  JobLogs,
  JobOutputs,
  JobReceipt,
  JobStatus,
  JobSubmit,
  jobOutputsDigest,
  jobReceiptId,
  jobReceiptValidatorMessage,
  jobSpecDigest,
  type KeyringPair,
  SynapseError,
  sha256Hex,
  verifySignature,
} from "@computemesh/protocol";
import { JOB_ERROR_STATUS, JobRunnerError } from "./errors.ts";
import { JobRunner, type JobRunnerOptions } from "./runner.ts";
import type { MinerJobRow } from "./store.ts";

export interface AttachJobRunnerOptions extends JobRunnerOptions {
  /** The miner's hotkey: countersigns job receipts (must be the axon's hotkey). */
  hotkey: KeyringPair;
  /** A reason string while the machine must not take jobs (e.g. it is rented); null when free. */
  busyReason?: () => string | null;
  /** Axon priority of JobSubmit and JobCancel; the read-only job synapses get one less. Default 2. */
  priority?: number;
}

/** Stored with the job once the miner countersigned it. */
interface StoredReceipt {
  id: string;
  validatorSignature: string;
  minerSignature: string;
}

/**
 * Opens the miner's job runner on `dataDir` (reconciling jobs a previous process left) and serves the job
 * synapses on `axon` (call before `axon.start()`). Every job belongs to the validator hotkey that submitted it;
 * other callers get 403. Returns the runner (close it on shutdown).
 *
 * @example
 * const jobs = await attachJobRunner(axon, { docker: new Docker(), dataDir, logger, hotkey });
 * await axon.start();
 * // on shutdown: await axon.stop(); await jobs.close();
 */
export async function attachJobRunner(axon: Axon, opts: AttachJobRunnerOptions): Promise<JobRunner> {
  const runner = await JobRunner.open(opts);
  const high = opts.priority ?? 2;
  const low = high - 1;
  const dataDir = opts.dataDir;

  const owned = (jobId: string, caller: CallerInfo): MinerJobRow => {
    const row = runner.get(jobId);
    if (!row) throw new SynapseError(404, `no job ${jobId} on this miner`);
    if (row.owner !== caller.hotkey) throw new SynapseError(403, `job ${jobId} belongs to another validator`);
    return row;
  };

  axon.attach(
    JobSubmit,
    (req, caller) =>
      mapErrors(async () => {
        if (jobSpecDigest(req.spec) !== req.specSha256) {
          throw new SynapseError(400, "specSha256 does not match the spec");
        }
        const busy = opts.busyReason?.() ?? null;
        if (busy !== null && !runner.get(req.jobId)) throw new SynapseError(429, `miner is busy: ${busy}`);
        return { job: await runner.submit(req.jobId, req.spec, caller.hotkey) };
      }),
    { priority: high },
  );

  axon.attach(
    JobStatus,
    (req, caller) =>
      mapErrors(async () => {
        owned(req.jobId, caller);
        return { status: runner.status(req.jobId)! };
      }),
    { priority: low },
  );

  axon.attach(
    JobLogs,
    (req, caller) =>
      mapErrors(async () => {
        owned(req.jobId, caller);
        const chunk = runner.readLogs(req.jobId, req.stdoutOffset, req.stderrOffset, req.maxBytes);
        return {
          stdoutChunk: chunk.stdout.toString("base64"),
          stderrChunk: chunk.stderr.toString("base64"),
          nextStdoutOffset: chunk.nextStdoutOffset,
          nextStderrOffset: chunk.nextStderrOffset,
          logsDone: chunk.done,
        };
      }),
    { priority: low },
  );

  axon.attach(
    JobOutputs,
    (req, caller) =>
      mapErrors(async () => {
        owned(req.jobId, caller);
        return await runner.outputs(req.jobId);
      }),
    { priority: low },
  );

  axon.attach(
    JobCancel,
    (req, caller) =>
      mapErrors(async () => {
        owned(req.jobId, caller);
        return { cancelled: await runner.cancel(req.jobId, req.cancelReason) };
      }),
    { priority: high },
  );

  axon.attach(
    JobReceipt,
    (req, caller) =>
      mapErrors(async () => {
        const p = req.payload;
        const id = jobReceiptId(p);
        if (id !== req.payloadSha256) throw new SynapseError(400, "payloadSha256 does not match the payload");
        if (p.minerHotkey !== opts.hotkey.address) throw new SynapseError(400, "receipt names another miner");
        if (p.validatorHotkey !== caller.hotkey)
          throw new SynapseError(403, "receipt names another validator than the caller");
        const row = owned(p.jobId, caller);
        const stored = row.receipt as StoredReceipt | null;
        if (stored && stored.id === id && stored.validatorSignature === req.validatorSignature) {
          return { minerSignature: stored.minerSignature };
        }
        if (!verifySignature(jobReceiptValidatorMessage(p), req.validatorSignature, p.validatorHotkey)) {
          throw new SynapseError(400, "validator signature does not verify");
        }
        const mismatch = await receiptMismatch(runner, dataDir, row, p);
        if (mismatch) throw new SynapseError(409, `receipt does not match this miner's record: ${mismatch}`);
        const minerSignature = countersignJobReceipt(p, req.validatorSignature, opts.hotkey);
        runner.storeReceipt(p.jobId, {
          id,
          validatorSignature: req.validatorSignature,
          minerSignature,
          payload: p,
        });
        return { minerSignature };
      }),
    { priority: low },
  );

  return runner;
}

/** Checks a receipt's claims against the miner's own record; returns what differs, or null. */
async function receiptMismatch(
  runner: JobRunner,
  dataDir: string,
  row: MinerJobRow,
  p: Parameters<typeof jobReceiptId>[0],
): Promise<string | null> {
  if (!isTerminalJobState(row.state)) return `job is still ${row.state}`;
  if (p.state !== row.state) return `state ${p.state} but the job ended ${row.state}`;
  if (p.exitCode !== row.exitCode) return `exit code ${p.exitCode} but the job exited ${row.exitCode}`;
  const dir = join(dataDir, "jobs", row.jobId);
  const digestOf = (file: string) => {
    try {
      return sha256Hex(readFileSync(join(dir, file)));
    } catch {
      return sha256Hex("");
    }
  };
  if (p.stdoutSha256 !== digestOf("stdout.log")) return "stdout digest differs";
  if (p.stderrSha256 !== digestOf("stderr.log")) return "stderr digest differs";
  const outputs = await runner.outputs(row.jobId);
  if (p.outputsSha256 !== jobOutputsDigest(outputs.files)) return "outputs digest differs";
  return null;
}

async function mapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof JobRunnerError) {
      throw new SynapseError(JOB_ERROR_STATUS[err.code as keyof typeof JOB_ERROR_STATUS] ?? 400, err.message);
    }
    throw err;
  }
}
