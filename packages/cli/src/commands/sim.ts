import { readFile } from "node:fs/promises";
import type { Command } from "@commander-js/extra-typings";
import { simulateYuma } from "@computemesh/chain";
import { CmeshError } from "@computemesh/core";

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
}
