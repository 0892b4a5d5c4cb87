import { verifySignature } from "./crypto.ts";
import type { TerminalInfo } from "./wire.ts";

/** Reference §1.6: a first-contact nonce may be this much older than now, plus the synapse timeout. */
export const ALLOWED_DELTA_NS = 4_000_000_000n;

/** The message a dendrite signs (reference §1.5). */
export function requestSigningMessage(
  nonce: bigint,
  dendriteHotkey: string,
  axonHotkey: string,
  uuid: string,
  bodyHash: string,
): string {
  return `${nonce}.${dendriteHotkey}.${axonHotkey}.${uuid}.${bodyHash}`;
}

/** The message an axon counter-signs (reference §1.5). */
export function axonSigningMessage(
  nonce: bigint,
  dendriteHotkey: string,
  axonHotkey: string,
  uuid: string,
): string {
  return `${nonce}.${dendriteHotkey}.${axonHotkey}.${uuid}`;
}

function seconds(ns: bigint): string {
  return (Number(ns) / 1e9).toFixed(2);
}

/**
 * The axon's default verify (reference §1.6), with two deliberate differences from the Python axon: a missing
 * signature fails, and the age window applies whatever `version` the dendrite claims (the window uses the axon's
 * own timeout for the synapse, capped, because the `timeout` header is not signed).
 * Remembers the last accepted nonce per `hotkey:uuid` in memory.
 */
export class NonceVerifier {
  private readonly lastNonce = new Map<string, bigint>();
  private checksSincePrune = 0;

  constructor(
    private readonly ownHotkey: string,
    private readonly maxWindowNs: () => bigint,
  ) {}

  /** Returns null when verified, else the error detail (the axon answers 401 `Not Verified with error: …`). */
  verify(dendrite: TerminalInfo, bodyHash: string | null, timeoutSec: number, nowNs: bigint): string | null {
    const { nonce, hotkey, uuid, signature } = dendrite;
    if (nonce === null) return "Missing Nonce";
    if (!hotkey) return "Missing Hotkey";
    if (!uuid) return "Missing UUID";
    if (!signature) return "Missing Signature";
    const key = `${hotkey}:${uuid}`;
    const stored = this.lastNonce.get(key);
    if (stored === undefined) {
      const allowed = ALLOWED_DELTA_NS + BigInt(Math.round(timeoutSec * 1e9));
      if (nonce <= nowNs - allowed) {
        return `Nonce is too old: acceptable delta is ${seconds(allowed)} seconds but request was ${seconds(nowNs - nonce)} seconds old`;
      }
    } else if (nonce <= stored) {
      return "Nonce is too old, a newer one was last processed";
    }
    const message = requestSigningMessage(nonce, hotkey, this.ownHotkey, uuid, bodyHash ?? "");
    if (!verifySignature(message, signature, hotkey)) {
      return `Signature mismatch with ${message} and ${signature}`;
    }
    this.lastNonce.set(key, nonce);
    if (++this.checksSincePrune >= 1024) this.prune(nowNs);
    return null;
  }

  /** Forgets nonces so old that any replay of them fails the age window anyway. */
  prune(nowNs: bigint): void {
    this.checksSincePrune = 0;
    const horizon = nowNs - ALLOWED_DELTA_NS - this.maxWindowNs();
    for (const [key, nonce] of this.lastNonce) if (nonce <= horizon) this.lastNonce.delete(key);
  }

  get size(): number {
    return this.lastNonce.size;
  }
}
