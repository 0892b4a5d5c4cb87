// Test support: a local chain with a subnet, a miner wallet on disk (btcli layout), a validator with a permit and
// stake, a registered validator with too little stake, and an unregistered stranger.
import { join } from "node:path";
import { LocalChain } from "@computemesh/chain";
import { cryptoReady, keypairFromUri, Wallet } from "@computemesh/protocol";
import type { KeyringPair } from "@polkadot/keyring/types";

const TAO = 1_000_000_000n;

export interface MinerTestNet {
  chain: LocalChain;
  netuid: number;
  walletPath: string;
  minerWallet: { name: string; hotkey: string };
  minerHotkeyAddress: string;
  validator: KeyringPair;
  poorValidator: KeyringPair;
  stranger: KeyringPair;
}

export async function minerTestNet(dir: string, tag = "t"): Promise<MinerTestNet> {
  await cryptoReady();
  const chain = await LocalChain.open({ dbPath: join(dir, "chain.sqlite"), blockTimeMs: 0, create: true });
  const client = chain.client();
  const owner = keypairFromUri(`//Owner-${tag}`);
  const cold = keypairFromUri(`//ValidatorCold-${tag}`);
  const validator = keypairFromUri(`//Validator-${tag}`);
  const poorValidator = keypairFromUri(`//PoorValidator-${tag}`);
  const stranger = keypairFromUri(`//Stranger-${tag}`);
  const netuid = await chain.createSubnet(owner, { tempo: 10, burn: TAO });
  await chain.faucet(cold.address, 100_000n * TAO);

  const walletPath = join(dir, "wallets");
  const wallet = new Wallet({ name: "miner", hotkey: "default", path: walletPath });
  const coldkey = await wallet.createColdkey({ password: null });
  await wallet.createHotkey({ password: null });
  await chain.faucet(coldkey.address, 100n * TAO);

  await chain.advanceBlocks(1);
  await client.burnedRegister(netuid, validator.address, cold);
  await client.burnedRegister(netuid, poorValidator.address, cold);
  await client.addStake(netuid, validator.address, 5_000n * TAO, cold);
  await client.addStake(netuid, poorValidator.address, 10n * TAO, cold);
  await chain.advanceBlocks(11); // an epoch grants validator permits
  return {
    chain,
    netuid,
    walletPath,
    minerWallet: { name: "miner", hotkey: "default" },
    minerHotkeyAddress: await wallet.hotkeyAddress(),
    validator,
    poorValidator,
    stranger,
  };
}
