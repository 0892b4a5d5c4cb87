import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";

/** sr25519 dev keys (`//Name`) for tests. */
export async function devKey(name: string): Promise<KeyringPair> {
  await cryptoWaitReady();
  return new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri(`//${name}`);
}
