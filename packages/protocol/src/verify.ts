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

interface NonceState {
  /** Nonces accepted within the age window (a replay of any of them is refused). */
  recent: Set<bigint>;
  newest: bigint;
}

/**
 * The axon's default verify (reference §1.6), with deliberate differences from the Python axon:
 * - a missing signature fails (Python skips the check);
 * - the age window (4 s + the synapse timeout, which the axon caps at its own value because the `timeout` header is
 *   not signed) applies to every request and whatever `version` the dendrite claims;
 * - instead of "strictly greater than the last nonce", every nonce inside the window is accepted once. Python's
 *   rule refuses concurrent requests from one dendrite that arrive out of order; both rules refuse every replay.
 * State lives in memory per `hotkey:uuid` and is pruned as nonces leave the window.
 */
export class NonceVerifier {
  private readonly state = new Map<string, NonceState>();
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
    const known = this.state.get(key);
    if (known?.recent.has(nonce) || (known && nonce <= known.newest && nonce <= this.horizon(nowNs))) {
      return "Nonce is too old, a newer one was last processed";
    }
    const allowed = ALLOWED_DELTA_NS + BigInt(Math.round(timeoutSec * 1e9));
    if (nonce <= nowNs - allowed) {
      return `Nonce is too old: acceptable delta is ${seconds(allowed)} seconds but request was ${seconds(nowNs - nonce)} seconds old`;
    }
    const message = requestSigningMessage(nonce, hotkey, this.ownHotkey, uuid, bodyHash ?? "");
    if (!verifySignature(message, signature, hotkey)) {
      return `Signature mismatch with ${message} and ${signature}`;
    }
    if (known) {
      known.recent.add(nonce);
      if (nonce > known.newest) known.newest = nonce;
    } else {
      this.state.set(key, { recent: new Set([nonce]), newest: nonce });
    }
    if (++this.checksSincePrune >= 256) this.prune(nowNs);
    return null;
  }

  /** Nonces at or below this are outside every window, so they fail the age check anyway. */
  private horizon(nowNs: bigint): bigint {
    return nowNs - ALLOWED_DELTA_NS - this.maxWindowNs();
  }

  /** Forgets nonces that have left the window (a replay of them fails the age check). */
  prune(nowNs: bigint): void {
    this.checksSincePrune = 0;
    const horizon = this.horizon(nowNs);
    for (const [key, st] of this.state) {
      for (const n of st.recent) if (n <= horizon) st.recent.delete(n);
      if (st.recent.size === 0 && st.newest <= horizon) this.state.delete(key);
    }
  }

  /** Number of `hotkey:uuid` endpoints remembered. */
  get size(): number {
    return this.state.size;
  }
}
