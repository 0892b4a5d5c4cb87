// Validator configuration: plain options (validated with zod; the seeds' option names in comments) plus the
// live dependencies a caller hands in (chain client, hotkey, logger).
import type { ChainClient } from "@computemesh/chain";
import type { SimulationGrant } from "@computemesh/pog";
import type { Dendrite, KeyringPair } from "@computemesh/protocol";
import type { Logger } from "pino";
import { z } from "zod";

/** Version key sent with weights: major·10000 + minor·100 + patch of the validator (0.1.0 → 100). */
export const VALIDATOR_VERSION = "0.1.0";
export const VALIDATOR_VERSION_KEY = 100;

const KeyListsSchema = z
  .object({ hotkeys: z.array(z.string()).default([]), coldkeys: z.array(z.string()).default([]) })
  .prefault({});

export const ValidatorOptionsSchema = z.object({
  netuid: z.number().int().nonnegative().max(65535),
  /** Network label written into receipts ("local", "test", "finney"); receipts of other networks are refused. */
  network: z.string().min(1).max(64).default("local"),
  /** SQLite file path (default) or a postgres:// URL. */
  db: z.string().min(1).default(".cmesh/validator/validator.db"),
  /** PostgreSQL schema to use (default the connection's search_path). */
  pgSchema: z.string().optional(),
  /** Blocks per scoring epoch; default the subnet's weights rate limit (at least 1). */
  epochBlocks: z.number().int().positive().optional(),
  /** --validator.perform.hardware.query: query Specs every epoch (otherwise only once per new miner). */
  performHardwareQuery: z.boolean().default(true),
  /** --validator.specs.batch.size: Specs queries in flight at once. */
  specsBatchSize: z.number().int().positive().max(1024).default(64),
  specsTimeoutMs: z.number().int().positive().default(10_000),
  /** --validator.whitelist.unrecognized: keep miners running an unrecognized version. */
  whitelistUnrecognized: z.boolean().default(false),
  /** --validator.whitelist.updated.threshold: % of miners on a recognized version before the others are dropped. */
  whitelistUpdatedThreshold: z.number().min(0).max(100).default(60),
  /** Lowest miner version recognized. */
  minMinerVersion: z.string().default("0.1.0"),
  /** --blacklist.hotkeys / --blacklist.coldkeys */
  blacklist: KeyListsSchema,
  /** --whitelist.hotkeys / --whitelist.coldkeys */
  whitelist: KeyListsSchema,
  pog: z
    .object({
      /** Mean time between two proof-of-GPU rounds of one miner (NI: every 360 blocks ≈ 72 min). */
      meanIntervalSec: z.number().positive().default(4320),
      /** Rounds fall uniformly in mean × [1 − jitter, 1 + jitter]. */
      jitter: z.number().min(0).max(1).default(0.5),
      /** A new miner's first round falls uniformly in [0, this] (NI: max_random_delay = 900 s). */
      initialDelayMaxSec: z.number().min(0).default(900),
      /** Retry after an inconclusive round (miner unreachable or busy). */
      retryAfterSec: z.number().positive().default(60),
      /** Rounds in flight at once. */
      concurrency: z.number().int().positive().default(8),
      /** A passed proof counts for this long (not while the machine is rented: its last proof stands). */
      ttlSec: z
        .number()
        .positive()
        .default(3 * 4320),
      /** Workload override (small n for tests and benchmarks). */
      workload: z.object({ n: z.number().int().positive(), m: z.number().int().positive() }).optional(),
      samples: z.number().int().positive().optional(),
      /** false disables the VRAM challenge (tests and benchmarks only). */
      vram: z.boolean().default(true),
    })
    .prefault({}),
  health: z
    .object({
      /** Allocation health check interval (NI: 180 s). */
      intervalMs: z.number().int().positive().default(15_000),
      timeoutMs: z.number().int().positive().default(5_000),
      /** Consecutive failed checks before a rental is declared lost (NI: 20 × 180 s). */
      maxFailures: z.number().int().positive().default(3),
    })
    .prefault({}),
  weights: z
    .object({
      versionKey: z.number().int().nonnegative().default(VALIDATOR_VERSION_KEY),
      /** Failed transactions per epoch before the epoch's weights are marked failed (each logged). */
      maxAttempts: z.number().int().positive().default(5),
      /** Back-off before the retry of a failed transaction, doubled each time. */
      retryBaseMs: z.number().int().nonnegative().default(2_000),
    })
    .prefault({}),
  receipts: z
    .object({
      /** Trust receipts only from validators holding a validator permit (or this validator). */
      requireValidatorPermit: z.boolean().default(true),
    })
    .prefault({}),
  /** Window over which a machine's reliability (share of passed probes) is computed. */
  reliabilityWindowSec: z
    .number()
    .positive()
    .default(24 * 3600),
  /** Serve /metrics and /status on this port (0 = any free port); omitted = no HTTP server. */
  metricsPort: z.number().int().min(0).max(65535).optional(),
  metricsHost: z.string().default("127.0.0.1"),
});

export type ValidatorOptions = z.output<typeof ValidatorOptionsSchema>;
export type ValidatorOptionsInput = z.input<typeof ValidatorOptionsSchema>;

/** What `Validator.start` takes: the options plus live dependencies. */
export interface ValidatorConfig extends ValidatorOptionsInput {
  chain: ChainClient;
  /** The validator's hotkey (signs requests, weights and receipts). */
  hotkey: KeyringPair;
  logger?: Logger;
  /** Defaults to a Dendrite on the hotkey. */
  dendrite?: Dendrite;
  /** SIMULATED proof-of-GPU grant (local network only, see @computemesh/pog allowSimulatedPog). */
  pogSimulation?: SimulationGrant;
  /** Random floats in [0, 1) for the proof schedule; default a CSPRNG. */
  random?: () => number;
  /** Wall clock; default `() => new Date()`. */
  now?: () => Date;
  /** Drive epochs from chain blocks (default true). With false, call `runEpoch()` yourself (tests, benchmarks). */
  autoRun?: boolean;
  /** Attach the dockerized-jobs service (default true). */
  jobs?: boolean;
}
