// Sends an epoch's weights to the chain: waits out the rate limit, sends the version key, uses commit/reveal when
// the subnet requires it, retries failed transactions with back-off and records every attempt; a failure is
// logged and counted, never silently dropped.
import { randomInt } from "node:crypto";
import { type ChainClient, ChainError, type SubnetHyperparams } from "@computemesh/chain";
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
]);

/** Chain errors that only mean "not yet": wait, do not count an attempt. */
const WAIT_ERRORS = new Set(["SettingWeightsTooFast", "RevealTooEarly", "TooManyUnrevealedCommits"]);

/** Reveal errors after which the commit is useless: the next attempt commits again. */
const RECOMMIT_ERRORS = new Set([
  "ExpiredWeightCommit",
  "InvalidRevealCommitHashNotMatch",
  "NoWeightsCommitFound",
]);

interface PendingCommit {
  salt: number[];
  block: number;
}

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
   * One step of sending an epoch's pending weights: a plain set, or (commit/reveal subnets) a commit and later
   * the reveal. Respects the weights rate limit (from our own last update on the metagraph) and the back-off.
   */
  async attempt(
    ws: WeightSetRow,
    block: number,
    lastUpdate: number | null,
    hyper: SubnetHyperparams,
  ): Promise<SubmitOutcome> {
    const { log, metrics, store } = this.d;
    if (ws.status !== "pending") return ws.status === "failed" ? "failed" : "ok";
    const now = this.d.now().getTime();
    if ((this.notBefore.get(ws.epoch) ?? 0) > now) return "waiting";
    const commitKey = `weights.commit.${ws.epoch}`;
    const stored = hyper.commitRevealEnabled ? await store.getState(commitKey) : undefined;
    const commit = stored ? (JSON.parse(stored) as PendingCommit) : null;
    // A reveal is not rate-limited; a commit or a plain set is.
    if (!commit && lastUpdate !== null && lastUpdate > 0 && block - lastUpdate < hyper.weightsRateLimit) {
      return "waiting";
    }
    const uids = JSON.parse(ws.uids_json) as number[];
    const weights = JSON.parse(ws.weights_json) as number[];
    const { chain, netuid, hotkey } = this.d;
    try {
      if (hyper.commitRevealEnabled && !commit) {
        const salt = Array.from({ length: 8 }, () => randomInt(0, 65536));
        const tx = await chain.commitWeights(netuid, uids, weights, salt, ws.version_key, hotkey);
        await store.setState(commitKey, JSON.stringify({ salt, block: tx.block } satisfies PendingCommit));
        metrics.weightTx.inc({ result: "committed" });
        log.info(
          { epoch: ws.epoch, block: tx.block },
          "weights committed; the reveal follows when the chain allows",
        );
        return "waiting";
      }
      const tx = commit
        ? await chain.revealWeights(netuid, uids, weights, commit.salt, ws.version_key, hotkey)
        : await chain.setWeights(netuid, uids, weights, ws.version_key, hotkey);
      await store.recordWeightAttempt(ws.epoch, { ok: true }, this.d.now().toISOString());
      metrics.weightTx.inc({ result: "ok" });
      this.notBefore.delete(ws.epoch);
      log.info(
        {
          epoch: ws.epoch,
          block: tx.block,
          tx: tx.hash,
          uids: uids.length,
          versionKey: ws.version_key,
          revealed: commit !== null,
        },
        "weights set",
      );
      return "ok";
    } catch (err) {
      const code = err instanceof ChainError ? err.code : "TRANSPORT";
      const message = err instanceof Error ? err.message : String(err);
      if (commit && RECOMMIT_ERRORS.has(code)) await store.setState(commitKey, "");
      if (WAIT_ERRORS.has(code)) {
        log.info({ epoch: ws.epoch, code }, "weights not accepted yet; will send when allowed");
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
