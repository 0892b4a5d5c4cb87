import { Command, CommanderError } from "@commander-js/extra-typings";
import { isCmeshError } from "@computemesh/core";
import * as account from "./commands/account.ts";
import * as chain from "./commands/chain.ts";
import * as jobs from "./commands/jobs.ts";
import * as localnet from "./commands/localnet.ts";
import * as miner from "./commands/miner.ts";
import * as rent from "./commands/rent.ts";
import * as score from "./commands/score.ts";
import * as sim from "./commands/sim.ts";
import * as validator from "./commands/validator.ts";
import * as wallet from "./commands/wallet.ts";

/** Builds the `cmesh` command tree. Each command group registers itself from its own module. */
export function buildProgram(): Command {
  const program = new Command("cmesh")
    .description("ComputeMesh: a decentralized GPU compute marketplace on Bittensor")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)");
  for (const group of [wallet, chain, sim, miner, validator, score, rent, account, jobs, localnet]) {
    group.register(program);
  }
  return program;
}

/** Runs the CLI and returns the process exit code; errors go to stderr with what to do about them. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode;
    }
    if (isCmeshError(err)) {
      process.stderr.write(`error [${err.code}]: ${err.describe()}\n`);
      return 1;
    }
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
