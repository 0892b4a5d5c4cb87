import { z } from "zod";
import { JOB_STATES } from "./backend.ts";
import { WEBHOOK_EVENTS } from "./webhooks.ts";

// Every request schema is strict: an unknown field is a 400 naming it, never silently dropped.

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      hint: z.string().optional(),
      field: z.string().optional(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({ id: "Error" });

export const Machine = z
  .object({
    minerHotkey: z.string(),
    uid: z.number().int(),
    gpuModel: z.string().nullable().describe("proven GPU model; null when not proven"),
    claimedGpuModel: z.string().nullable(),
    gpuCount: z.number().int(),
    vramGiB: z.number(),
    measuredTops: z.number().nullable(),
    simulated: z.boolean(),
    pricePerGpuHour: z.number().describe("credits per GPU-hour"),
    reliability: z.number(),
    verified: z.boolean(),
    lastProofAt: z.string().nullable(),
    allocated: z.boolean(),
    runsContainers: z
      .boolean()
      .describe("the miner can start this machine's containers (Docker, with NVIDIA's runtime for GPUs)"),
    rentable: z.boolean().describe("can be rented now: proven, not rented, and runs containers"),
    score: z.number(),
    cpuCores: z.number(),
    ramGiB: z.number(),
    diskGiB: z.number(),
  })
  .meta({ id: "Machine" });

export const SearchResult = z.object({
  query: z.string().describe("the query as applied, defaults included"),
  total: z.number().int(),
  machines: z.array(Machine),
});

export const SearchQueryString = z.strictObject({
  q: z.string().max(4000).optional().describe("e.g. gpu=H100 count>=2 price<=2.5 sort=-reliability limit=10"),
  sort: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const Scalar = z.union([z.string(), z.number(), z.boolean()]);
export const JsonSearchBody = z.strictObject({
  where: z
    .record(z.string(), z.union([Scalar, z.record(z.string(), z.union([Scalar, z.array(Scalar)]))]))
    .optional()
    .describe('{"gpu":{"eq":"H100"},"count":{"gte":2},"verified":"any"}'),
  sort: z
    .union([z.string(), z.array(z.strictObject({ field: z.string(), direction: z.enum(["asc", "desc"]) }))])
    .optional(),
  limit: z.number().int().min(1).max(1000).optional(),
});

export const HotkeyParams = z.strictObject({ hotkey: z.string().min(1).max(128) });
export const IdParams = z.strictObject({ id: z.string().min(1).max(128) });

export const SshPublicKey = z
  .string()
  .max(16_384)
  .regex(
    /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/,
    "not an OpenSSH public key (expected e.g. 'ssh-ed25519 AAAA… you@host')",
  );

export const RentBody = z
  .strictObject({
    minerHotkey: z.string().min(1).max(128).optional(),
    query: z.string().max(4000).optional().describe("rent the best available match of this search query"),
    sshPublicKey: SshPublicKey,
    durationSec: z
      .number()
      .int()
      .min(60)
      .max(30 * 86400)
      .default(3600),
    image: z.string().min(1).max(512).optional(),
  })
  .refine((b) => (b.minerHotkey === undefined) !== (b.query === undefined), {
    message: "give exactly one of minerHotkey or query",
    path: ["minerHotkey"],
  });

export const Rental = z
  .object({
    id: z.string(),
    minerHotkey: z.string(),
    allocationId: z.string().nullable(),
    state: z.enum(["starting", "active", "released", "lost", "failed"]),
    gpuModel: z.string().nullable(),
    gpuCount: z.number().int(),
    pricePerGpuHour: z.number(),
    rateMicroPerHour: z.number().int(),
    ssh: z.object({ host: z.string(), port: z.number().int(), user: z.string() }).nullable(),
    sshCommand: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    expiresAt: z.string().nullable(),
    endedAt: z.string().nullable(),
    endReason: z.string().nullable(),
    meteredSeconds: z.number().int(),
    costMicro: z.number().int(),
    chargedMicro: z.number().int(),
  })
  .meta({ id: "Rental" });

export const RentalListQuery = z.strictObject({ state: z.enum(["live", "all"]).default("all") });
export const ReleaseBody = z.strictObject({ reason: z.string().max(200).optional() }).optional();

export const SshInfo = z.object({
  rentalId: z.string(),
  command: z.string(),
  host: z.string(),
  port: z.number().int(),
  user: z.string(),
});

export const AccountSignupBody = z.strictObject({
  name: z.string().min(1).max(100),
  initialCredits: z.number().min(0).max(1e9).optional().describe("admin only (local network bootstrap)"),
});
export const Account = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  balanceMicro: z.number().int(),
  balanceCredits: z.number(),
  lowBalance: z.boolean(),
  secondsLeft: z.number().int().nullable(),
});
export const NewKey = z.object({
  apiKey: z.string().describe("shown once; only its hash is stored"),
  keyId: z.string(),
  accountId: z.string(),
});
export const KeyInfo = z.object({
  id: z.string(),
  label: z.string(),
  prefix: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export const CreateKeyBody = z.strictObject({ label: z.string().min(1).max(100).default("key") });
export const DepositBody = z.strictObject({ credits: z.number().positive().max(1e9) });
export const LedgerEntry = z.object({
  id: z.string(),
  amountMicro: z.number().int(),
  kind: z.string(),
  rentalId: z.string().nullable(),
  memo: z.string(),
  createdAt: z.string(),
});
export const LedgerQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(200) });

export const JobInput = z.strictObject({
  path: z.string().min(1).max(512),
  contentBase64: z.string(),
});
export const JobSubmitBody = z.strictObject({
  image: z.string().min(1).max(512),
  command: z.array(z.string().max(65_536)).min(1).max(1024),
  env: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names are letters, digits and _"),
      z.string().max(65_536),
    )
    .optional(),
  inputs: z.array(JobInput).max(1024).optional(),
  outputPaths: z.array(z.string().min(1).max(512)).max(64).optional(),
  limits: z
    .strictObject({
      downloadSec: z.number().int().min(1).max(86_400).optional(),
      executionSec: z
        .number()
        .int()
        .min(1)
        .max(7 * 86_400)
        .optional(),
      uploadSec: z.number().int().min(1).max(86_400).optional(),
      memoryMiB: z.number().int().min(16).max(1_048_576).optional(),
      cpus: z.number().min(0.1).max(256).optional(),
    })
    .optional(),
  minerHotkey: z.string().min(1).max(128).optional(),
});
export const Job = z
  .object({
    jobId: z.string(),
    minerHotkey: z.string().nullable(),
    state: z.enum(JOB_STATES),
    exitCode: z.number().int().nullable().optional(),
    reason: z.string().optional(),
    createdAt: z.string(),
    startedAt: z.string().optional(),
    endedAt: z.string().optional(),
    stdoutBytes: z.number().int(),
    stderrBytes: z.number().int(),
    costMicro: z.number().int().nullable().describe("micro-credits charged once the job ended; null before"),
  })
  .meta({ id: "Job" });
export const JobLogsQuery = z.strictObject({
  stdoutOffset: z.coerce.number().int().min(0).default(0),
  stderrOffset: z.coerce.number().int().min(0).default(0),
  follow: z.enum(["0", "1", "true", "false"]).optional().describe("1 = stream as server-sent events"),
});
export const JobLogs = z.object({ stdout: z.string(), stderr: z.string(), done: z.boolean() });
export const JobOutputs = z.object({
  outputs: z.array(z.object({ path: z.string(), contentBase64: z.string() })),
});
export const JobReceipt = z.object({
  receipt: z
    .object({
      jobId: z.string(),
      payload: z.record(z.string(), z.unknown()),
      validatorSignature: z.string().optional(),
      minerSignature: z.string().optional(),
    })
    .nullable(),
});

export const WebhookBody = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2048),
  events: z
    .array(z.enum(WEBHOOK_EVENTS))
    .min(1)
    .default([...WEBHOOK_EVENTS]),
});
export const Webhook = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  createdAt: z.string(),
});
export const NewWebhook = Webhook.extend({
  secret: z.string().describe("shown once; verify deliveries with it"),
});

export const Neuron = z.object({
  uid: z.number().int(),
  hotkey: z.string(),
  coldkey: z.string().optional(),
  stake: z.number(),
  incentive: z.number(),
  dividends: z.number(),
  emission: z.number(),
  trust: z.number(),
  validatorPermit: z.boolean().optional(),
  isValidator: z.boolean().optional(),
});
export const Network = z.object({
  available: z.boolean().describe("false when the backend does not expose the metagraph"),
  netuid: z.number().int().optional(),
  block: z.number().int().optional(),
  epoch: z.number().int().optional(),
  neurons: z.array(Neuron),
  history: z
    .array(
      z.object({
        epoch: z.number(),
        block: z.number().optional(),
        totalScore: z.number(),
        meanScore: z.number(),
        neurons: z.number(),
      }),
    )
    .optional(),
  chain: z
    .array(
      z.object({
        epoch: z.number().int(),
        block: z.number().int(),
        neurons: z.array(
          z.object({
            uid: z.number().int(),
            hotkey: z.string(),
            stake: z.number(),
            incentive: z.number(),
            dividends: z.number(),
            emission: z.number(),
          }),
        ),
      }),
    )
    .optional()
    .describe("the chain's figures per neuron at each past epoch, oldest first"),
});
export const MachineDetail = z.object({
  machine: Machine,
  history: z.object({
    proofs: z.array(
      z.object({
        at: z.string(),
        passed: z.boolean(),
        model: z.string().nullable(),
        measuredTops: z.number().nullable(),
        reason: z.string().optional(),
      }),
    ),
    scores: z.array(
      z.object({
        at: z.string(),
        score: z.number(),
        reliability: z.number().optional(),
        online: z.boolean().optional(),
      }),
    ),
  }),
});
export const MinerView = z.object({
  hotkey: z.string(),
  neuron: Neuron.nullable(),
  machines: z.array(
    Machine.extend({
      breakdown: z.object({
        baseScore: z.number().describe("score without the allocation bonus"),
        gpuCount: z.number().int(),
        allocationBonus: z.number(),
        proofStatus: z.enum(["verified", "failed", "unproven"]),
      }),
    }),
  ),
});
