// The miner's configuration, validated once at the boundary (CLI flags or a caller's object).
import { join } from "node:path";
import { z } from "zod";

const TAO = 1_000_000_000n;

export const DEFAULT_RENTAL_IMAGE = "computemesh/rental-sshd:bookworm";

const hostPort = z.number().int().min(1).max(65535);

export const MinerConfigSchema = z
  .object({
    wallet: z.object({ name: z.string().min(1), hotkey: z.string().min(1), path: z.string().min(1) }),
    /** Chain endpoint, as `connectChain` understands it. */
    chain: z.string().min(1),
    netuid: z.number().int().min(0).max(65535),
    /** Network label allocation receipts must name ("local", "test", "finney", …). */
    network: z.string().min(1).max(64).default("local"),
    axon: z.object({
      port: z.number().int().min(0).max(65535),
      /** Interface the axon binds. */
      host: z.string().default("0.0.0.0"),
      /** IP announced on chain and told to renters; default the bound host (or 127.0.0.1 for 0.0.0.0). */
      externalIp: z.string().optional(),
    }),
    dataDir: z.string().min(1),
    /** Register the hotkey (burned registration, coldkey signs) when it is not registered yet. */
    register: z.boolean().default(true),
    /** Coldkey password for registration (unencrypted local coldkeys need none). */
    coldkeyPassword: z.string().optional(),
    ssh: z
      .object({
        /** Host address rentals' sshd is published on. */
        bindHost: z.string().default("127.0.0.1"),
        /** Address renters are told to use; default the axon's external IP when bindHost is 0.0.0.0, else bindHost. */
        advertisedHost: z.string().optional(),
        portRange: z.tuple([hostPort, hostPort]).default([40000, 40999]),
      })
      .default({ bindHost: "127.0.0.1", portRange: [40000, 40999] }),
    images: z
      .object({ default: z.string().default(DEFAULT_RENTAL_IMAGE), allowed: z.array(z.string()).default([]) })
      .default({ default: DEFAULT_RENTAL_IMAGE, allowed: [] }),
    pricing: z
      .object({ currency: z.string().default("USD"), perGpuHour: z.number().nonnegative().default(0) })
      .default({ currency: "USD", perGpuHour: 0 }),
    access: z
      .object({
        blacklistHotkeys: z.array(z.string()).default([]),
        blacklistColdkeys: z.array(z.string()).default([]),
        whitelistHotkeys: z.array(z.string()).default([]),
        whitelistColdkeys: z.array(z.string()).default([]),
        whitelistNotEnoughStake: z.boolean().default(false),
        whitelistNotUpdated: z.boolean().default(false),
        updatedThresholdPct: z.number().min(0).max(100).default(60),
        minValidatorStakeRao: z
          .bigint()
          .nonnegative()
          .default(1024n * TAO),
      })
      .default({
        blacklistHotkeys: [],
        blacklistColdkeys: [],
        whitelistHotkeys: [],
        whitelistColdkeys: [],
        whitelistNotEnoughStake: false,
        whitelistNotUpdated: false,
        updatedThresholdPct: 60,
        minValidatorStakeRao: 1024n * TAO,
      }),
    metrics: z
      .object({ host: z.string().default("127.0.0.1"), port: z.number().int().min(0).max(65535).default(0) })
      .default({ host: "127.0.0.1", port: 0 }),
    pidsLimit: z.number().int().positive().default(1024),
    reservedRamBytes: z
      .number()
      .int()
      .nonnegative()
      .default(512 * 1024 * 1024),
    metagraphRefreshMs: z.number().int().positive().default(12_000),
    expiryCheckMs: z.number().int().positive().default(5_000),
    nvidiaSmi: z.string().default("nvidia-smi"),
    dockerSocket: z.string().default("/var/run/docker.sock"),
    jobs: z.boolean().default(true),
    /** false: run without Docker; the machine is proven and scored but rents nothing and runs no jobs. */
    docker: z.boolean().default(true),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .transform((c) => ({
    ...c,
    images: { default: c.images.default, allowed: [...new Set([c.images.default, ...c.images.allowed])] },
    storePath: join(c.dataDir, "miner.sqlite"),
  }));

export type MinerConfigInput = z.input<typeof MinerConfigSchema>;
export type MinerConfig = z.output<typeof MinerConfigSchema>;
