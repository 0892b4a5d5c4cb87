// The validator's side of allocation receipts: issue them (sign, ask the miner to countersign, keep them until
// it does), fetch every miner's receipts (so receipts other validators issued are known here too), and answer
// "which miners are rented right now" from verified receipts alone.
import type { AxonTarget, Dendrite, KeyringPair, Receipt, ReceiptDraft } from "@computemesh/protocol";
import {
  CountersignReceipt,
  FetchReceipts,
  foldAllocationReceipts,
  isAllocationActive,
  MAX_RECEIPTS_PER_PAGE,
  receiptId,
  signReceiptPayload,
  verifyReceipt,
} from "@computemesh/protocol";
import type { Logger } from "pino";
import type { ValidatorMetrics } from "./metrics.ts";
import type { ReceiptRow, ValidatorStore } from "./store/store.ts";

/** Distributes Omit over the union of receipt drafts. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type ReceiptChange = DistributiveOmit<
  ReceiptDraft,
  "network" | "netuid" | "seq" | "prev" | "validator_hotkey" | "issued_at" | "nonce"
>;

export interface ReceiptBookDeps {
  store: ValidatorStore;
  dendrite: Pick<Dendrite, "query">;
  hotkey: KeyringPair;
  network: string;
  netuid: number;
  log: Logger;
  metrics: ValidatorMetrics;
  now: () => Date;
  timeoutMs: number;
}

export class ReceiptBook {
  constructor(private readonly d: ReceiptBookDeps) {}

  /**
   * Signs the next receipt of an allocation, stores it, and asks the miner to countersign. When the miner cannot
   * be reached the receipt stays pending and {@link retryPending} sends it again later; it is never dropped.
   */
  async issue(
    change: ReceiptChange,
    target: AxonTarget | null,
  ): Promise<{ id: string; countersigned: boolean }> {
    const { store } = this.d;
    const seq = await store.nextReceiptSeq(change.allocation_id);
    const prev = seq === 1 ? null : ((await store.lastReceiptOf(change.allocation_id))?.receipt_id ?? null);
    const draft = {
      ...change,
      network: this.d.network,
      netuid: this.d.netuid,
      seq,
      prev,
      validator_hotkey: this.d.hotkey.address,
      issued_at: this.d.now().toISOString(),
    } as ReceiptDraft;
    const signed = signReceiptPayload(draft, this.d.hotkey);
    const id = receiptId(signed.payload);
    await store.insertReceipt({
      receipt_id: id,
      allocation_id: signed.payload.allocation_id,
      kind: signed.payload.kind,
      seq: signed.payload.seq,
      miner_hotkey: signed.payload.miner_hotkey,
      validator_hotkey: signed.payload.validator_hotkey,
      issued_at: signed.payload.issued_at,
      payload_json: JSON.stringify(signed.payload),
      validator_signature: signed.validator_signature,
      miner_signature: "",
      source: "own",
      stored_at: this.d.now().toISOString(),
    });
    this.d.metrics.receipts.inc({ source: "own", result: "issued" });
    const countersigned = target ? await this.countersign(await this.row(id), target) : false;
    return { id, countersigned };
  }

  private async row(id: string): Promise<ReceiptRow> {
    const rows = await this.d.store.pendingOwnReceipts();
    const row = rows.find((r) => r.receipt_id === id);
    if (!row) throw new Error(`receipt ${id} is not pending`);
    return row;
  }

  private async countersign(row: ReceiptRow, target: AxonTarget): Promise<boolean> {
    const signed = { payload: JSON.parse(row.payload_json), validator_signature: row.validator_signature };
    const res = await this.d.dendrite.query(
      target,
      CountersignReceipt,
      { receipt: signed },
      { timeoutMs: this.d.timeoutMs },
    );
    if (!res.ok) {
      this.d.log.warn(
        {
          allocationId: row.allocation_id,
          seq: row.seq,
          miner: row.miner_hotkey,
          kind: res.kind,
          message: res.message,
        },
        "miner did not countersign the receipt; will retry",
      );
      this.d.metrics.receipts.inc({ source: "own", result: "countersign_failed" });
      return false;
    }
    const full = { ...signed, miner_signature: res.response.miner_signature };
    const verdict = verifyReceipt(full, { network: this.d.network, netuid: this.d.netuid });
    if (!verdict.ok) {
      this.d.log.warn(
        { allocationId: row.allocation_id, problem: verdict.problem },
        "miner countersignature is invalid",
      );
      this.d.metrics.receipts.inc({ source: "own", result: "bad_countersignature" });
      return false;
    }
    await this.d.store.completeReceipt(row.receipt_id, res.response.miner_signature);
    this.d.metrics.receipts.inc({ source: "own", result: "countersigned" });
    return true;
  }

  /** Sends every pending receipt again, in chain order (a later one waits for the earlier of its allocation). */
  async retryPending(targetOf: (minerHotkey: string) => AxonTarget | null): Promise<number> {
    const pending = await this.d.store.pendingOwnReceipts();
    const blocked = new Set<string>();
    let done = 0;
    for (const row of pending) {
      if (blocked.has(row.allocation_id)) continue;
      const target = targetOf(row.miner_hotkey);
      if (!target || !(await this.countersign(row, target))) {
        blocked.add(row.allocation_id);
        continue;
      }
      done++;
    }
    return done;
  }

  /**
   * Reads a miner's receipt log from where this validator stopped last time, verifies every receipt, and stores
   * the valid ones. Returns false when the miner did not answer.
   */
  async fetchFrom(target: AxonTarget): Promise<boolean> {
    const key = `receipts.cursor.${target.hotkey}`;
    let cursor = Number((await this.d.store.getState(key)) ?? 0);
    for (let page = 0; page < 100; page++) {
      const res = await this.d.dendrite.query(
        target,
        FetchReceipts,
        { cursor, limit: MAX_RECEIPTS_PER_PAGE },
        { timeoutMs: this.d.timeoutMs },
      );
      if (!res.ok) return false;
      const { receipts, next_cursor, total } = res.response;
      if (total < cursor) {
        // The miner's log is shorter than what we read before (it was reset): read it again from the start.
        cursor = 0;
        await this.d.store.setState(key, "0");
        continue;
      }
      for (const r of receipts) await this.storeFetched(r, target.hotkey);
      if (next_cursor <= cursor || receipts.length === 0) break;
      cursor = next_cursor;
      await this.d.store.setState(key, String(cursor));
      if (cursor >= total) break;
    }
    return true;
  }

  private async storeFetched(r: Receipt, minerHotkey: string): Promise<void> {
    const verdict = verifyReceipt(r, { network: this.d.network, netuid: this.d.netuid });
    if (!verdict.ok || verdict.receipt.payload.miner_hotkey !== minerHotkey) {
      this.d.metrics.receipts.inc({ source: "fetched", result: "rejected" });
      this.d.log.warn(
        { miner: minerHotkey, problem: verdict.ok ? "wrong_miner" : verdict.problem },
        "rejected a fetched receipt",
      );
      return;
    }
    const p = verdict.receipt.payload;
    const inserted = await this.d.store.insertReceipt({
      receipt_id: verdict.id,
      allocation_id: p.allocation_id,
      kind: p.kind,
      seq: p.seq,
      miner_hotkey: p.miner_hotkey,
      validator_hotkey: p.validator_hotkey,
      issued_at: p.issued_at,
      payload_json: JSON.stringify(p),
      validator_signature: verdict.receipt.validator_signature,
      miner_signature: verdict.receipt.miner_signature,
      source: p.validator_hotkey === this.d.hotkey.address ? "own" : "fetched",
      stored_at: this.d.now().toISOString(),
    });
    if (inserted) this.d.metrics.receipts.inc({ source: "fetched", result: "stored" });
    else if (p.validator_hotkey === this.d.hotkey.address) {
      // Our own receipt, countersigned while we were not looking (our request timed out after the miner signed).
      await this.d.store.completeReceipt(verdict.id, verdict.receipt.miner_signature);
    }
  }

  /**
   * Hotkeys of miners rented right now according to countersigned receipts issued by trusted validators (any
   * validator with a permit, and this one). Every validator that fetched the same receipts gets the same set.
   */
  async rentedMiners(trustedValidators: ReadonlySet<string>): Promise<Set<string>> {
    const rows = await this.d.store.completeReceipts();
    const receipts: Receipt[] = [];
    for (const row of rows) {
      if (!trustedValidators.has(row.validator_hotkey) && row.validator_hotkey !== this.d.hotkey.address)
        continue;
      receipts.push({
        payload: JSON.parse(row.payload_json),
        validator_signature: row.validator_signature,
        miner_signature: row.miner_signature,
      });
    }
    const now = this.d.now();
    const rented = new Set<string>();
    for (const a of foldAllocationReceipts(receipts))
      if (isAllocationActive(a, now)) rented.add(a.minerHotkey);
    return rented;
  }
}
