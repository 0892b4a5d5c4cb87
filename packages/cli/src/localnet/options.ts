// `cmesh localnet` options, validated once; and the port plan derived from the base port.
import { CmeshError } from "@computemesh/core";
import { z } from "zod";

export const DEFAULT_BASE_PORT = 9944;
export const MAX_NODES_PER_ROLE = 9;

export const LocalnetOptionsSchema = z.object({
  dir: z.string().min(1).default(".cmesh"),
  reset: z.boolean().default(false),
  basePort: z
    .number()
    .int()
    .min(1024)
    .max(65535 - 2000)
    .default(DEFAULT_BASE_PORT),
  /** Block interval of the local chain. */
  blockTimeMs: z.number().int().min(50).max(60_000).default(1000),
  /** Blocks per Yuma epoch (used when the subnet is created; kept on restart). */
  tempo: z.number().int().min(2).max(10_000).default(20),
  miners: z.number().int().min(0).max(MAX_NODES_PER_ROLE).default(3),
  validators: z.number().int().min(1).max(MAX_NODES_PER_ROLE).default(2),
  /** Mean seconds between two proof-of-GPU rounds of one miner. */
  pogIntervalSec: z.number().positive().default(120),
  /** The machine each miner claims: a catalog GPU name (SIMULATED here) or "cpu"; cycled over the miners. */
  gpus: z.array(z.string().min(1)).default(["cpu", "RTX 4090", "H100 SXM"]),
});

export type LocalnetOptions = z.output<typeof LocalnetOptionsSchema>;
export type LocalnetOptionsInput = z.input<typeof LocalnetOptionsSchema>;

export function parseLocalnetOptions(input: LocalnetOptionsInput): LocalnetOptions {
  const r = LocalnetOptionsSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new CmeshError("INVALID_ARGUMENT", `${issue?.path.join(".") || "option"}: ${issue?.message}`, {
      hint: "run `cmesh localnet --help`",
    });
  }
  return r.data;
}

/** Every TCP port the network listens on, all on 127.0.0.1, derived from one base port. */
export interface PortPlan {
  chain: number;
  api: number;
  validatorAxon(i: number): number;
  minerAxon(i: number): number;
  minerMetrics(i: number): number;
  /** Host ports the i-th miner may publish rentals' SSH on. */
  minerSsh(i: number): [number, number];
  /** Every fixed port (the SSH ranges are only used when a machine is rented). */
  all(validators: number, miners: number): { port: number; what: string }[];
}

export function portPlan(base: number): PortPlan {
  const plan: PortPlan = {
    chain: base,
    api: base + 1,
    validatorAxon: (i) => base + 10 + i,
    minerAxon: (i) => base + 20 + i,
    minerMetrics: (i) => base + 30 + i,
    minerSsh: (i) => [base + 100 + i * 100, base + 199 + i * 100],
    all: (validators, miners) => {
      const out = [
        { port: plan.chain, what: "chain" },
        { port: plan.api, what: "API and web UI" },
      ];
      for (let i = 0; i < validators; i++)
        out.push({ port: plan.validatorAxon(i), what: `validator-${i + 1}` });
      for (let i = 0; i < miners; i++) {
        out.push({ port: plan.minerAxon(i), what: `miner-${i + 1} axon` });
        out.push({ port: plan.minerMetrics(i), what: `miner-${i + 1} metrics` });
      }
      return out;
    },
  };
  return plan;
}
