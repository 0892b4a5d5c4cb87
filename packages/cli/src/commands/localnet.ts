import type { Command } from "@commander-js/extra-typings";
import { CmeshError } from "@computemesh/core";
import { DEFAULT_BASE_PORT, parseLocalnetOptions } from "../localnet/options.ts";
import { DEFAULT_MINER_GPUS } from "../localnet/roles.ts";
import { readLocalnetStatus } from "../localnet/status.ts";
import { formatSummary } from "../localnet/summary.ts";

function int(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n))
      throw new CmeshError("INVALID_ARGUMENT", `${name} must be an integer, got "${value}"`);
    return n;
  };
}

/** Registers the `cmesh localnet` commands. */
export function register(program: Command): void {
  const localnet = program
    .command("localnet")
    .description(
      "run the whole subnet on 127.0.0.1: local chain, validators (one serving the renter API and web UI), miners; `npm start` runs this",
    )
    .option("--dir <dir>", "state directory (wallets, chain, logs); kept across restarts", ".cmesh")
    .option("--reset", "delete the state directory first and start a new network", false)
    .option(
      "--base-port <n>",
      "first of the ports used (chain = N, API = N+1, nodes N+10…)",
      int("--base-port"),
      DEFAULT_BASE_PORT,
    )
    .option("--block-time <ms>", "block interval of the local chain", int("--block-time"), 1000)
    .option("--tempo <blocks>", "blocks per Yuma epoch (when the subnet is created)", int("--tempo"), 20)
    .option("--miners <n>", "number of miners", int("--miners"), 3)
    .option("--validators <n>", "number of validators", int("--validators"), 2)
    .option(
      "--pog-interval <sec>",
      "mean seconds between proof-of-GPU rounds of a miner",
      int("--pog-interval"),
      120,
    )
    .option(
      "--gpus <list>",
      'machine of each miner, cycled: catalog GPU names (SIMULATED here: no GPU) or "cpu" (rentable over SSH)',
      (v: string) =>
        v
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== ""),
      DEFAULT_MINER_GPUS,
    )
    .action(async (o) => {
      const opts = parseLocalnetOptions({
        dir: o.dir,
        reset: o.reset,
        basePort: o.basePort,
        blockTimeMs: o.blockTime,
        tempo: o.tempo,
        miners: o.miners,
        validators: o.validators,
        pogIntervalSec: o.pogInterval,
        gpus: o.gpus,
      });
      const { startLocalnet } = await import("../localnet/run.ts");
      const net = await startLocalnet(opts);
      process.stdout.write(formatSummary(net.run, { dir: opts.dir, elapsedMs: net.elapsedMs }));
      process.stdout.write("\n");
      const code = await net.done;
      if (code !== 0) {
        throw new CmeshError("LOCALNET_CHAIN_EXITED", "the local chain stopped, so the network was stopped", {
          hint: `see ${opts.dir}/logs/chain.log`,
        });
      }
    });

  localnet
    .command("status")
    .description(
      "where the running local network's parts are: chain, API, web UI, API key, every UID and axon",
    )
    .option("--json", "print JSON", false)
    .option("--dir <dir>", "state directory of the network", ".cmesh")
    .action(async (o, cmd) => {
      // `--dir` given before or after `status` (the parent command has the same option)
      const dir = cmd.getOptionValueSource("dir") === "cli" ? o.dir : (localnet.opts().dir ?? o.dir);
      const { status, run } = await readLocalnetStatus(dir);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      const lines = [
        `chain  ${status.chain} (subnet ${run.netuid})`,
        `api    ${status.api ?? "-"}`,
        `web    ${status.web ?? "-"}`,
        `apiKey ${status.apiKey ?? "-"}`,
        `docker ${run.docker.rentable ? "rentable" : `not rentable: ${run.docker.reason}`}`,
        ...status.validators.map(
          (v) => `validator uid ${v.uid} ${v.hotkey} axon ${v.axon ?? "-"} ${v.walletPath}`,
        ),
        ...status.miners.map(
          (m) => `miner     uid ${m.uid} ${m.hotkey} axon ${m.axon ?? "-"} ${m.walletPath}`,
        ),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
