// Signed allocation receipts: the shared record of who rents which miner, with no central service.
//
// Every allocation start, renewal and end produces one receipt. The validator that made the change signs the
// canonical JSON of the payload; the miner checks it against its own state and countersigns. Anyone holding the
// receipt can verify both signatures with nothing but the two SS58 addresses inside it, so validators agree on
// who is rented (and so on the allocation bonus) without trusting each other.
//
// Replay protection: a payload names its network and netuid, its allocation, a per-allocation sequence number and
// the id of the previous receipt of that allocation (a hash chain), plus a random nonce. The id of a receipt is
// the SHA-256 of its canonical payload, so a replayed receipt is the same receipt (stored once), a receipt from
// another network or subnet fails the context check, and a second receipt claiming an already used (allocation,
// seq) is an equivocation that breaks the chain. Signatures are domain-separated from every other signed message
// of the protocol (synapse requests sign a different, dot-separated text).
import { createHash, randomBytes } from "node:crypto";
import type { KeyringPair } from "@polkadot/keyring/types";
import { z } from "zod";
import { signText, verifySignature } from "./crypto.ts";

export const RECEIPT_VERSION = 1;

const Ss58 = z.string().min(40).max(60);
const IsoTime = z.iso.datetime({ offset: false });
const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex characters");
const SignatureHex = z.string().regex(/^0x[0-9a-fA-F]{128}$/, "must be 0x followed by 128 hex characters");

const ReceiptCommon = {
  v: z.literal(RECEIPT_VERSION),
  /** Network label ("local", "test", "finney", …) so a receipt cannot be replayed on another chain. */
  network: z.string().min(1).max(64),
  netuid: z.number().int().nonnegative().max(65535),
  allocation_id: z.string().min(1).max(64),
  /** 1 for the start, then +1 for every renewal and the end. */
  seq: z.number().int().positive().max(1_000_000),
  /** Receipt id of the previous receipt of this allocation; null for the start (seq 1). */
  prev: Hex64.nullable(),
  miner_hotkey: Ss58,
  validator_hotkey: Ss58,
  issued_at: IsoTime,
  /** 16 random bytes, hex: two receipts never share an id even with equal contents. */
  nonce: z.string().regex(/^[0-9a-f]{32}$/),
};

export const AllocationStartedPayloadSchema = z.strictObject({
  ...ReceiptCommon,
  kind: z.literal("allocation_started"),
  started_at: IsoTime,
  expires_at: IsoTime,
  gpu_count: z.number().int().nonnegative().max(64),
  /** The proven GPU model at the time of the start (catalog name), null for a CPU-only rental. */
  gpu_model: z.string().max(128).nullable(),
});

export const AllocationRenewedPayloadSchema = z.strictObject({
  ...ReceiptCommon,
  kind: z.literal("allocation_renewed"),
  expires_at: IsoTime,
});

export const AllocationEndedPayloadSchema = z.strictObject({
  ...ReceiptCommon,
  kind: z.literal("allocation_ended"),
  ended_at: IsoTime,
  /** "released" (renter or expiry), "lost" (health checks failed). */
  outcome: z.enum(["released", "lost"]),
  reason: z.string().max(500),
});

export const ReceiptPayloadSchema = z.discriminatedUnion("kind", [
  AllocationStartedPayloadSchema,
  AllocationRenewedPayloadSchema,
  AllocationEndedPayloadSchema,
]);
export type ReceiptPayload = z.infer<typeof ReceiptPayloadSchema>;
export type ReceiptKind = ReceiptPayload["kind"];

/** A payload signed by its validator, waiting for the miner's countersignature. */
export const ValidatorSignedReceiptSchema = z.strictObject({
  payload: ReceiptPayloadSchema,
  validator_signature: SignatureHex,
});
export type ValidatorSignedReceipt = z.infer<typeof ValidatorSignedReceiptSchema>;

/** A complete receipt: payload, validator signature, miner countersignature. */
export const ReceiptSchema = z.strictObject({
  payload: ReceiptPayloadSchema,
  validator_signature: SignatureHex,
  miner_signature: SignatureHex,
});
export type Receipt = z.infer<typeof ReceiptSchema>;

/** Payload fields the issuer chooses; version, nonce and issue time are filled in by {@link signReceiptPayload}. */
export type ReceiptDraft = ReceiptPayload extends infer P
  ? P extends ReceiptPayload
    ? Omit<P, "v" | "nonce" | "issued_at"> & { issued_at?: string; nonce?: string }
    : never
  : never;

/**
 * Canonical JSON: object keys sorted by UTF-16 code unit, no whitespace, numbers as JavaScript prints them.
 * Rejects what has no single JSON form (non-finite numbers, undefined, functions, bigints, cycles).
 */
export function receiptCanonicalJson(value: unknown): string {
  const seen = new Set<unknown>();
  const walk = (v: unknown): string => {
    if (v === null) return "null";
    switch (typeof v) {
      case "string":
      case "boolean":
        return JSON.stringify(v);
      case "number":
        if (!Number.isFinite(v)) throw new TypeError(`canonical JSON cannot hold ${v}`);
        return JSON.stringify(v);
      case "object": {
        if (seen.has(v)) throw new TypeError("canonical JSON cannot hold a cycle");
        seen.add(v);
        let out: string;
        if (Array.isArray(v)) {
          out = `[${v.map(walk).join(",")}]`;
        } else {
          const obj = v as Record<string, unknown>;
          const keys = Object.keys(obj).sort();
          const parts: string[] = [];
          for (const k of keys) {
            if (obj[k] === undefined)
              throw new TypeError(`canonical JSON cannot hold undefined (key "${k}")`);
            parts.push(`${JSON.stringify(k)}:${walk(obj[k])}`);
          }
          out = `{${parts.join(",")}}`;
        }
        seen.delete(v);
        return out;
      }
      default:
        throw new TypeError(`canonical JSON cannot hold a ${typeof v}`);
    }
  };
  return walk(value);
}

/** The receipt id: SHA-256 (hex) of the canonical payload. */
export function receiptId(payload: ReceiptPayload): string {
  return createHash("sha256").update(receiptCanonicalJson(payload)).digest("hex");
}

export function validatorReceiptMessage(payload: ReceiptPayload): string {
  return `cmesh-receipt/v${RECEIPT_VERSION}/validator\n${receiptCanonicalJson(payload)}`;
}

export function minerReceiptMessage(payload: ReceiptPayload, validatorSignature: string): string {
  return `cmesh-receipt/v${RECEIPT_VERSION}/miner\n${receiptId(payload)}\n${validatorSignature.toLowerCase()}`;
}

/** Completes a draft (version, nonce, issue time), checks it, and signs it with the validator's hotkey. */
export function signReceiptPayload(
  draft: ReceiptDraft,
  validatorHotkey: KeyringPair,
): ValidatorSignedReceipt {
  const payload = ReceiptPayloadSchema.parse({
    ...draft,
    v: RECEIPT_VERSION,
    nonce: draft.nonce ?? randomBytes(16).toString("hex"),
    issued_at: draft.issued_at ?? new Date().toISOString(),
  });
  if (payload.validator_hotkey !== validatorHotkey.address) {
    throw new TypeError("the receipt names another validator hotkey than the signing key");
  }
  return { payload, validator_signature: signText(validatorHotkey, validatorReceiptMessage(payload)) };
}

/** The miner's countersignature over a validator-signed receipt. */
export function countersignReceipt(signed: ValidatorSignedReceipt, minerHotkey: KeyringPair): Receipt {
  if (signed.payload.miner_hotkey !== minerHotkey.address) {
    throw new TypeError("the receipt names another miner hotkey than the signing key");
  }
  return {
    ...signed,
    miner_signature: signText(minerHotkey, minerReceiptMessage(signed.payload, signed.validator_signature)),
  };
}

export type ReceiptProblem =
  | "malformed"
  | "bad_validator_signature"
  | "bad_miner_signature"
  | "wrong_network"
  | "wrong_netuid"
  | "bad_chain";

export type ReceiptVerdict =
  | { ok: true; receipt: Receipt; id: string }
  | { ok: false; problem: ReceiptProblem; message: string };

/** Checks the validator's signature only (what a miner does before countersigning). */
export function verifyValidatorSignature(signed: ValidatorSignedReceipt): boolean {
  return verifySignature(
    validatorReceiptMessage(signed.payload),
    signed.validator_signature,
    signed.payload.validator_hotkey,
  );
}

/**
 * Verifies a complete receipt from untrusted input: shape, both signatures, and (when given) the network and
 * netuid it must belong to. Needs `await cryptoReady()` first. Never throws.
 */
export function verifyReceipt(
  input: unknown,
  expect: { network?: string; netuid?: number } = {},
): ReceiptVerdict {
  const parsed = ReceiptSchema.safeParse(input);
  if (!parsed.success)
    return { ok: false, problem: "malformed", message: parsed.error.issues[0]?.message ?? "malformed" };
  const r = parsed.data;
  if (expect.network !== undefined && r.payload.network !== expect.network) {
    return { ok: false, problem: "wrong_network", message: `receipt is for network ${r.payload.network}` };
  }
  if (expect.netuid !== undefined && r.payload.netuid !== expect.netuid) {
    return { ok: false, problem: "wrong_netuid", message: `receipt is for netuid ${r.payload.netuid}` };
  }
  if (
    (r.payload.seq === 1) !== (r.payload.prev === null) ||
    (r.payload.seq === 1) !== (r.payload.kind === "allocation_started")
  ) {
    return {
      ok: false,
      problem: "bad_chain",
      message: "only the first receipt (seq 1, no prev) may start an allocation",
    };
  }
  if (!verifyValidatorSignature(r)) {
    return { ok: false, problem: "bad_validator_signature", message: "validator signature does not verify" };
  }
  if (
    !verifySignature(
      minerReceiptMessage(r.payload, r.validator_signature),
      r.miner_signature,
      r.payload.miner_hotkey,
    )
  ) {
    return { ok: false, problem: "bad_miner_signature", message: "miner countersignature does not verify" };
  }
  return { ok: true, receipt: r, id: receiptId(r.payload) };
}

/** What a chain of verified receipts says about one allocation. */
export interface AllocationFromReceipts {
  allocationId: string;
  minerHotkey: string;
  validatorHotkey: string;
  startedAt: string;
  expiresAt: string;
  ended: { at: string; outcome: "released" | "lost"; reason: string } | null;
  /** Receipts in the unbroken chain from seq 1. */
  length: number;
  /** True when another receipt claimed an (allocation, seq) already taken, or a link was missing. */
  broken: boolean;
}

/**
 * Folds verified receipts (any order, duplicates allowed) into allocations by following each allocation's hash
 * chain from its start. A chain stops at the first gap or fork; a forked chain is reported as broken so callers
 * can refuse to trust it.
 */
export function foldAllocationReceipts(receipts: Receipt[]): AllocationFromReceipts[] {
  const byAlloc = new Map<string, Map<number, Map<string, Receipt>>>();
  for (const r of receipts) {
    let bySeq = byAlloc.get(r.payload.allocation_id);
    if (!bySeq) {
      bySeq = new Map();
      byAlloc.set(r.payload.allocation_id, bySeq);
    }
    let ids = bySeq.get(r.payload.seq);
    if (!ids) {
      ids = new Map();
      bySeq.set(r.payload.seq, ids);
    }
    ids.set(receiptId(r.payload), r);
  }
  const out: AllocationFromReceipts[] = [];
  for (const [allocationId, bySeq] of byAlloc) {
    const starts = [...(bySeq.get(1)?.values() ?? [])];
    if (starts.length === 0) continue;
    const start = starts[0];
    if (start.payload.kind !== "allocation_started") continue;
    let broken = starts.length > 1;
    const view: AllocationFromReceipts = {
      allocationId,
      minerHotkey: start.payload.miner_hotkey,
      validatorHotkey: start.payload.validator_hotkey,
      startedAt: start.payload.started_at,
      expiresAt: start.payload.expires_at,
      ended: null,
      length: 1,
      broken,
    };
    let prevId = receiptId(start.payload);
    for (let seq = 2; !view.ended; seq++) {
      const candidates = [...(bySeq.get(seq)?.values() ?? [])];
      if (candidates.length === 0) break;
      if (candidates.length > 1) broken = true;
      const next = candidates.find(
        (c) =>
          c.payload.prev === prevId &&
          c.payload.miner_hotkey === view.minerHotkey &&
          c.payload.validator_hotkey === view.validatorHotkey,
      );
      if (!next) {
        broken = true;
        break;
      }
      if (next.payload.kind === "allocation_renewed") view.expiresAt = next.payload.expires_at;
      if (next.payload.kind === "allocation_ended") {
        view.ended = {
          at: next.payload.ended_at,
          outcome: next.payload.outcome,
          reason: next.payload.reason,
        };
      }
      view.length++;
      prevId = receiptId(next.payload);
    }
    const maxSeq = Math.max(...bySeq.keys());
    if (maxSeq > view.length) broken = true;
    view.broken = broken;
    out.push(view);
  }
  return out.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));
}

/** True when the allocation is running at `now` according to its receipts (started, not ended, not expired). */
export function isAllocationActive(a: AllocationFromReceipts, now: Date): boolean {
  return a.ended === null && !a.broken && Date.parse(a.expiresAt) > now.getTime();
}
