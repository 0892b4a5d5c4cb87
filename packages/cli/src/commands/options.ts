// Option parsers and option blocks shared by the `cmesh` commands. A bad value is an INVALID_ARGUMENT error that
// names the option and the value.
import type { Command, OptionValues } from "@commander-js/extra-typings";
import { CmeshError } from "@computemesh/core";
import { DEFAULT_WALLET_PATH } from "@computemesh/protocol";

/** Default port of `cmesh chain serve` (subtensor's local port; `ws://` endpoints mean the ComputeMesh chain). */
export const DEFAULT_LOCAL_CHAIN_PORT = 9944;
export const DEFAULT_CHAIN_ENDPOINT = `ws://127.0.0.1:${DEFAULT_LOCAL_CHAIN_PORT}`;

export function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new CmeshError("INVALID_ARGUMENT", `${name} must be an integer ${min}..${max}, got "${value}"`);
    }
    return n;
  };
}

export function numberOption(name: string, min: number, max = Number.POSITIVE_INFINITY) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) {
      const range = max === Number.POSITIVE_INFINITY ? `≥ ${min}` : `${min}..${max}`;
      throw new CmeshError("INVALID_ARGUMENT", `${name} must be a number ${range}, got "${value}"`);
    }
    return n;
  };
}

/** "a, b,,c" → ["a", "b", "c"] */
export function listOption(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/**
 * The options every chain node (miner, validator) takes: btcli's wallet options, the chain endpoint, the subnet and
 * the network named in receipts. Typed: the returned command knows these options.
 */
export function withNodeOptions<Args extends unknown[], Opts extends OptionValues, Globals extends OptionValues>(
  cmd: Command<Args, Opts, Globals>,
) {
  return cmd
    .option("--wallet.path <dir>", "directory holding wallets", DEFAULT_WALLET_PATH)
    .option("--wallet.name <name>", "wallet (coldkey) name", "default")
    .option("--wallet.hotkey <name>", "hotkey name", "default")
    .option("--chain <endpoint>", "ws://127.0.0.1:PORT (local chain), finney, test or wss://…", DEFAULT_CHAIN_ENDPOINT)
    .option("--netuid <n>", "subnet id", intOption("--netuid", 0, 65535), 1)
    .option("--network <label>", "network named in receipts: local, test, finney, …", "local");
}
