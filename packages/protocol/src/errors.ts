import { CmeshError } from "@computemesh/core";

/**
 * Thrown by an axon handler to answer with a specific HTTP status (4xx, or 5xx) and a reason the caller sees as
 * `{"message": reason}`; anything else a handler throws becomes `500 Internal Server Error #<uuid>`.
 */
export class SynapseError extends Error {
  override readonly name = "SynapseError";
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`SynapseError status must be 400..599, got ${status}`);
    }
    this.status = status;
  }
}

/** Errors of the protocol package that callers may want to catch by code (wallets, keyfiles, axon setup). */
export class ProtocolError extends CmeshError {
  override readonly name: string = "ProtocolError";
}
