// The miner's side of allocation receipts: countersign what a validator signed (after checking it against the
// miner's own state and the allocation's hash chain), keep every countersigned receipt in an append-only JSONL
// log, and serve that log to any validator that asks (FetchReceipts).
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  type Axon,
  CountersignReceipt,
  countersignReceipt,
  FetchReceipts,
  type KeyringPair,
  type Receipt,
  type ReceiptPayload,
  receiptId,
  ReceiptSchema,
  SynapseError,
  verifyValidatorSignature,
} from "@computemesh/protocol";
import { type Logger, pino } from "pino";

export interface ReceiptResponderOptions {
  /** The miner's hotkey (the key that countersigns). */
  hotkey: KeyringPair;
  /** Network label and netuid receipts must name ("local", "test", "finney", …). */
  network: string;
  netuid: number;
  /** JSONL file holding every countersigned receipt (created with its directory when missing). */
  logPath: string;
  /**
   * Checks a receipt against the miner's own state before countersigning (does this allocation exist, for this
   * validator, with these times?). Return null to accept or a reason to refuse. Without it every well-formed,
   * well-chained receipt from its own validator is countersigned.
   */
  check?: (payload: ReceiptPayload, callerHotkey: string) => string | null | Promise<string | null>;
  logger?: Logger;
}

export interface ReceiptResponder {
  /** Every countersigned receipt, oldest first. */
  receipts(): readonly Receipt[];
}

/**
 * Attaches CountersignReceipt and FetchReceipts to a miner's axon (call before `axon.start()`).
 *
 * Countersigning refuses (4xx with the reason): a caller other than the receipt's validator, another miner's or
 * another network's receipt, a bad validator signature, a receipt that does not extend its allocation's chain
 * (wrong prev, a gap, after the end), and a second receipt for an (allocation, seq) already countersigned (an
 * equivocation). Re-sending the very same receipt returns the same countersignature, so validators may retry.
 */
export function attachReceiptResponder(axon: Axon, opts: ReceiptResponderOptions): ReceiptResponder {
  const log = (opts.logger ?? pino({ level: "silent" })).child({ component: "receipts" });
  const all: Receipt[] = loadLog(opts.logPath, log);
  const byId = new Map<string, Receipt>();
  const byAllocation = new Map<string, Receipt[]>();
  const index = (r: Receipt) => {
    byId.set(receiptId(r.payload), r);
    const list = byAllocation.get(r.payload.allocation_id) ?? [];
    list.push(r);
    byAllocation.set(r.payload.allocation_id, list);
  };
  for (const r of all) index(r);
  mkdirSync(dirname(opts.logPath), { recursive: true });

  // One countersignature at a time: the chain check and the append must not interleave.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  axon.attach(CountersignReceipt, (req, caller) =>
    serially(async () => {
      const signed = req.receipt;
      const p = signed.payload;
      if (caller.hotkey !== p.validator_hotkey) {
        throw new SynapseError(403, "only the receipt's own validator may ask for its countersignature");
      }
      if (p.miner_hotkey !== opts.hotkey.address)
        throw new SynapseError(400, "the receipt names another miner");
      if (p.network !== opts.network || p.netuid !== opts.netuid) {
        throw new SynapseError(
          400,
          `the receipt is for ${p.network}/${p.netuid}, this miner serves ${opts.network}/${opts.netuid}`,
        );
      }
      if (!verifyValidatorSignature(signed))
        throw new SynapseError(400, "the validator signature does not verify");
      const id = receiptId(p);
      const same = byId.get(id);
      if (same) {
        if (same.validator_signature.toLowerCase() !== signed.validator_signature.toLowerCase()) {
          throw new SynapseError(409, "this receipt was countersigned with another validator signature");
        }
        return { miner_signature: same.miner_signature };
      }
      const chain = byAllocation.get(p.allocation_id) ?? [];
      const problem = chainProblem(chain, p, id);
      if (problem) throw new SynapseError(409, problem);
      const refused = opts.check ? await opts.check(p, caller.hotkey) : null;
      if (refused) throw new SynapseError(409, `refused: ${refused}`);
      const receipt = countersignReceipt(signed, opts.hotkey);
      appendDurably(opts.logPath, `${JSON.stringify(receipt)}\n`);
      all.push(receipt);
      index(receipt);
      log.info(
        { allocationId: p.allocation_id, kind: p.kind, seq: p.seq, validator: p.validator_hotkey },
        "receipt countersigned",
      );
      return { miner_signature: receipt.miner_signature };
    }),
  );

  axon.attach(FetchReceipts, async (req) => {
    const start = Math.min(req.cursor, all.length);
    const page = all.slice(start, start + req.limit);
    return { receipts: page, next_cursor: start + page.length, total: all.length };
  });

  return { receipts: () => all };
}

function chainProblem(chain: readonly Receipt[], p: ReceiptPayload, id: string): string | null {
  const taken = chain.find((r) => r.payload.seq === p.seq);
  if (taken && receiptId(taken.payload) !== id) {
    return `allocation ${p.allocation_id} already has a countersigned receipt with seq ${p.seq}`;
  }
  if (p.seq === 1) {
    if (p.kind !== "allocation_started" || p.prev !== null)
      return "the first receipt must start the allocation";
    return null;
  }
  const last = chain.reduce<Receipt | undefined>(
    (a, r) => (!a || r.payload.seq > a.payload.seq ? r : a),
    undefined,
  );
  if (!last) return `allocation ${p.allocation_id} has no start receipt`;
  if (last.payload.kind === "allocation_ended") return `allocation ${p.allocation_id} has already ended`;
  if (p.seq !== last.payload.seq + 1 || p.prev !== receiptId(last.payload)) {
    return `the receipt does not extend allocation ${p.allocation_id} (expected seq ${last.payload.seq + 1} after ${receiptId(last.payload).slice(0, 12)}…)`;
  }
  if (p.validator_hotkey !== last.payload.validator_hotkey) return "another validator holds this allocation";
  if (p.kind === "allocation_started") return "an allocation starts only once";
  return null;
}

function appendDurably(path: string, line: string): void {
  appendFileSync(path, line);
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads the log, skipping (and reporting) lines a crash cut short or that no longer parse. */
function loadLog(path: string, log: Logger): Receipt[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const out: Receipt[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    try {
      out.push(ReceiptSchema.parse(JSON.parse(line)));
    } catch {
      log.warn({ path, line: i + 1 }, "skipping an unreadable receipt log line");
    }
  }
  return out;
}
