import { CmeshError } from "@computemesh/core";
import { connectLocalChain } from "./rpc/client.ts";
import type { ChainClient } from "./types.ts";

/**
 * Connects to a chain by endpoint:
 * - `ws://HOST:PORT` → the ComputeMesh local chain served by `cmesh chain serve` (JSON-RPC);
 * - `finney`, `test`, `wss://…`, or `subtensor+ws://…` (a plain-ws subtensor node) → subtensor through @polkadot/api.
 */
export async function connectChain(endpoint: string): Promise<ChainClient> {
  const e = endpoint.trim();
  if (e.startsWith("ws://")) return connectLocalChain(e);
  if (e === "finney" || e === "test" || e.startsWith("wss://") || e.startsWith("subtensor+ws://")) {
    const { connectSubtensor } = await import("./subtensor/client.ts");
    return connectSubtensor(e);
  }
  throw new CmeshError("CHAIN_ENDPOINT_INVALID", `unknown chain endpoint "${endpoint}"`, {
    hint: "use ws://127.0.0.1:PORT (local chain), finney, test, wss://HOST or subtensor+ws://HOST:PORT",
  });
}
