// Puts the local network on chain, idempotently: the subnet, funded coldkeys, registered and staked hotkeys.
// A restart finds everything in place and changes nothing.
import type { LocalChainClient, SubnetHyperparams } from "@computemesh/chain";
import { CmeshError, isCmeshError } from "@computemesh/core";
import type { LocalWallet } from "./wallets.ts";

export const TAO = 1_000_000_000n;
/** Stake of each local validator: well above the miners' default minimum for validators (1024 TAO). */
export const VALIDATOR_STAKE = 10_000n * TAO;
const MINER_FUNDS = 100n * TAO;
const VALIDATOR_FUNDS = VALIDATOR_STAKE + 100n * TAO;
const OWNER_FUNDS = 1_000n * TAO;

/** Hyperparameters of the local subnet: short epochs so a newcomer sees weights and incentive within a minute. */
export function localSubnetParams(tempo: number, validators: number): Partial<SubnetHyperparams> {
  return {
    tempo,
    weightsRateLimit: Math.max(1, Math.floor(tempo / 2)),
    maxAllowedValidators: validators,
    immunityPeriod: 4096,
    activityCutoff: 5000,
    burn: TAO,
    commitRevealEnabled: false,
  };
}

async function subnetExists(client: LocalChainClient, netuid: number): Promise<boolean> {
  try {
    await client.getHyperparams(netuid);
    return true;
  } catch (err) {
    if (isCmeshError(err) && /SubNetworkDoesNotExist|does not exist/.test(`${err.code} ${err.message}`))
      return false;
    throw err;
  }
}

/** Returns the netuid of the local subnet, creating it (owned by `owner`) when the chain does not have it. */
export async function ensureSubnet(
  client: LocalChainClient,
  owner: LocalWallet,
  known: number | undefined,
  params: Partial<SubnetHyperparams>,
): Promise<{ netuid: number; created: boolean }> {
  if (known !== undefined && (await subnetExists(client, known))) return { netuid: known, created: false };
  await topUp(client, owner.coldkey.address, OWNER_FUNDS);
  const netuid = await client.createSubnet(owner.coldkey, params);
  if (netuid < 0) throw new CmeshError("LOCALNET_SUBNET_FAILED", "the chain did not create the subnet");
  return { netuid, created: true };
}

/** Credits an address from the dev faucet up to `target` rao. */
export async function topUp(client: LocalChainClient, address: string, target: bigint): Promise<void> {
  const balance = await client.getBalance(address);
  if (balance < target) await client.faucet(address, target - balance);
}

export interface RegisteredNode {
  name: string;
  hotkey: string;
  uid: number;
}

/**
 * Registers every hotkey that is not registered yet (burned registration signed by its coldkey) and tops the
 * validators' stake up to {@link VALIDATOR_STAKE}. Returns the UIDs in the order of `nodes`.
 */
export async function registerAndStake(
  client: LocalChainClient,
  netuid: number,
  nodes: { wallet: LocalWallet; role: "validator" | "miner" }[],
): Promise<RegisteredNode[]> {
  let mg = await client.getMetagraph(netuid);
  const byHotkey = () => new Map(mg.neurons.map((n) => [n.hotkey, n]));
  let known = byHotkey();
  const missing = nodes.filter((n) => !known.has(n.wallet.hotkey.address));
  await Promise.all(
    nodes.map((n) =>
      topUp(client, n.wallet.coldkey.address, n.role === "validator" ? VALIDATOR_FUNDS : MINER_FUNDS),
    ),
  );
  // one coldkey per node, so the registrations do not contend for a nonce and can go in parallel
  await Promise.all(
    missing.map((n) => client.burnedRegister(netuid, n.wallet.hotkey.address, n.wallet.coldkey)),
  );
  if (missing.length > 0) {
    mg = await client.getMetagraph(netuid);
    known = byHotkey();
  }
  await Promise.all(
    nodes
      .filter((n) => n.role === "validator")
      .map(async (n) => {
        const stake = known.get(n.wallet.hotkey.address)?.stake ?? 0n;
        if (stake < VALIDATOR_STAKE) {
          await client.addStake(netuid, n.wallet.hotkey.address, VALIDATOR_STAKE - stake, n.wallet.coldkey);
        }
      }),
  );
  return nodes.map((n) => {
    const neuron = known.get(n.wallet.hotkey.address);
    if (!neuron) {
      throw new CmeshError(
        "LOCALNET_REGISTRATION_FAILED",
        `${n.wallet.name} is not registered after registration`,
        {
          hint: "start fresh with `cmesh localnet --reset`",
        },
      );
    }
    return { name: n.wallet.name, hotkey: neuron.hotkey, uid: neuron.uid };
  });
}
