import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Axon,
  CountersignReceipt,
  cryptoReady,
  Dendrite,
  FetchReceipts,
  type KeyringPair,
  keypairFromUri,
  type ReceiptDraft,
  receiptId,
  signReceiptPayload,
  verifyReceipt,
} from "@computemesh/protocol";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { attachReceiptResponder, type ReceiptResponderOptions } from "./receipt-responder.ts";

let validator: KeyringPair;
let intruder: KeyringPair;
let miner: KeyringPair;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  await cryptoReady();
  validator = keypairFromUri("//Alice");
  intruder = keypairFromUri("//Eve");
  miner = keypairFromUri("//Bob");
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(extra: Partial<ReceiptResponderOptions> = {}, logPath?: string) {
  const dir = mkdtempSync(join(tmpdir(), "cmesh-receipts-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const axon = new Axon({ hotkey: miner, port: 0 });
  const responder = attachReceiptResponder(axon, {
    hotkey: miner,
    network: "local",
    netuid: 1,
    logPath: logPath ?? join(dir, "receipts", "log.jsonl"),
    ...extra,
  });
  await axon.start();
  cleanups.push(() => axon.stop());
  return {
    axon,
    responder,
    target: axon.target(),
    logPath: logPath ?? join(dir, "receipts", "log.jsonl"),
    dir,
  };
}

function draft(over: Partial<ReceiptDraft> = {}): ReceiptDraft {
  const common = {
    network: "local",
    netuid: 1,
    allocation_id: "a1",
    seq: 1,
    prev: null,
    miner_hotkey: miner.address,
    validator_hotkey: validator.address,
  };
  if (over.kind && over.kind !== "allocation_started") return { ...common, ...over } as ReceiptDraft;
  return {
    ...common,
    kind: "allocation_started",
    started_at: "2026-01-01T00:00:00.000Z",
    expires_at: "2026-01-01T01:00:00.000Z",
    gpu_count: 1,
    gpu_model: "NVIDIA RTX 4090",
    ...over,
  } as ReceiptDraft;
}

describe("attachReceiptResponder", () => {
  it("countersigns its validator's receipt, idempotently, and serves it to anyone", async () => {
    const { target, logPath } = await serve();
    const d = new Dendrite({ hotkey: validator });
    const signed = signReceiptPayload(draft(), validator);
    const a = await d.query(target, CountersignReceipt, { receipt: signed });
    expect(a.ok).toBe(true);
    const again = await d.query(target, CountersignReceipt, { receipt: signed });
    expect(again.ok && a.ok && again.response.miner_signature === a.response.miner_signature).toBe(true);

    const other = new Dendrite({ hotkey: intruder });
    const page = await other.query(target, FetchReceipts, { cursor: 0, limit: 10 });
    expect(page.ok).toBe(true);
    if (!page.ok) return;
    expect(page.response.total).toBe(1);
    expect(page.response.next_cursor).toBe(1);
    expect(verifyReceipt(page.response.receipts[0], { network: "local", netuid: 1 }).ok).toBe(true);
    expect(readFileSync(logPath, "utf8").trim().split("\n")).toHaveLength(1);
  });

  it("refuses callers other than the receipt's validator, forged signatures, and other networks or miners", async () => {
    const { target } = await serve();
    const signed = signReceiptPayload(draft(), validator);
    const byIntruder = await new Dendrite({ hotkey: intruder }).query(target, CountersignReceipt, {
      receipt: signed,
    });
    expect(byIntruder).toMatchObject({ ok: false, status: 403 });

    const d = new Dendrite({ hotkey: validator });
    const forged = { ...signed, payload: { ...signed.payload, gpu_count: 8 } };
    expect(await d.query(target, CountersignReceipt, { receipt: forged })).toMatchObject({
      ok: false,
      status: 400,
    });
    const wrongNet = signReceiptPayload(draft({ network: "finney" }), validator);
    expect(await d.query(target, CountersignReceipt, { receipt: wrongNet })).toMatchObject({
      ok: false,
      status: 400,
    });
    const otherMiner = signReceiptPayload(draft({ miner_hotkey: intruder.address }), validator);
    expect(await d.query(target, CountersignReceipt, { receipt: otherMiner })).toMatchObject({
      ok: false,
      status: 400,
    });
  });

  it("only extends an allocation's chain: no gaps, no forks, nothing after the end", async () => {
    const { target, responder } = await serve();
    const d = new Dendrite({ hotkey: validator });
    const start = signReceiptPayload(draft(), validator);
    expect((await d.query(target, CountersignReceipt, { receipt: start })).ok).toBe(true);
    const fork = signReceiptPayload(draft(), validator); // another seq-1 receipt (new nonce)
    expect(await d.query(target, CountersignReceipt, { receipt: fork })).toMatchObject({
      ok: false,
      status: 409,
    });
    const gap = signReceiptPayload(
      draft({
        kind: "allocation_renewed",
        seq: 3,
        prev: receiptId(start.payload),
        expires_at: "2026-01-01T02:00:00.000Z",
      } as Partial<ReceiptDraft>),
      validator,
    );
    expect(await d.query(target, CountersignReceipt, { receipt: gap })).toMatchObject({
      ok: false,
      status: 409,
    });
    const end = signReceiptPayload(
      draft({
        kind: "allocation_ended",
        seq: 2,
        prev: receiptId(start.payload),
        ended_at: "2026-01-01T00:30:00.000Z",
        outcome: "released",
        reason: "done",
      } as Partial<ReceiptDraft>),
      validator,
    );
    expect((await d.query(target, CountersignReceipt, { receipt: end })).ok).toBe(true);
    const after = signReceiptPayload(
      draft({
        kind: "allocation_renewed",
        seq: 3,
        prev: receiptId(end.payload),
        expires_at: "2026-01-01T02:00:00.000Z",
      } as Partial<ReceiptDraft>),
      validator,
    );
    expect(await d.query(target, CountersignReceipt, { receipt: after })).toMatchObject({
      ok: false,
      status: 409,
    });
    expect(responder.receipts().map((r) => r.payload.seq)).toEqual([1, 2]);
  });

  it("asks the miner's own state before countersigning", async () => {
    const { target } = await serve({
      check: (p) => (p.allocation_id === "a1" ? null : "no such allocation here"),
    });
    const d = new Dendrite({ hotkey: validator });
    const bad = await d.query(target, CountersignReceipt, {
      receipt: signReceiptPayload(draft({ allocation_id: "zz" }), validator),
    });
    expect(bad).toMatchObject({ ok: false, status: 409 });
    if (!bad.ok) expect(bad.message).toContain("no such allocation here");
  });

  it("keeps receipts across a restart and skips a line a crash cut short", async () => {
    const first = await serve();
    const d = new Dendrite({ hotkey: validator });
    const start = signReceiptPayload(draft(), validator);
    expect((await d.query(first.target, CountersignReceipt, { receipt: start })).ok).toBe(true);
    await first.axon.stop();
    writeFileSync(first.logPath, `${readFileSync(first.logPath, "utf8")}{"payload":{"v":1,"ki`);
    const second = await serve({}, first.logPath);
    expect(second.responder.receipts()).toHaveLength(1);
    const page = await d.query(second.target, FetchReceipts, { cursor: 1, limit: 10 });
    expect(page.ok && page.response.receipts.length === 0 && page.response.total === 1).toBe(true);
  });
});
