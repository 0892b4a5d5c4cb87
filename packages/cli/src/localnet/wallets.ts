// The local network's wallets, in btcli layout, UNENCRYPTED (a dev network has nothing worth a password) and
// marked as such by a warning file next to them.
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cryptoReady, type KeyringPair, Wallet } from "@computemesh/protocol";
import { HOTKEY_NAME, type LocalnetLayout } from "./layout.ts";

export const LOCAL_ONLY_WARNING = `LOCAL NETWORK ONLY — THESE KEYS ARE NOT ENCRYPTED.

The wallets in this directory were created by \`cmesh localnet\` for the local network on 127.0.0.1.
Their coldkeys and hotkeys are stored in plain text. Never send real TAO to these addresses, never use
them on finney or the test network, and never copy them to another machine. \`cmesh localnet --reset\`
deletes them.
`;

export interface LocalWallet {
  name: string;
  wallet: Wallet;
  coldkey: KeyringPair;
  hotkey: KeyringPair;
  /** the hotkey file (what `status` reports as walletPath) */
  hotkeyFile: string;
  created: boolean;
}

/** Loads the wallet `name` from the local wallets directory, creating its coldkey and hotkey when missing. */
export async function ensureLocalWallet(layout: LocalnetLayout, name: string): Promise<LocalWallet> {
  await cryptoReady();
  await mkdir(layout.wallets, { recursive: true, mode: 0o700 });
  if (!existsSync(layout.warningFile)) await writeFile(layout.warningFile, LOCAL_ONLY_WARNING);
  const wallet = new Wallet({ name, hotkey: HOTKEY_NAME, path: layout.wallets });
  let created = false;
  if (!existsSync(wallet.coldkeyFile)) {
    await wallet.createColdkey({ password: null });
    created = true;
  }
  if (!existsSync(wallet.hotkeyFile)) {
    await wallet.createHotkey({ password: null });
    created = true;
  }
  return {
    name,
    wallet,
    coldkey: await wallet.loadColdkey(),
    hotkey: await wallet.loadHotkey(),
    hotkeyFile: wallet.hotkeyFile,
    created,
  };
}
