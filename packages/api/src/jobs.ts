import { isCmeshError } from "@computemesh/core";
import type { JobReceiptView, JobSpec, JobView, MarketBackend } from "./backend.ts";
import type { Clock } from "./clock.ts";
import type { ApiDb } from "./db/open.ts";
import { ApiError, statusForBackendCode } from "./errors.ts";

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
  constructor(
    private readonly db: ApiDb,
    private readonly backend: MarketBackend,
    private readonly clock: Clock,
    private readonly limits: JobLimits = DEFAULT_JOB_LIMITS,
  ) {}

  async submit(accountId: string, spec: JobSpec, opts: { minerHotkey?: string }): Promise<JobView> {
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
    return job;
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

  async get(accountId: string, jobId: string): Promise<JobView> {
    await this.own(accountId, jobId);
    const job = await this.backend.job(jobId).catch((err) => backendError(err, "job lookup failed"));
    if (!job)
      throw new ApiError(404, "JOB_NOT_FOUND", `the validator no longer knows job ${jobId}`, {
        field: "jobId",
      });
    return job;
  }

  async list(accountId: string): Promise<JobView[]> {
    const rows = await this.db
      .selectFrom("api_jobs")
      .select("job_id")
      .where("account_id", "=", accountId)
      .orderBy("created_at", "desc")
      .limit(100)
      .execute();
    const jobs = await Promise.all(rows.map((r) => this.backend.job(r.job_id).catch(() => undefined)));
    return jobs.filter((j): j is JobView => j !== undefined);
  }

  async logs(accountId: string, jobId: string, from?: { stdout: number; stderr: number }) {
    await this.own(accountId, jobId);
    return this.backend.jobLogs(jobId, from).catch((err) => backendError(err, "log read failed"));
  }

  async outputs(accountId: string, jobId: string) {
    await this.own(accountId, jobId);
    return this.backend.jobOutputs(jobId).catch((err) => backendError(err, "output read failed"));
  }

  async cancel(accountId: string, jobId: string): Promise<JobView> {
    await this.own(accountId, jobId);
    return this.backend.cancelJob(jobId).catch((err) => backendError(err, "cancel failed"));
  }

  async receipt(accountId: string, jobId: string): Promise<JobReceiptView | null> {
    await this.own(accountId, jobId);
    if (!this.backend.jobReceipt) return null;
    return (
      (await this.backend.jobReceipt(jobId).catch((err) => backendError(err, "receipt read failed"))) ?? null
    );
  }
}
