// Synapses that move allocation receipts between validators and miners (see receipts.ts).
import { z } from "zod";
import { ReceiptSchema, ValidatorSignedReceiptSchema } from "./receipts.ts";
import { defineSynapse } from "./synapse.ts";

/** Largest page of receipts one FetchReceipts answer holds. */
export const MAX_RECEIPTS_PER_PAGE = 500;

/**
 * The validator that changed an allocation asks the miner to countersign the receipt it signed. The miner checks
 * that the caller is the receipt's validator, that the change matches its own state, and that the receipt extends
 * the allocation's chain, then answers with its signature (the same one again for a retried request).
 */
export const CountersignReceipt = defineSynapse({
  name: "CountersignReceipt",
  request: z.object({ receipt: ValidatorSignedReceiptSchema }),
  response: z.object({ miner_signature: z.string() }),
  timeoutSec: 12,
});

/**
 * Anyone (any validator) reads the miner's countersigned receipts, oldest first, from a cursor (the index of the
 * next receipt in the miner's log). Answers carry `next_cursor` to continue from and `total` receipts held.
 */
export const FetchReceipts = defineSynapse({
  name: "FetchReceipts",
  request: z.object({
    cursor: z.number().int().nonnegative().default(0),
    limit: z.number().int().positive().max(MAX_RECEIPTS_PER_PAGE).default(MAX_RECEIPTS_PER_PAGE),
  }),
  response: z.object({
    receipts: z.array(ReceiptSchema).max(MAX_RECEIPTS_PER_PAGE),
    next_cursor: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
  }),
  timeoutSec: 12,
  maxBodyBytes: 4 * 1024 * 1024,
});
