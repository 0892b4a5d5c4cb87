// Sends an epoch's weights to the chain: waits out the rate limit, sends the version key, retries failed
// transactions with back-off, records every attempt; a failure is logged and counted, never silently dropped.
import { type ChainClient, ChainError } from "@computemesh/chain";
import type { KeyringPair } from "@computemesh/protocol";
import type { Logger } from "pino";
import type { ValidatorMetrics } from "./metrics.ts";
import type { ValidatorStore, WeightSetRow } from "./store/store.ts";

/** Chain errors after which sending the same weights again cannot succeed. */
const FINAL_ERRORS = new Set([
  "IncorrectWeightVersionKey",
  "HotKeyNotRegisteredInSubNet",
  "SubnetNotExists",
  "WeightVecNotEqualSize",
  "DuplicateUids",
  "UidVecContainInvalidOne",
  "UidsLengthExceedUidsInSubNet",
  "CommitRevealEnabled",
]);

/** Chain errors that only mean "not yet": wait, do not count an attempt. */
const WAIT_ERRORS = new Set(["SettingWeightsTooFast"]);

export interface WeightSubmitterDeps {
  chain: ChainClient;
  netuid: number;
  hotkey: KeyringPair;
  store: ValidatorStore;
  log: Logger;
  metrics: ValidatorMetrics;
  now: () => Date;
  maxAttempts: number;
  retryBaseMs: number;
}

export type SubmitOutcome = "ok" | "waiting" | "retry" | "failed";

export class WeightSubmitter {
  /** Earliest time of the next attempt per epoch (back-off after a failure). */
  private readonly notBefore = new Map<number, number>();

  constructor(private readonly d: WeightSubmitterDeps) {}

  /**
   * One attempt at sending an epoch's pending weights. Respects the subnet's weights rate limit (reading our
   * own last update from the metagraph) and the back-off; returns what happened.
   */
  async attempt(
    ws: WeightSetRow,
    block: number,
    lastUpdate: number | null,
    rateLimit: number,
  ): Promise<SubmitOutcome> {
    const { log, metrics, store } = this.d;
    if (ws.status !== "pending") return ws.status === "failed" ? "failed" : "ok";
    const now = this.d.now().getTime();
    if ((this.notBefore.get(ws.epoch) ?? 0) > now) return "waiting";
    if (lastUpdate !== null && lastUpdate > 0 && block - lastUpdate < rateLimit) return "waiting";
    const uids = JSON.parse(ws.uids_json) as number[];
    const weights = JSON.parse(ws.weights_json) as number[];
    try {
      const tx = await this.d.chain.setWeights(this.d.netuid, uids, weights, ws.version_key, this.d.hotkey);
      await store.recordWeightAttempt(ws.epoch, { ok: true }, this.d.now().toISOString());
      metrics.weightTx.inc({ result: "ok" });
      this.notBefore.delete(ws.epoch);
      log.info(
        { epoch: ws.epoch, block: tx.block, tx: tx.hash, uids: uids.length, versionKey: ws.version_key },
        "weights set",
      );
      return "ok";
    } catch (err) {
      const code = err instanceof ChainError ? err.code : "TRANSPORT";
      const message = err instanceof Error ? err.message : String(err);
      if (WAIT_ERRORS.has(code)) {
        log.info({ epoch: ws.epoch, code }, "weights rate-limited; will send when allowed");
        this.notBefore.set(ws.epoch, now + this.d.retryBaseMs);
        return "waiting";
      }
      const attempts = ws.attempts + 1;
      const final = FINAL_ERRORS.has(code) || attempts >= this.d.maxAttempts;
      await store.recordWeightAttempt(
        ws.epoch,
        { ok: false, error: `${code}: ${message}`, final },
        this.d.now().toISOString(),
      );
      metrics.weightTx.inc({ result: final ? "failed" : "error" });
      const hint = err instanceof ChainError ? err.hint : undefined;
      if (final) {
        log.error(
          { epoch: ws.epoch, attempts, code, err: message, hint },
          "setting weights failed; giving up on this epoch",
        );
        return "failed";
      }
      const backoff = this.d.retryBaseMs * 2 ** (attempts - 1);
      this.notBefore.set(ws.epoch, now + backoff);
      log.warn(
        { epoch: ws.epoch, attempts, code, err: message, retryInMs: backoff },
        "setting weights failed; will retry",
      );
      return "retry";
    }
  }
}
