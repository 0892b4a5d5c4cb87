import { readFile } from "node:fs/promises";
import type { Command } from "@commander-js/extra-typings";
import { simulateYuma } from "@computemesh/chain";
import { CmeshError } from "@computemesh/core";
import { runNetworkSim } from "../sim/network.ts";
import { formatNetworkSim } from "../sim/report.ts";

/**
 * The `cmesh sim` command group, created on first use. Other modules add subcommands to it, e.g.
 * `simGroup(program).command("network")…`.
 */
// biome-ignore lint/suspicious/noExplicitAny: the group is shared by commands with different option types
export function simGroup(program: Command): Command<any, any, any> {
  const existing = program.commands.find((c) => c.name() === "sim");
  // biome-ignore lint/suspicious/noExplicitAny: see above
  if (existing) return existing as Command<any, any, any>;
  return program.command("sim").description("simulators: Yuma consensus on a scenario, and more");
}

async function readScenario(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new CmeshError("SCENARIO_NOT_FOUND", `cannot read scenario ${path}`, {
      cause,
      hint: "pass an existing JSON file",
    });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CmeshError("INVALID_SCENARIO", `scenario ${path} is not JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** Registers the `cmesh sim` commands (this module owns `sim yuma`). */
export function register(program: Command): void {
  simGroup(program)
    .command("yuma")
    .description("run Yuma consensus alone over a scenario file and print the epochs as JSON")
    .requiredOption(
      "--scenario <file>",
      'JSON: {"params": {...}, "stake": [...], "epochs": [{"weights": {...}}]}',
    )
    .option("--compact", "one-line JSON", false)
    .action(async (opts: { scenario: string; compact: boolean }) => {
      const result = simulateYuma(await readScenario(opts.scenario));
      process.stdout.write(`${JSON.stringify(result, null, opts.compact ? 0 : 2)}\n`);
    });

  simGroup(program)
    .command("network")
    .description(
      "run honest and cheating miners against real validators and Yuma on 127.0.0.1 (GPU speed is modeled: SIMULATED proof-of-GPU)",
    )
    .option("--miners <n>", "miners (each its own axon on 127.0.0.1)", "256")
    .option("--validators <n>", "validators (each with stake and a validator permit)", "8")
    .option("--cheaters <fraction>", "share of miners that cheat, spread over the six cheater kinds", "0.1")
    .option("--epochs <n>", "scoring epochs (each 600 virtual seconds and one Yuma epoch)", "20")
    .option("--seed <n>", "seed of keys, models, cheater placement and proof schedules", "1")
    .option("--json", "print the full result as JSON instead of the table", false)
    .action(
      async (opts: {
        miners: string;
        validators: string;
        cheaters: string;
        epochs: string;
        seed: string;
        json: boolean;
      }) => {
        const result = await runNetworkSim(
          {
            miners: Number(opts.miners),
            validators: Number(opts.validators),
            cheaters: Number(opts.cheaters),
            epochs: Number(opts.epochs),
            seed: Number(opts.seed),
          },
          (line) => process.stderr.write(`${line}\n`),
        );
        process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatNetworkSim(result));
      },
    );
}
