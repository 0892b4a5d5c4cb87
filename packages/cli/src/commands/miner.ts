import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { connectChain } from "@computemesh/chain";
import { CmeshError } from "@computemesh/core";
import {
  AllocationManager,
  DEFAULT_RENTAL_IMAGE,
  DockerRuntime,
  collectSpecs,
  type MinerConfigInput,
  openMinerStore,
  startMiner,
} from "@computemesh/miner";
import pino from "pino";
import { intOption, listOption, numberOption, withNodeOptions } from "./options.ts";
import { PASSWORD_ENV } from "./wallet.ts";

const TAO = 1_000_000_000;
const DEFAULT_DATA_DIR = join(homedir(), ".computemesh", "miner");




function portRange(value: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(value.trim());
  const range = m ? ([Number(m[1]), Number(m[2])] as [number, number]) : null;
  if (!range || range[0] < 1 || range[1] > 65535 || range[0] > range[1]) {
    throw new CmeshError("INVALID_ARGUMENT", `--ssh.port-range must look like 40000-40999, got "${value}"`);
  }
  return range;
}

function json(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2);
}

/** Registers the `cmesh miner` commands. */
export function register(program: Command): void {
  const miner = withNodeOptions(
    program.command("miner").description(
      "run a miner: register on the chain, serve the axon (Specs, Allocate, Deallocate, AllocationStatus, proof-of-GPU, jobs) and rent this machine out as Docker containers reachable over SSH (key-only)",
    ),
  )
    .option(
      "--axon.port <port>",
      "axon TCP port (0 = any free port)",
      intOption("--axon.port", 0, 65535),
      8091,
    )
    .option("--axon.host <ip>", "interface the axon binds", "0.0.0.0")
    .option(
      "--axon.external-ip <ip>",
      "IP announced on chain (default: the bound host, 127.0.0.1 for 0.0.0.0)",
    )
    .option("--data-dir <dir>", "allocation store, job files and free-disk measurement", DEFAULT_DATA_DIR)
    .option("--no-register", "fail instead of registering the hotkey when it is not registered")
    .option("--ssh.host <ip>", "host address rentals' sshd is published on", "127.0.0.1")
    .option(
      "--ssh.advertised-host <host>",
      "address renters are told to ssh to (default: --ssh.host, or the external IP for 0.0.0.0)",
    )
    .option("--ssh.port-range <from-to>", "host ports for rentals' sshd", portRange, [40000, 40999] as [
      number,
      number,
    ])
    .option("--image <name>", "default rental image", DEFAULT_RENTAL_IMAGE)
    .option(
      "--images <list>",
      "more rental images offered (comma-separated, must exist locally)",
      listOption,
      [] as string[],
    )
    .option(
      "--price.per-gpu-hour <amount>",
      "asking price per GPU-hour (per machine-hour without GPU), reported in Specs",
      numberOption("--price.per-gpu-hour", 0),
      0,
    )
    .option("--price.currency <code>", "currency of the price", "USD")
    .option(
      "--blacklist.hotkeys <list>",
      "hotkeys never served (comma-separated)",
      listOption,
      [] as string[],
    )
    .option(
      "--blacklist.coldkeys <list>",
      "coldkeys whose hotkeys are never served",
      listOption,
      [] as string[],
    )
    .option(
      "--whitelist.hotkeys <list>",
      "hotkeys served even without permit/stake/registration",
      listOption,
      [] as string[],
    )
    .option(
      "--whitelist.coldkeys <list>",
      "coldkeys whose hotkeys are served even without permit/stake",
      listOption,
      [] as string[],
    )
    .option(
      "--miner.whitelist.not.enough.stake",
      "serve registered validators without a permit or enough stake",
      false,
    )
    .option(
      "--miner.whitelist.not.updated",
      "serve validators running an older version than the quorum",
      false,
    )
    .option(
      "--miner.whitelist.updated.threshold <pct>",
      "percent of validators on the newest version before older ones are refused",
      numberOption("--miner.whitelist.updated.threshold", 0),
      60,
    )
    .option(
      "--miner.min-validator-stake <tao>",
      "least stake (TAO) a validator needs",
      numberOption("--miner.min-validator-stake", 0),
      1024,
    )
    .option("--metrics.host <ip>", "interface of the /metrics endpoint", "127.0.0.1")
    .option(
      "--metrics.port <port>",
      "port of the /metrics endpoint (0 = any free port)",
      intOption("--metrics.port", 0, 65535),
      9401,
    )
    .option(
      "--pids-limit <n>",
      "process limit per rental container",
      intOption("--pids-limit", 16, 1_000_000),
      1024,
    )
    .option("--nvidia-smi <path>", "nvidia-smi binary", "nvidia-smi")
    .option("--no-jobs", "do not serve dockerized jobs")
    .option("--no-docker", "run without Docker: the machine is proven and scored but rents nothing and runs no jobs")
    .option("--docker.socket <path>", "Docker daemon socket (rootless Docker: /run/user/UID/docker.sock)", "/var/run/docker.sock")
    .option("--log-level <level>", "fatal, error, warn, info, debug, trace", "info")
    .action(async (opts) => {
      const log = pino({ level: opts.logLevel, name: "cmesh-miner" });
      const config: MinerConfigInput = {
        wallet: { name: opts["wallet.name"], hotkey: opts["wallet.hotkey"], path: opts["wallet.path"] },
        chain: opts.chain,
        netuid: opts.netuid,
        network: opts.network,
        axon: { port: opts["axon.port"], host: opts["axon.host"], externalIp: opts["axon.externalIp"] },
        dataDir: resolve(opts.dataDir),
        register: opts.register,
        coldkeyPassword: process.env[PASSWORD_ENV],
        ssh: {
          bindHost: opts["ssh.host"],
          advertisedHost: opts["ssh.advertisedHost"],
          portRange: opts["ssh.portRange"],
        },
        images: { default: opts.image, allowed: opts.images },
        pricing: { currency: opts["price.currency"], perGpuHour: opts["price.perGpuHour"] },
        access: {
          blacklistHotkeys: opts["blacklist.hotkeys"],
          blacklistColdkeys: opts["blacklist.coldkeys"],
          whitelistHotkeys: opts["whitelist.hotkeys"],
          whitelistColdkeys: opts["whitelist.coldkeys"],
          whitelistNotEnoughStake: opts["miner.whitelist.not.enough.stake"],
          whitelistNotUpdated: opts["miner.whitelist.not.updated"],
          updatedThresholdPct: opts["miner.whitelist.updated.threshold"],
          minValidatorStakeRao: BigInt(Math.round(opts["miner.minValidatorStake"] * TAO)),
        },
        metrics: { host: opts["metrics.host"], port: opts["metrics.port"] },
        pidsLimit: opts.pidsLimit,
        nvidiaSmi: opts.nvidiaSmi,
        jobs: opts.jobs,
        docker: opts.docker,
        dockerSocket: opts["docker.socket"],
        logLevel: opts.logLevel as MinerConfigInput["logLevel"],
      };
      const chain = await connectChain(opts.chain);
      const handle = await startMiner(config, { chain, logger: log }).catch(async (err) => {
        await chain.close();
        throw err;
      });
      log.info(
        {
          hotkey: handle.hotkey,
          uid: handle.uid,
          axonPort: handle.axon.port,
          metricsPort: handle.metricsPort,
        },
        "miner ready",
      );
      await new Promise<void>((done) => {
        const stop = async (signal: string) => {
          log.info({ signal }, "stopping");
          await handle.stop();
          await chain.close();
          done();
        };
        process.once("SIGINT", () => void stop("SIGINT"));
        process.once("SIGTERM", () => void stop("SIGTERM"));
      });
    });

  // The subcommands read the options above (commander gives them to `miner` wherever they appear).
  miner
    .command("specs")
    .description(
      "print what this machine reports in the Specs synapse (GPUs via nvidia-smi, CPU, RAM, disk, Docker)",
    )
    .action(async () => {
      const opts = miner.opts();
      const runtime = new DockerRuntime();
      const specs = await collectSpecs({
        dataDir: resolve(opts.dataDir),
        nvidiaSmi: opts.nvidiaSmi,
        pricing: { currency: opts["price.currency"], perGpuHour: opts["price.perGpuHour"] },
        docker: () => runtime.facts(),
      });
      process.stdout.write(`${json(specs)}\n`);
    });

  miner
    .command("allocations")
    .description("list the allocations in this miner's store (works while the miner runs or is stopped)")
    .option("--all", "include ended allocations", false)
    .option("--history <id>", "print one allocation's history instead")
    .action(async (sub) => {
      const db = await openMinerStore(join(resolve(miner.opts().dataDir), "miner.sqlite"));
      try {
        const manager = new AllocationManager({
          db,
          runtime: new DockerRuntime(),
          minerHotkey: "",
          capacity: {
            gpus: [],
            nvidiaRuntime: false,
            cpuCount: 1,
            ramBytes: 0,
            diskFreeBytes: async () => 0,
          },
          images: { default: DEFAULT_RENTAL_IMAGE, allowed: [] },
          ssh: { bindHost: "127.0.0.1", advertisedHost: "127.0.0.1", portRange: [1, 1] },
        });
        const out = sub.history
          ? await manager.history(sub.history)
          : await manager.list({ liveOnly: !sub.all });
        process.stdout.write(`${json(out)}\n`);
      } finally {
        await db.destroy();
      }
    });
}
