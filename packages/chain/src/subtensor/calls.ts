import { normalizeWeights, weightsCommitHash } from "../weights.ts";
import { ipToU128 } from "./convert.ts";

/** The `subtensorModule` section of a decorated `tx` (ApiPromise's `api.tx` or `expandMetadata(...).tx`). */
type CallMaker<R> = (...args: unknown[]) => R;
export interface SubtensorTxSection<R> {
  burnedRegister: CallMaker<R>;
  serveAxon: CallMaker<R>;
  addStake: CallMaker<R>;
  setWeights: CallMaker<R>;
  commitWeights: CallMaker<R>;
  revealWeights: CallMaker<R>;
}

/**
 * Builds the subtensor calls ComputeMesh submits, with the argument order and types of the runtime
 * (reference §3.2): the same code builds submittables on a live ApiPromise and plain calls in offline tests.
 */
export function subtensorCalls<R>(tx: SubtensorTxSection<R>) {
  return {
    burnedRegister: (netuid: number, hotkey: string) => tx.burnedRegister(netuid, hotkey),
    serveAxon: (netuid: number, axon: { ip: string; port: number; version?: number; protocol?: number }) => {
      const { ip, ipType } = ipToU128(axon.ip);
      return tx.serveAxon(netuid, axon.version ?? 0, ip, axon.port, ipType, axon.protocol ?? 4, 0, 0);
    },
    addStake: (hotkey: string, netuid: number, amountRao: bigint) => tx.addStake(hotkey, netuid, amountRao),
    setWeights: (netuid: number, uids: number[], weights: number[], versionKey: number) => {
      const { uids: dests, values } = normalizeWeights(uids, weights);
      return tx.setWeights(netuid, dests, values, versionKey);
    },
    commitWeights: (
      hotkey: string,
      netuid: number,
      uids: number[],
      weights: number[],
      salt: number[],
      versionKey: number,
    ) => {
      const { uids: u, values } = normalizeWeights(uids, weights);
      return tx.commitWeights(netuid, weightsCommitHash(hotkey, netuid, u, values, salt, versionKey));
    },
    revealWeights: (
      netuid: number,
      uids: number[],
      weights: number[],
      salt: number[],
      versionKey: number,
    ) => {
      const { uids: u, values } = normalizeWeights(uids, weights);
      return tx.revealWeights(netuid, u, values, salt, versionKey);
    },
  };
}
