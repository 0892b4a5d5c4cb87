import { CmeshError } from "@computemesh/core";

/**
 * An error the chain returned for a transaction or query. `code` is the chain's own error name
 * (e.g. "SettingWeightsTooFast", "HotKeyNotRegisteredInSubNet", "NotEnoughBalanceToStake"), identical for the
 * local chain and subtensor, so callers can branch on it.
 */
export class ChainError extends CmeshError {
  override readonly name: string = "ChainError";
}

const HINTS: Record<string, string> = {
  SettingWeightsTooFast: "wait `weightsRateLimit` blocks between weight updates",
  HotKeyNotRegisteredInSubNet: "register the hotkey first (`burnedRegister`)",
  NotEnoughBalanceToStake: "fund the coldkey (local chain: faucet) or lower the amount",
  NotEnoughBalanceToRegister: "fund the coldkey (local chain: faucet)",
  NeuronNoValidatorPermit:
    "only the top-staked UIDs get a validator permit after an epoch; add stake and wait",
  NotEnoughStakeToSetWeights: "add stake to the hotkey",
  IncorrectWeightVersionKey: "send a version key ≥ the subnet's weightsVersionKey",
  CommitRevealEnabled: "this subnet uses commit/reveal: call commitWeights then revealWeights",
  BadSignature: "the transaction must be signed by the sender's key over the canonical payload",
  InvalidNonce: "re-read the account nonce and sign again",
  SubnetNotExists: "check the netuid (`cmesh chain` / metagraph)",
};

export function chainError(code: string, message?: string, details?: Record<string, unknown>): ChainError {
  return new ChainError(code, message ?? `chain rejected the transaction: ${code}`, {
    hint: HINTS[code],
    details,
  });
}
