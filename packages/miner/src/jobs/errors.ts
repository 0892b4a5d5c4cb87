import { CmeshError } from "@computemesh/core";

/** Stable codes of the miner's job runner; the synapse handlers map them to status codes. */
export type JobRunnerErrorCode =
  | "JOB_NOT_FOUND"
  | "JOB_EXISTS"
  | "JOB_FORBIDDEN"
  | "JOB_REJECTED"
  | "JOB_NOT_FINISHED"
  | "MINER_BUSY"
  | "JOB_IMAGE_UNAVAILABLE"
  | "JOB_STAGE_TIMEOUT"
  | "JOB_RECEIPT_INVALID";

export class JobRunnerError extends CmeshError {
  override readonly name = "JobRunnerError";
  constructor(code: JobRunnerErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** The synapse status code for each runner error (400 bad request, 403 not yours, 404, 409 conflict, 429 busy). */
export const JOB_ERROR_STATUS: Record<JobRunnerErrorCode, number> = {
  JOB_NOT_FOUND: 404,
  JOB_EXISTS: 409,
  JOB_FORBIDDEN: 403,
  JOB_REJECTED: 400,
  JOB_NOT_FINISHED: 409,
  MINER_BUSY: 429,
  JOB_IMAGE_UNAVAILABLE: 424,
  JOB_STAGE_TIMEOUT: 504,
  JOB_RECEIPT_INVALID: 400,
};
