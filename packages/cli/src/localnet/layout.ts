// Where the local network keeps its state: one directory (default `.cmesh/`) that survives restarts.
import { join, resolve } from "node:path";

export type NodeRole = "validator" | "miner";

export interface LocalnetLayout {
  root: string;
  /** btcli layout: `<wallets>/<name>/coldkey`, `coldkeypub.txt`, `hotkeys/default` */
  wallets: string;
  logs: string;
  chainDir: string;
  /** The network's persistent facts (netuid, hyperparameters, renter key): written once, reused on restart. */
  networkFile: string;
  /** Written while a network runs (what `cmesh localnet status` reads); removed on a clean stop. */
  runFile: string;
  warningFile: string;
  nodeDir(name: string): string;
  logFile(name: string): string;
}

export function localnetLayout(dir: string): LocalnetLayout {
  const root = resolve(dir);
  return {
    root,
    wallets: join(root, "wallets"),
    logs: join(root, "logs"),
    chainDir: join(root, "chain"),
    networkFile: join(root, "network.json"),
    runFile: join(root, "run.json"),
    warningFile: join(root, "wallets", "LOCAL-ONLY-UNENCRYPTED-KEYS.txt"),
    nodeDir: (name) => join(root, "nodes", name),
    logFile: (name) => join(root, "logs", `${name}.log`),
  };
}

/** Wallet name of the i-th (0-based) validator or miner; each wallet holds one coldkey and the hotkey `default`. */
export function nodeName(role: NodeRole, index: number): string {
  return `${role}-${index + 1}`;
}

export const OWNER_WALLET = "owner";
export const HOTKEY_NAME = "default";
