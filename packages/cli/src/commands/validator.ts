import { homedir } from "node:os";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { connectChain } from "@computemesh/chain";
import { CmeshError } from "@computemesh/core";
import { allowSimulatedPog } from "@computemesh/pog";
import { cryptoReady, Wallet } from "@computemesh/protocol";
import {
  buildStatus,
  type StatusRow,
  VALIDATOR_VERSION_KEY,
  Validator,
  type ValidatorConfig,
  ValidatorStore,
} from "@computemesh/validator";
import Table from "cli-table3";
import type { Kysely } from "kysely";
import pino from "pino";
import { intOption, listOption, numberOption, withNodeOptions } from "./options.ts";
import { PASSWORD_ENV } from "./wallet.ts";

const DEFAULT_DB = join(homedir(), ".computemesh", "validator", "validator.db");



function boolOption(name: string) {
  return (value: string): boolean => {
    const v = value.trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(v)) return true;
    if (["false", "0", "no", "off"].includes(v)) return false;
    throw new CmeshError("INVALID_ARGUMENT", `${name} takes true or false, got "${value}"`);
  };
}


function isPostgres(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

/** Registers the `cmesh validator` commands. */
export function register(program: Command): void {
  const validator = withNodeOptions(
    program.command("validator").description(
      "run a validator: sync the metagraph, query every miner's specs, prove GPUs (randomized proof-of-GPU), health-check rentals, score by the seed formula and set weights on chain",
    ),
  )
    .option("--db <path-or-url>", "SQLite file, or postgres://user@host:port/db", DEFAULT_DB)
    .option("--db.schema <name>", "PostgreSQL schema (default: the connection's search_path)")
    .option(
      "--epoch-blocks <n>",
      "blocks per scoring epoch (default: the subnet's weights rate limit)",
      intOption("--epoch-blocks", 1, 1_000_000),
    )
    .option(
      "--validator.whitelist.unrecognized",
      "keep miners running an unrecognized (older) version",
      false,
    )
    .option(
      "--validator.perform.hardware.query <bool>",
      "query every miner's Specs each epoch (false: only new miners)",
      boolOption("--validator.perform.hardware.query"),
      true,
    )
    .option(
      "--validator.specs.batch.size <n>",
      "Specs queries in flight at once",
      intOption("--validator.specs.batch.size", 1, 1024),
      64,
    )
    .option(
      "--validator.whitelist.updated.threshold <pct>",
      "percent of miners on a recognized version before older ones are dropped",
      numberOption("--validator.whitelist.updated.threshold", 0, 100),
      60,
    )
    .option("--min-miner-version <x.y.z>", "lowest miner version recognized", "0.1.0")
    .option(
      "--blacklist.hotkeys <list>",
      "miner hotkeys never queried or scored (comma-separated)",
      listOption,
      [] as string[],
    )
    .option(
      "--blacklist.coldkeys <list>",
      "coldkeys whose miners are never queried or scored",
      listOption,
      [] as string[],
    )
    .option(
      "--whitelist.hotkeys <list>",
      "miner hotkeys exempt from the version rule",
      listOption,
      [] as string[],
    )
    .option(
      "--whitelist.coldkeys <list>",
      "coldkeys whose miners are exempt from the version rule",
      listOption,
      [] as string[],
    )
    .option(
      "--specs.timeout-ms <ms>",
      "timeout of one Specs query",
      intOption("--specs.timeout-ms", 100, 600_000),
      10_000,
    )
    .option(
      "--pog.mean-interval <sec>",
      "mean seconds between two proof-of-GPU rounds of a miner",
      numberOption("--pog.mean-interval", 1),
      4320,
    )
    .option(
      "--pog.jitter <0..1>",
      "rounds fall uniformly in mean × [1 − jitter, 1 + jitter]",
      numberOption("--pog.jitter", 0, 1),
      0.5,
    )
    .option(
      "--pog.initial-delay <sec>",
      "a new miner's first round falls in [0, this]",
      numberOption("--pog.initial-delay", 0),
      900,
    )
    .option(
      "--pog.concurrency <n>",
      "proof-of-GPU rounds in flight at once",
      intOption("--pog.concurrency", 1, 256),
      8,
    )
    .option("--pog.simulate", "accept the SIMULATED GPU backend (local network on 127.0.0.1 only)", false)
    .option(
      "--health.interval-ms <ms>",
      "allocation health check interval",
      intOption("--health.interval-ms", 100, 3_600_000),
      15_000,
    )
    .option(
      "--health.max-failures <n>",
      "failed checks in a row before a rental is ended as lost",
      intOption("--health.max-failures", 1, 1000),
      3,
    )
    .option(
      "--version-key <n>",
      "weights version key",
      intOption("--version-key", 0, 2 ** 53),
      VALIDATOR_VERSION_KEY,
    )
    .option("--metrics.host <ip>", "interface of /metrics and /status", "127.0.0.1")
    .option(
      "--metrics.port <port>",
      "port of /metrics and /status (0 = any free port)",
      intOption("--metrics.port", 0, 65535),
      9402,
    )
    .option(
      "--api.port <port>",
      "also serve the renter API (and web UI) on this port",
      intOption("--api.port", 0, 65535),
    )
    .option("--api.host <ip>", "interface of the renter API", "127.0.0.1")
    .option("--api.admin-key <key>", "operator key of the renter API (default: env CMESH_API_ADMIN_KEY)")
    .option("--no-jobs", "do not run dockerized jobs")
    .option("--log-level <level>", "fatal, error, warn, info, debug, trace", "info")
    .action(async (opts) => {
      const log = pino({ level: opts.logLevel, name: "cmesh-validator" });
      await cryptoReady();
      const wallet = new Wallet({
        name: opts["wallet.name"],
        hotkey: opts["wallet.hotkey"],
        path: opts["wallet.path"],
      });
      const hotkey = await wallet.loadHotkey(process.env[PASSWORD_ENV]);
      const db = isPostgres(opts.db) ? opts.db : resolve(opts.db);
      if (!isPostgres(db)) mkdirSync(dirname(db), { recursive: true });
      const chain = await connectChain(opts.chain);
      const config: ValidatorConfig = {
        chain,
        hotkey,
        logger: log,
        netuid: opts.netuid,
        network: opts.network,
        db,
        pgSchema: opts["db.schema"],
        epochBlocks: opts.epochBlocks,
        whitelistUnrecognized: opts["validator.whitelist.unrecognized"],
        performHardwareQuery: opts["validator.perform.hardware.query"],
        specsBatchSize: opts["validator.specs.batch.size"],
        whitelistUpdatedThreshold: opts["validator.whitelist.updated.threshold"],
        minMinerVersion: opts.minMinerVersion,
        blacklist: { hotkeys: opts["blacklist.hotkeys"], coldkeys: opts["blacklist.coldkeys"] },
        whitelist: { hotkeys: opts["whitelist.hotkeys"], coldkeys: opts["whitelist.coldkeys"] },
        specsTimeoutMs: opts["specs.timeoutMs"],
        pog: {
          meanIntervalSec: opts["pog.meanInterval"],
          jitter: opts["pog.jitter"],
          initialDelayMaxSec: opts["pog.initialDelay"],
          concurrency: opts["pog.concurrency"],
        },
        health: { intervalMs: opts["health.intervalMs"], maxFailures: opts["health.maxFailures"] },
        weights: { versionKey: opts.versionKey },
        metricsHost: opts["metrics.host"],
        metricsPort: opts["metrics.port"],
        jobs: opts.jobs,
        pogSimulation: opts["pog.simulate"]
          ? allowSimulatedPog({ network: opts.network, chainEndpoint: opts.chain })
          : undefined,
      };
      const v = await Validator.start(config).catch(async (err) => {
        await chain.close();
        throw err;
      });
      let api: { url: string; close(): Promise<void> } | undefined;
      if (opts["api.port"] !== undefined) {
        const { startApiServer } = await import("@computemesh/api");
        api = await startApiServer({
          backend: v,
          db: v.store.db as unknown as Kysely<unknown>,
          host: opts["api.host"],
          port: opts["api.port"],
          logger: log,
          adminKey: opts["api.adminKey"] ?? process.env.CMESH_API_ADMIN_KEY,
          selfDeposit: opts.network === "local",
        });
      }
      log.info(
        { hotkey: v.hotkey, metrics: v.metricsUrl, api: api?.url ?? null, epochBlocks: v.blocksPerEpoch },
        "validator ready",
      );
      await new Promise<void>((done) => {
        const stop = async (signal: string) => {
          log.info({ signal }, "stopping");
          await api?.close().catch((err) => log.warn({ err }, "closing the API failed"));
          await v.stop();
          await chain.close();
          done();
        };
        process.once("SIGINT", () => void stop("SIGINT"));
        process.once("SIGTERM", () => void stop("SIGTERM"));
      });
    });

  validator
    .command("status")
    .description(
      "print the validator's current table of miners (from its store, or from a running validator with --url)",
    )
    .option("--url <url>", "read /status of a running validator instead (e.g. http://127.0.0.1:9402)")
    .option(
      "--pog.ttl <sec>",
      "how long a passed proof counts (as the validator's --pog.mean-interval × 3)",
      numberOption("--pog.ttl", 1),
      3 * 4320,
    )
    .option("--json", "print JSON instead of a table", false)
    .action(async (opts, cmd) => {
      // --db and --db.schema belong to `cmesh validator` (so they may be given before or after `status`).
      const globals = cmd.optsWithGlobals() as { db: string; "db.schema"?: string };
      let rows: StatusRow[];
      if (opts.url) {
        const res = await fetch(new URL("/status", opts.url)).catch((err) => {
          throw new CmeshError("VALIDATOR_UNREACHABLE", `cannot reach ${opts.url}: ${String(err)}`, {
            hint: "is the validator running? its --metrics.port serves /status",
          });
        });
        if (!res.ok)
          throw new CmeshError("VALIDATOR_UNREACHABLE", `${opts.url}/status answered ${res.status}`);
        rows = ((await res.json()) as { miners: StatusRow[] }).miners;
      } else {
        const db = isPostgres(globals.db) ? globals.db : resolve(globals.db);
        if (!isPostgres(db) && !existsSync(db)) {
          throw new CmeshError("VALIDATOR_STORE_MISSING", `no validator store at ${db}`, {
            hint: "pass --db with the path the validator runs with, or --url of a running validator",
          });
        }
        const store = await ValidatorStore.open(db, { pgSchema: globals["db.schema"] });
        try {
          rows = await buildStatus(store, { ttlMs: opts["pog.ttl"] * 1000, now: new Date() });
        } finally {
          await store.close();
        }
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const table = new Table({
        head: [
          "uid",
          "hotkey",
          "axon",
          "claimed GPU",
          "proven GPU",
          "n",
          "last proof",
          "verified",
          "online",
          "alloc",
          "score",
        ],
      });
      for (const r of rows) {
        table.push([
          r.uid,
          `${r.hotkey.slice(0, 8)}…`,
          r.axon ?? "-",
          r.claimedGpu ?? "-",
          r.provenGpu ?? "-",
          r.gpuCount,
          r.lastProof ? `${r.lastProof}${r.lastProofReason ? ` (${r.lastProofReason})` : ""}` : "-",
          r.verified ? "yes" : "no",
          r.online ? "yes" : "no",
          r.allocated ? "yes" : "no",
          r.score.toFixed(3),
        ]);
      }
      const epoch = rows[0]?.epoch ?? null;
      process.stdout.write(
        `${table.toString()}\n${rows.length} miners; scores of epoch ${epoch ?? "(none yet)"}\n`,
      );
    });
}
