// Who may call this miner. Pure: the metagraph and the options in, a refusal reason (→ 403) or null out.
// Fixes NI's inverted whitelist (ni-compute-sn27.md §2, §8.7): every caller goes through every check, and a
// whitelist only ever lets more callers in, never skips the blacklist.
import type { NeuronInfo } from "@computemesh/chain";

export interface AccessOptions {
  netuid: number;
  blacklistHotkeys: readonly string[];
  blacklistColdkeys: readonly string[];
  whitelistHotkeys: readonly string[];
  whitelistColdkeys: readonly string[];
  /** Let registered validators in even without a permit or enough stake. */
  whitelistNotEnoughStake: boolean;
  /** Let validators in that run an older version than the quorum. */
  whitelistNotUpdated: boolean;
  /** Percent of permitted validators that must run the newest version before older ones are refused. */
  updatedThresholdPct: number;
  /** Least stake (rao) a validator needs. */
  minValidatorStakeRao: bigint;
}

export type AccessNeuron = Pick<NeuronInfo, "hotkey" | "coldkey" | "stake" | "validatorPermit" | "axon">;

const TAO = 1_000_000_000n;

function tao(rao: bigint): string {
  const whole = rao / TAO;
  const frac = (rao % TAO).toString().padStart(9, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/** The newest axon version among permitted validators, and the share of them that run it. */
export function versionQuorum(
  neurons: readonly AccessNeuron[],
  minStake: bigint,
): { newest: number; sharePct: number } {
  const validators = neurons.filter((n) => n.validatorPermit && n.stake >= minStake);
  if (validators.length === 0) return { newest: 0, sharePct: 0 };
  const versions = validators.map((n) => n.axon?.version ?? 0);
  const newest = Math.max(...versions);
  const share = versions.filter((v) => v >= newest).length / validators.length;
  return { newest, sharePct: share * 100 };
}

/** Returns why `hotkey` may not call this miner, or null when it may. */
export function accessRefusal(
  hotkey: string,
  neurons: readonly AccessNeuron[],
  o: AccessOptions,
): string | null {
  if (o.blacklistHotkeys.includes(hotkey)) return `hotkey ${hotkey} is blacklisted by this miner`;
  const neuron = neurons.find((n) => n.hotkey === hotkey);
  if (neuron && o.blacklistColdkeys.includes(neuron.coldkey)) {
    return `coldkey ${neuron.coldkey} of ${hotkey} is blacklisted by this miner`;
  }
  if (o.whitelistHotkeys.includes(hotkey)) return null;
  if (neuron && o.whitelistColdkeys.includes(neuron.coldkey)) return null;
  if (!neuron) return `hotkey ${hotkey} is not registered on subnet ${o.netuid}`;
  if (!o.whitelistNotEnoughStake) {
    if (!neuron.validatorPermit) return `hotkey ${hotkey} has no validator permit on subnet ${o.netuid}`;
    if (neuron.stake < o.minValidatorStakeRao) {
      return `hotkey ${hotkey} has ${tao(neuron.stake)} TAO staked; this miner requires ${tao(o.minValidatorStakeRao)} TAO`;
    }
  }
  if (!o.whitelistNotUpdated) {
    const { newest, sharePct } = versionQuorum(neurons, o.minValidatorStakeRao);
    const mine = neuron.axon?.version ?? 0;
    if (mine < newest && sharePct >= o.updatedThresholdPct) {
      return `hotkey ${hotkey} runs version ${mine}; ${sharePct.toFixed(0)}% of validators run ${newest} (quorum ${o.updatedThresholdPct}%)`;
    }
  }
  return null;
}
