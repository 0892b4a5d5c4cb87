import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { CmeshError, findGpu, GPU_CATALOG, gpuScore, MAX_SCORED_GPUS } from "@computemesh/core";

function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError("must be a whole number of GPUs (0 or more)");
  }
  return n;
}

/** Score as printed: at most 6 decimals, no trailing zeros (50, 4.25, 0.116406). */
export function formatScore(score: number): string {
  return String(Number(score.toFixed(6)));
}

/** Registers `cmesh score`: what the seeds' formula gives a machine, before proof-of-GPU. */
export function register(program: Command): void {
  program
    .command("score")
    .description(
      "print the score the seed formula gives N GPUs of a model (base × min(N, 8) × 50 / (8 × top base), ×2 when allocated)",
    )
    .option(
      "--gpu <name>",
      'GPU model as nvidia-smi prints it or as the seed table names it, e.g. "NVIDIA H200"',
    )
    .option("--count <n>", "number of GPUs (more than 8 count as 8)", parseCount, 1)
    .option("--allocated", "the machine is rented out (the allocation bonus doubles the score)", false)
    .option("--list", "list the supported GPU models with their base scores")
    .addHelpText(
      "after",
      `
The score assumes the GPUs pass proof-of-GPU; an unproven GPU scores 0.
Examples:
  cmesh score --gpu "NVIDIA H200" --count 8              # 50
  cmesh score --gpu "NVIDIA GeForce RTX 4090" --count 2 --allocated   # 4.25
  cmesh score --list`,
    )
    .action((opts) => {
      if (opts.list) {
        const lines = GPU_CATALOG.map(
          (m) =>
            `${m.baseScore.toFixed(2).padStart(5)}  ${m.name}${m.seedName && m.seedName !== m.name ? ` (seed: ${m.seedName})` : ""}`,
        );
        process.stdout.write(`${lines.join("\n")}\n`);
        return;
      }
      if (!opts.gpu) {
        program.error("error: cmesh score needs --gpu NAME (or --list)", { exitCode: 2 });
      }
      if (!findGpu(opts.gpu)) {
        throw new CmeshError("UNKNOWN_GPU", `unknown GPU model "${opts.gpu}"`, {
          hint: `use one of these names (case does not matter; "NVIDIA "/"GeForce " are optional):\n${GPU_CATALOG.map((m) => `    ${m.name}`).join("\n")}`,
        });
      }
      const score = gpuScore({ model: opts.gpu, count: opts.count, allocated: opts.allocated, proven: true });
      process.stdout.write(`${formatScore(score)}\n`);
      if (opts.count > MAX_SCORED_GPUS) {
        process.stderr.write(`note: only ${MAX_SCORED_GPUS} GPUs count; ${opts.count} were given\n`);
      }
    });
}
