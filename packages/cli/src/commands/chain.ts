import { existsSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { connectChain, LocalChain, type LocalChainClient, serveLocalChain } from "@computemesh/chain";
import pino from "pino";

import { DEFAULT_CHAIN_ENDPOINT, DEFAULT_LOCAL_CHAIN_PORT, intOption } from "./options.ts";

function json(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2);
}

/** Removes the chain database and its WAL files. */
function resetState(dbPath: string): void {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(dbPath + suffix, { force: true });
}

/** Registers the `cmesh chain` commands. */
export function register(program: Command): void {
  const chain = program
    .command("chain")
    .description("the embedded local chain and chain queries (local or subtensor)");

  chain
    .command("serve")
    .description(
      "run the local chain and serve it over JSON-RPC (WebSocket) on 127.0.0.1; /metrics on the same port",
    )
    .requiredOption("--data-dir <dir>", "directory of the chain state (chain.db)")
    .option(
      "--port <port>",
      "TCP port on 127.0.0.1 (0 = any free port)",
      intOption("--port", 0, 65535),
      DEFAULT_LOCAL_CHAIN_PORT,
    )
    .option(
      "--block-time <ms>",
      "block interval in milliseconds (0 = no automatic blocks)",
      intOption("--block-time", 0, 3_600_000),
      12_000,
    )
    .option("--reset", "delete the existing chain state first and start a new chain", false)
    .action(async (opts) => {
      const dbPath = join(resolve(opts.dataDir), "chain.db");
      const log = pino({ level: process.env.CMESH_LOG_LEVEL ?? "info" }, pino.destination(2));
      if (opts.reset) resetState(dbPath);
      const created = !existsSync(dbPath);
      const local = await LocalChain.open({ dbPath, blockTimeMs: opts.blockTime, create: true });
      let server: Awaited<ReturnType<typeof serveLocalChain>>;
      try {
        server = await serveLocalChain(local, { host: "127.0.0.1", port: opts.port, logger: log });
      } catch (err) {
        await local.close();
        throw err;
      }
      if (created) log.info({ dbPath, chainId: local.chainId }, "created a new local chain");
      local.onBlock((block) => log.debug({ block }, "block"));
      process.stdout.write(
        `${JSON.stringify({ url: server.url, chainId: local.chainId, block: local.block(), dbPath, created })}\n`,
      );
      await new Promise<void>((done) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          done();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      log.info("stopping the local chain");
      await server.close();
      await local.close();
    });

  chain
    .command("info")
    .description("current block and subnets of a chain")
    .option("--chain <endpoint>", "ws://127.0.0.1:PORT, finney, test or wss://…", DEFAULT_CHAIN_ENDPOINT)
    .action(async (opts) => {
      const client = await connectChain(opts.chain);
      try {
        process.stdout.write(`${json({ endpoint: client.endpoint, block: await client.getBlock() })}\n`);
      } finally {
        await client.close();
      }
    });

  chain
    .command("metagraph")
    .description("print a subnet's metagraph as JSON")
    .requiredOption("--netuid <n>", "subnet id", intOption("--netuid", 0, 65535))
    .option("--chain <endpoint>", "ws://127.0.0.1:PORT, finney, test or wss://…", DEFAULT_CHAIN_ENDPOINT)
    .option("--weights", "include the weight matrix (local chain)", false)
    .action(async (opts) => {
      const client = await connectChain(opts.chain);
      try {
        const mg = opts.weights
          ? await (client as LocalChainClient).getMetagraph(opts.netuid, { weights: true })
          : await client.getMetagraph(opts.netuid);
        process.stdout.write(`${json(mg)}\n`);
      } finally {
        await client.close();
      }
    });

  chain
    .command("hyperparams")
    .description("print a subnet's hyperparameters as JSON")
    .requiredOption("--netuid <n>", "subnet id", intOption("--netuid", 0, 65535))
    .option("--chain <endpoint>", "ws://127.0.0.1:PORT, finney, test or wss://…", DEFAULT_CHAIN_ENDPOINT)
    .action(async (opts) => {
      const client = await connectChain(opts.chain);
      try {
        process.stdout.write(`${json(await client.getHyperparams(opts.netuid))}\n`);
      } finally {
        await client.close();
      }
    });
}
