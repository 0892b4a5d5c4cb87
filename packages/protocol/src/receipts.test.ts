import { beforeAll, describe, expect, it } from "vitest";
import { cryptoReady, keypairFromUri } from "./crypto.ts";
import {
  receiptCanonicalJson,
  countersignReceipt,
  foldAllocationReceipts,
  isAllocationActive,
  type Receipt,
  type ReceiptDraft,
  receiptId,
  signReceiptPayload,
  verifyReceipt,
  verifyValidatorSignature,
} from "./receipts.ts";

let validator: ReturnType<typeof keypairFromUri>;
let other: ReturnType<typeof keypairFromUri>;
let miner: ReturnType<typeof keypairFromUri>;

beforeAll(async () => {
  await cryptoReady();
  validator = keypairFromUri("//Alice");
  other = keypairFromUri("//Charlie");
  miner = keypairFromUri("//Bob");
});

function started(overrides: Partial<ReceiptDraft> = {}): ReceiptDraft {
  return {
    kind: "allocation_started",
    network: "local",
    netuid: 1,
    allocation_id: "a1",
    seq: 1,
    prev: null,
    miner_hotkey: miner.address,
    validator_hotkey: validator.address,
    started_at: "2026-01-01T00:00:00.000Z",
    expires_at: "2026-01-01T01:00:00.000Z",
    gpu_count: 2,
    gpu_model: "NVIDIA RTX 4090",
    issued_at: "2026-01-01T00:00:00.000Z",
    ...overrides,
  } as ReceiptDraft;
}

function full(draft: ReceiptDraft): Receipt {
  return countersignReceipt(signReceiptPayload(draft, validator), miner);
}

describe("receiptCanonicalJson", () => {
  it("sorts keys at every depth and has no whitespace", () => {
    expect(receiptCanonicalJson({ b: 1, a: [{ d: "x", c: null }], é: true })).toBe(
      '{"a":[{"c":null,"d":"x"}],"b":1,"é":true}',
    );
  });
  it("rejects values without one JSON form", () => {
    expect(() => receiptCanonicalJson({ a: Number.NaN })).toThrow();
    expect(() => receiptCanonicalJson({ a: undefined })).toThrow();
    expect(() => receiptCanonicalJson({ a: 1n })).toThrow();
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(() => receiptCanonicalJson(cyc)).toThrow();
  });
});

describe("receipts", () => {
  it("verifies a receipt signed by the validator and countersigned by the miner, by anyone", () => {
    const r = full(started());
    const v = verifyReceipt(JSON.parse(JSON.stringify(r)), { network: "local", netuid: 1 });
    expect(v.ok).toBe(true);
    if (v.ok) expect(v.id).toBe(receiptId(r.payload));
  });

  it("rejects a tampered payload, swapped signatures and a wrong countersigner", () => {
    const r = full(started());
    const tampered = { ...r, payload: { ...r.payload, gpu_count: 8 } };
    expect(verifyReceipt(tampered)).toMatchObject({ ok: false, problem: "bad_validator_signature" });
    const swapped = { ...r, miner_signature: r.validator_signature };
    expect(verifyReceipt(swapped)).toMatchObject({ ok: false, problem: "bad_miner_signature" });
    const signed = signReceiptPayload(started(), validator);
    const byOther = {
      ...signed,
      miner_signature: countersignReceipt(
        { ...signed, payload: { ...signed.payload, miner_hotkey: other.address } },
        other,
      ).miner_signature,
    };
    expect(verifyReceipt(byOther)).toMatchObject({ ok: false, problem: "bad_miner_signature" });
  });

  it("refuses to sign for another key", () => {
    expect(() => signReceiptPayload(started({ validator_hotkey: other.address }), validator)).toThrow();
    expect(() => countersignReceipt(signReceiptPayload(started(), validator), other)).toThrow();
  });

  it("rejects malformed input and unknown fields without throwing", () => {
    expect(verifyReceipt(null)).toMatchObject({ ok: false, problem: "malformed" });
    expect(verifyReceipt({ payload: {}, validator_signature: "0x", miner_signature: "0x" })).toMatchObject({
      ok: false,
      problem: "malformed",
    });
    const r = full(started());
    expect(verifyReceipt({ ...r, payload: { ...r.payload, extra: 1 } })).toMatchObject({
      ok: false,
      problem: "malformed",
    });
  });

  it("binds a receipt to its network and netuid (no replay across chains or subnets)", () => {
    const r = full(started());
    expect(verifyReceipt(r, { network: "finney" })).toMatchObject({ ok: false, problem: "wrong_network" });
    expect(verifyReceipt(r, { netuid: 2 })).toMatchObject({ ok: false, problem: "wrong_netuid" });
  });

  it("domain-separates signatures: a validator signature is not a miner countersignature over the same text", () => {
    const r = full(started());
    expect(verifyValidatorSignature(r)).toBe(true);
    const rs = { ...r, miner_signature: r.validator_signature, payload: { ...r.payload } };
    expect(verifyReceipt(rs).ok).toBe(false);
  });

  it("gives equal contents different ids through the nonce", () => {
    const a = signReceiptPayload(started(), validator);
    const b = signReceiptPayload(started(), validator);
    expect(receiptId(a.payload)).not.toBe(receiptId(b.payload));
  });

  it("only a seq-1 receipt without prev may start an allocation", () => {
    const r = full(started());
    const bad = full({
      kind: "allocation_renewed",
      network: "local",
      netuid: 1,
      allocation_id: "a1",
      seq: 1,
      prev: null,
      miner_hotkey: miner.address,
      validator_hotkey: validator.address,
      expires_at: "2026-01-01T02:00:00.000Z",
    } as ReceiptDraft);
    expect(verifyReceipt(bad)).toMatchObject({ ok: false, problem: "bad_chain" });
    expect(verifyReceipt(r).ok).toBe(true);
  });
});

describe("foldAllocationReceipts", () => {
  function chain() {
    const s = full(started());
    const renew = full({
      kind: "allocation_renewed",
      network: "local",
      netuid: 1,
      allocation_id: "a1",
      seq: 2,
      prev: receiptId(s.payload),
      miner_hotkey: miner.address,
      validator_hotkey: validator.address,
      expires_at: "2026-01-01T03:00:00.000Z",
    } as ReceiptDraft);
    const end = full({
      kind: "allocation_ended",
      network: "local",
      netuid: 1,
      allocation_id: "a1",
      seq: 3,
      prev: receiptId(renew.payload),
      miner_hotkey: miner.address,
      validator_hotkey: validator.address,
      ended_at: "2026-01-01T02:00:00.000Z",
      outcome: "released",
      reason: "renter released",
    } as ReceiptDraft);
    return { s, renew, end };
  }

  it("follows the chain in any order, ignoring duplicates", () => {
    const { s, renew, end } = chain();
    const [a] = foldAllocationReceipts([end, s, renew, s]);
    expect(a).toMatchObject({
      allocationId: "a1",
      expiresAt: "2026-01-01T03:00:00.000Z",
      length: 3,
      broken: false,
    });
    expect(a?.ended?.outcome).toBe("released");
    expect(isAllocationActive(a as NonNullable<typeof a>, new Date("2026-01-01T01:30:00Z"))).toBe(false);
    const [b] = foldAllocationReceipts([s, renew]);
    expect(isAllocationActive(b as NonNullable<typeof b>, new Date("2026-01-01T01:30:00Z"))).toBe(true);
    expect(isAllocationActive(b as NonNullable<typeof b>, new Date("2026-01-01T03:30:00Z"))).toBe(false);
  });

  it("marks a fork (two receipts for one seq) and a gap as broken, so it is not trusted", () => {
    const { s, renew, end } = chain();
    const fork = full({
      kind: "allocation_ended",
      network: "local",
      netuid: 1,
      allocation_id: "a1",
      seq: 2,
      prev: receiptId(s.payload),
      miner_hotkey: miner.address,
      validator_hotkey: validator.address,
      ended_at: "2026-01-01T00:30:00.000Z",
      outcome: "lost",
      reason: "x",
    } as ReceiptDraft);
    const [a] = foldAllocationReceipts([s, renew, fork]);
    expect(a?.broken).toBe(true);
    expect(isAllocationActive(a as NonNullable<typeof a>, new Date("2026-01-01T00:10:00Z"))).toBe(false);
    const [g] = foldAllocationReceipts([s, end]);
    expect(g?.broken).toBe(true);
    expect(g?.length).toBe(1);
    expect(foldAllocationReceipts([renew, end])).toEqual([]);
  });
});
