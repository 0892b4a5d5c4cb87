import { isCmeshError } from "@computemesh/core";
import { balanceMicro, newId } from "./accounts.ts";
import {
  type JobReceiptView,
  type JobSpec,
  type JobView,
  type MarketBackend,
  isTerminalJobState,
} from "./backend.ts";
import type { Clock } from "./clock.ts";
import { type ApiDb, toInt } from "./db/open.ts";
import { ApiError, statusForBackendCode } from "./errors.ts";
import { KeyedLock } from "./keyed-lock.ts";
import { costForSeconds, hourlyRateMicro } from "./money.ts";

/** A job as the API shows it: the backend's view plus what it cost (null until it ended and was settled). */
export type ChargedJobView = JobView & { costMicro: number | null };

export interface JobLimits {
  /** Decoded bytes of all input files of one job. */
  maxInputBytes: number;
  maxInputFiles: number;
}
export const DEFAULT_JOB_LIMITS: JobLimits = { maxInputBytes: 8 * 1024 * 1024, maxInputFiles: 64 };

function backendError(err: unknown, what: string): never {
  if (err instanceof ApiError) throw err;
  if (isCmeshError(err))
    throw new ApiError(statusForBackendCode(err.code), err.code, err.message, { hint: err.hint, cause: err });
  throw new ApiError(502, "BACKEND_FAILED", `${what}: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}

/** Checks input paths stay inside the job's input directory. */
export function checkRelativePath(path: string, field: string): void {
  if (
    path.length === 0 ||
    path.startsWith("/") ||
    path.split(/[\\/]/).some((p) => p === "..") ||
    path.includes("\0")
  ) {
    throw new ApiError(
      400,
      "VALIDATION_FAILED",
      `${field} must be a relative path without "..", got "${path}"`,
      { field },
    );
  }
}

/** Jobs delegate to the market backend; the API adds ownership (every job belongs to one account) and limits. */
export class JobService {
  private readonly lock = new KeyedLock();
  constructor(
    private readonly db: ApiDb,
    private readonly backend: MarketBackend,
    private readonly clock: Clock,
    private readonly limits: JobLimits = DEFAULT_JOB_LIMITS,
  ) {}

  async submit(accountId: string, spec: JobSpec, opts: { minerHotkey?: string }): Promise<ChargedJobView> {
    const inputs = spec.inputs ?? [];
    if (inputs.length > this.limits.maxInputFiles) {
      throw new ApiError(413, "INPUT_TOO_LARGE", `at most ${this.limits.maxInputFiles} input files`, {
        field: "inputs",
      });
    }
    let total = 0;
    inputs.forEach((input, i) => {
      checkRelativePath(input.path, `inputs[${i}].path`);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(input.contentBase64) || input.contentBase64.length % 4 !== 0) {
        throw new ApiError(400, "VALIDATION_FAILED", `inputs[${i}].contentBase64 is not valid base64`, {
          field: `inputs[${i}].contentBase64`,
        });
      }
      total += Buffer.byteLength(input.contentBase64, "base64");
    });
    if (total > this.limits.maxInputBytes) {
      throw new ApiError(
        413,
        "INPUT_TOO_LARGE",
        `inputs are ${total} bytes; the limit is ${this.limits.maxInputBytes}`,
        {
          field: "inputs",
          hint: "put large data in the image or fetch it before submitting",
        },
      );
    }
    for (const [i, p] of (spec.outputPaths ?? []).entries()) checkRelativePath(p, `outputPaths[${i}]`);
    if ((await balanceMicro(this.db, accountId)) <= 0) {
      throw new ApiError(402, "INSUFFICIENT_BALANCE", "a job needs a positive balance", {
        hint: "deposit credits: `cmesh account deposit --credits 10`",
      });
    }
    let job: JobView;
    try {
      job = await this.backend.submitJob(
        spec,
        opts.minerHotkey ? { minerHotkey: opts.minerHotkey } : undefined,
      );
    } catch (err) {
      backendError(err, "the validator could not accept the job");
    }
    await this.db
      .insertInto("api_jobs")
      .values({
        job_id: job.jobId,
        account_id: accountId,
        image: spec.image,
        created_at: new Date(this.clock.now()).toISOString(),
      })
      .execute();
    return { ...job, costMicro: null } as ChargedJobView;
  }

  /**
   * Charges a finished job once: whole seconds from start to end × the machine's hourly price (price per
   * GPU-hour × GPUs), capped at the balance. A job that never started costs nothing.
   */
  async settle(accountId: string, job: JobView): Promise<number | null> {
    if (!isTerminalJobState(job.state)) return null;
    return this.lock.run(accountId, async () => {
      const row = await this.db
        .selectFrom("api_jobs")
        .selectAll()
        .where("job_id", "=", job.jobId)
        .executeTakeFirst();
      if (!row) return null;
      if (row.settled_at !== null) return toInt(row.charged_micro);
      let cost = 0;
      if (job.startedAt && job.endedAt && job.minerHotkey) {
        const seconds = Math.max(0, Math.floor((Date.parse(job.endedAt) - Date.parse(job.startedAt)) / 1000));
        const machine = (await this.backend.listMachines()).find((m) => m.minerHotkey === job.minerHotkey);
        const rate = machine ? hourlyRateMicro(machine.pricePerGpuHour, machine.gpuCount) : 0;
        cost = Math.min(costForSeconds(rate, seconds), Math.max(0, await balanceMicro(this.db, accountId)));
        if (cost > 0) {
          await this.db
            .insertInto("api_ledger")
            .values({
              id: newId("led"),
              account_id: accountId,
              amount_micro: -cost,
              kind: "charge",
              rental_id: null,
              memo: `job ${job.jobId} on ${job.minerHotkey}: ${seconds}s`,
              created_at: new Date(this.clock.now()).toISOString(),
            })
            .execute();
        }
      }
      await this.db
        .updateTable("api_jobs")
        .set({ charged_micro: cost, settled_at: new Date(this.clock.now()).toISOString() })
        .where("job_id", "=", job.jobId)
        .execute();
      return cost;
    });
  }

  /** Settles every ended, unsettled job (called by the metering pass). */
  async settleFinished(): Promise<void> {
    const rows = await this.db
      .selectFrom("api_jobs")
      .select(["job_id", "account_id"])
      .where("settled_at", "is", null)
      .limit(500)
      .execute();
    for (const r of rows) {
      const job = await this.backend.job(r.job_id).catch(() => undefined);
      if (job) await this.settle(r.account_id, job);
    }
  }

  private async withCost(accountId: string, job: JobView): Promise<ChargedJobView> {
    return { ...job, costMicro: await this.settle(accountId, job) };
  }

  private async own(accountId: string, jobId: string): Promise<void> {
    const row = await this.db
      .selectFrom("api_jobs")
      .select("job_id")
      .where("job_id", "=", jobId)
      .where("account_id", "=", accountId)
      .executeTakeFirst();
    if (!row) throw new ApiError(404, "JOB_NOT_FOUND", `no job ${jobId} on this account`, { field: "jobId" });
  }

  async get(accountId: string, jobId: string): Promise<ChargedJobView> {
    await this.own(accountId, jobId);
    const job = await this.backend.job(jobId).catch((err) => backendError(err, "job lookup failed"));
    if (!job)
      throw new ApiError(404, "JOB_NOT_FOUND", `the validator no longer knows job ${jobId}`, {
        field: "jobId",
      });
    return this.withCost(accountId, job);
  }

  async list(accountId: string): Promise<ChargedJobView[]> {
    const rows = await this.db
      .selectFrom("api_jobs")
      .select("job_id")
      .where("account_id", "=", accountId)
      .orderBy("created_at", "desc")
      .limit(100)
      .execute();
    const jobs = await Promise.all(rows.map((r) => this.backend.job(r.job_id).catch(() => undefined)));
    return Promise.all(
      jobs.filter((j): j is JobView => j !== undefined).map((j) => this.withCost(accountId, j)),
    );
  }

  async logs(accountId: string, jobId: string, from?: { stdout: number; stderr: number }) {
    await this.own(accountId, jobId);
    return this.backend.jobLogs(jobId, from).catch((err) => backendError(err, "log read failed"));
  }

  async outputs(accountId: string, jobId: string) {
    await this.own(accountId, jobId);
    return this.backend.jobOutputs(jobId).catch((err) => backendError(err, "output read failed"));
  }

  async cancel(accountId: string, jobId: string): Promise<ChargedJobView> {
    await this.own(accountId, jobId);
    const job = await this.backend.cancelJob(jobId).catch((err) => backendError(err, "cancel failed"));
    return this.withCost(accountId, job);
  }

  async receipt(accountId: string, jobId: string): Promise<JobReceiptView | null> {
    await this.own(accountId, jobId);
    if (!this.backend.jobReceipt) return null;
    return (
      (await this.backend.jobReceipt(jobId).catch((err) => backendError(err, "receipt read failed"))) ?? null
    );
  }
}
