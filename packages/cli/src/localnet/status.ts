// `cmesh localnet status`: what runs, read from run.json and refreshed from the chain.
import { connectLocalChain } from "@computemesh/chain";
import { CmeshError } from "@computemesh/core";
import { localnetLayout } from "./layout.ts";
import { type NodeEntry, processAlive, readRunState, type RunState } from "./state.ts";

export interface StatusNode {
  hotkey: string;
  uid: number;
  walletPath: string;
  axon: string | null;
}

/** The JSON `cmesh localnet status --json` prints (exactly these keys). */
export interface LocalnetStatus {
  chain: string;
  api: string | null;
  web: string | null;
  apiKey: string | null;
  validators: StatusNode[];
  miners: StatusNode[];
}

function notRunning(dir: string, why: string): CmeshError {
  return new CmeshError("LOCALNET_NOT_RUNNING", `no local network is running from ${dir}: ${why}`, {
    hint: "start one with `npm start` (or `cmesh localnet --dir DIR` for another directory)",
  });
}

/** Reads the running network's state; throws LOCALNET_NOT_RUNNING when nothing runs from `dir`. */
export async function readLocalnetStatus(dir: string): Promise<{ status: LocalnetStatus; run: RunState }> {
  const layout = localnetLayout(dir);
  const run = await readRunState(layout.runFile);
  if (!run) throw notRunning(layout.root, "it has no run.json");
  if (!processAlive(run.pid))
    throw notRunning(layout.root, `its process ${run.pid} is gone (run.json is stale)`);
  let client: Awaited<ReturnType<typeof connectLocalChain>> | undefined;
  try {
    client = await connectLocalChain(run.chain, { connectTimeoutMs: 2000, requestTimeoutMs: 5000 });
    const mg = await client.getMetagraph(run.netuid);
    const byHotkey = new Map(mg.neurons.map((n) => [n.hotkey, n]));
    const live = (e: NodeEntry): StatusNode => {
      const n = byHotkey.get(e.hotkey);
      return {
        hotkey: e.hotkey,
        uid: n?.uid ?? -1,
        walletPath: e.walletPath,
        axon: n?.axon ? `${n.axon.ip}:${n.axon.port}` : null,
      };
    };
    return {
      run,
      status: {
        chain: run.chain,
        api: run.api,
        web: run.web,
        apiKey: run.apiKey,
        validators: run.validators.map(live),
        miners: run.miners.map(live),
      },
    };
  } catch (err) {
    if (err instanceof CmeshError && err.code === "CHAIN_UNREACHABLE")
      throw notRunning(layout.root, err.message);
    throw err;
  } finally {
    await client?.close().catch(() => {});
  }
}
