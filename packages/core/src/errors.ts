/**
 * Base of every error ComputeMesh throws on purpose. Each error has a stable `code` (for tests, logs and API
 * responses), a short message saying what went wrong, and optionally a hint saying what to do about it.
 *
 * @example
 * throw new CmeshError("WALLET_NOT_FOUND", "no coldkey at /x/coldkey", { hint: "create it with `cmesh wallet new-coldkey`" });
 */
export class CmeshError extends Error {
  override readonly name: string = "CmeshError";
  readonly code: string;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    options: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** One line for a terminal: the message, then the hint if there is one. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

export function isCmeshError(err: unknown, code?: string): err is CmeshError {
  return err instanceof CmeshError && (code === undefined || err.code === code);
}
