import { CmeshError } from "@computemesh/core";

/** A CmeshError that carries the HTTP status the API answers with, and optionally the offending field. */
export class ApiError extends CmeshError {
  override readonly name = "ApiError";
  readonly status: number;
  readonly field?: string;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { hint?: string; field?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
    this.status = status;
    this.field = options.field;
  }
}

/** HTTP status for a CmeshError thrown by the market backend. */
export function statusForBackendCode(code: string): number {
  switch (code) {
    case "ALLOCATION_CONFLICT":
    case "MACHINE_ALLOCATED":
    case "MINER_NOT_VERIFIED":
    case "ALLOCATION_ENDED":
      return 409;
    case "MINER_UNAVAILABLE":
    case "MINER_UNREACHABLE":
    case "NO_MINER_AVAILABLE":
      return 503;
    case "ALLOCATION_NOT_FOUND":
    case "JOB_NOT_FOUND":
    case "MINER_NOT_FOUND":
      return 404;
    case "INVALID_ARGUMENT":
    case "INVALID_SSH_KEY":
    case "INVALID_DURATION":
    case "JOB_INVALID":
    case "VALIDATION_FAILED":
      return 400;
    case "TIMEOUT":
      return 504;
    default:
      return 502;
  }
}
