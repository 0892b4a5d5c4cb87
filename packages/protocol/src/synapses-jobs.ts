import { createHash } from "node:crypto";
import { z } from "zod";
import { signText, verifySignature } from "./crypto.ts";
import { receiptCanonicalJson as canonicalJson } from "./receipts.ts";
import { defineSynapse } from "./synapse.ts";
import type { KeyringPair } from "@polkadot/keyring/types";

/**
 * Synapses of dockerized jobs (ComputeHorde-style): the validator submits a job to a miner, polls its status,
 * reads its logs in bounded chunks, downloads its outputs, may cancel it, and finally exchanges a receipt that the
 * validator signs and the miner countersigns.
 *
 * Object-valued request fields (the job spec, the receipt payload) are not hashed directly: the request carries
 * their SHA-256 over canonical JSON (`specSha256`, `payloadSha256`), that digest is a hashed field (so the
 * dendrite's signature covers it), and the receiver recomputes it. That keeps the Bittensor body hash to plain
 * strings while the signature still covers the whole request.
 */

/** Every bound of the job protocol, shared by miner and validator so both sides agree on caps. */
export const JOB_LIMITS = Object.freeze({
  maxInputFiles: 64,
  /** Sum of the decoded input files, bytes. */
  maxInputBytes: 8 * 1024 * 1024,
  maxOutputPaths: 32,
  /** Sum of the collected output files, bytes (files past this are reported as skipped). */
  maxOutputBytes: 8 * 1024 * 1024,
  /** Bytes of stdout and of stderr the miner keeps per job (the first bytes; the rest is counted, not kept). */
  maxLogBytes: 1024 * 1024,
  /** Largest log chunk one JobLogs call returns, per stream. */
  maxLogChunkBytes: 256 * 1024,
  maxCommandArgs: 256,
  maxArgChars: 4096,
  maxEnvVars: 128,
  maxEnvValueChars: 4096,
  maxPathChars: 255,
  maxReasonChars: 1000,
});

export const JOB_DEFAULT_LIMITS = Object.freeze({
  downloadSec: 60,
  executionSec: 600,
  uploadSec: 60,
  memoryMiB: 512,
  cpus: 1,
});

const JOB_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/;
/** A job id: 8–64 characters of letters, digits, `-` and `_` (a UUID fits). */
export const JobIdSchema = z.string().regex(JOB_ID_RE, "job id must be 8-64 letters, digits, '-' or '_'");

const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;
/** A relative POSIX path inside the job's input or output directory: no `..`, no absolute paths, no empties. */
export const JobRelativePathSchema = z
  .string()
  .min(1)
  .max(JOB_LIMITS.maxPathChars)
  .refine(
    (p) => p.split("/").every((seg) => SEGMENT_RE.test(seg) && seg !== "." && seg !== ".."),
    "path must be relative, made of segments of letters, digits, '.', '_' or '-', without '.' or '..' segments",
  );

// Docker image reference: [registry[:port]/]name[:tag][@sha256:digest]; a registry has a dot or a port (or is
// localhost), name components are lower case.
const IMAGE_RE =
  /^(?:(?:localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+)(?::[0-9]+)?\/|[a-zA-Z0-9-]+:[0-9]+\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
export const JobImageSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(IMAGE_RE, "image must be a Docker image reference");

/** Padded standard base64 (checked without a backtracking regex: inputs can be megabytes). */
function isPaddedBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}
/** Decoded byte length of a (valid, padded) base64 string, without decoding it. */
export function base64DecodedLength(b64: string): number {
  const pad = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  return (b64.length / 4) * 3 - pad;
}
const maxBase64Chars = Math.ceil(JOB_LIMITS.maxInputBytes / 3) * 4;

export const JobInputFileSchema = z.object({
  path: JobRelativePathSchema,
  contentBase64: z
    .string()
    .max(maxBase64Chars, "input file is larger than the input size cap")
    .refine(isPaddedBase64, "contentBase64 must be padded base64"),
});

export const JobLimitsSchema = z.object({
  downloadSec: z.number().int().min(1).max(3600).optional(),
  executionSec: z.number().int().min(1).max(86_400).optional(),
  uploadSec: z.number().int().min(1).max(3600).optional(),
  memoryMiB: z
    .number()
    .int()
    .min(16)
    .max(1024 * 1024)
    .optional(),
  cpus: z.number().min(0.01).max(1024).optional(),
});

/** What a renter asks to run. Matches `JobSpec` of the market contract. */
export const JobSpecSchema = z
  .object({
    image: JobImageSchema,
    command: z.array(z.string().max(JOB_LIMITS.maxArgChars)).min(1).max(JOB_LIMITS.maxCommandArgs),
    env: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "env names must be shell identifiers"),
        z.string().max(JOB_LIMITS.maxEnvValueChars),
      )
      .refine(
        (env) => Object.keys(env).length <= JOB_LIMITS.maxEnvVars,
        `at most ${JOB_LIMITS.maxEnvVars} env vars`,
      )
      .optional(),
    inputs: z.array(JobInputFileSchema).max(JOB_LIMITS.maxInputFiles).optional(),
    outputPaths: z.array(JobRelativePathSchema).max(JOB_LIMITS.maxOutputPaths).optional(),
    limits: JobLimitsSchema.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const inputs = spec.inputs ?? [];
    let total = 0;
    const seen = new Set<string>();
    inputs.forEach((f, i) => {
      total += base64DecodedLength(f.contentBase64);
      if (seen.has(f.path))
        ctx.addIssue({
          code: "custom",
          path: ["inputs", i, "path"],
          message: `duplicate input path ${f.path}`,
        });
      seen.add(f.path);
    });
    if (total > JOB_LIMITS.maxInputBytes) {
      ctx.addIssue({
        code: "custom",
        path: ["inputs"],
        message: `inputs total ${total} bytes, over the cap of ${JOB_LIMITS.maxInputBytes} bytes`,
      });
    }
  });
export type JobSpec = z.infer<typeof JobSpecSchema>;

export const JOB_STATES = [
  "queued",
  "accepted",
  "running",
  "completed",
  "failed",
  "timed_out",
  "cancelled",
] as const;
export const JobStateSchema = z.enum(JOB_STATES);
export type JobState = z.infer<typeof JobStateSchema>;
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set([
  "completed",
  "failed",
  "timed_out",
  "cancelled",
]);
export function isTerminalJobState(state: JobState): boolean {
  return TERMINAL_JOB_STATES.has(state);
}

/** A job as the miner reports it. */
export const MinerJobStatusSchema = z.object({
  jobId: JobIdSchema,
  state: JobStateSchema,
  exitCode: z.number().int().nullable(),
  reason: z.string().max(JOB_LIMITS.maxReasonChars).nullable(),
  createdAt: z.string().max(40),
  startedAt: z.string().max(40).nullable(),
  endedAt: z.string().max(40).nullable(),
  stdoutBytes: z.number().int().min(0),
  stderrBytes: z.number().int().min(0),
  /** The job wrote more than `JOB_LIMITS.maxLogBytes` to the stream; only the first bytes were kept. */
  stdoutTruncated: z.boolean(),
  stderrTruncated: z.boolean(),
});
export type MinerJobStatus = z.infer<typeof MinerJobStatusSchema>;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The digest a JobSubmit request carries for its spec. */
export function jobSpecDigest(spec: JobSpec): string {
  // A JSON round trip drops keys whose value is undefined (canonical JSON refuses them).
  return sha256Hex(canonicalJson(JSON.parse(JSON.stringify(spec))));
}

const Sha256HexSchema = z.string().regex(/^[a-f0-9]{64}$/, "must be a lower-case hex SHA-256");

// Max body of JobSubmit: the base64 inputs plus room for the rest of the spec and the synapse envelope.
const SUBMIT_MAX_BODY = maxBase64Chars + JOB_LIMITS.maxInputFiles * 512 + 2 * 1024 * 1024;

export const JobSubmit = defineSynapse({
  name: "JobSubmit",
  request: z.object({ jobId: JobIdSchema, spec: JobSpecSchema, specSha256: Sha256HexSchema }),
  response: z.object({ job: MinerJobStatusSchema }),
  hashFields: ["jobId", "specSha256"],
  timeoutSec: 30,
  maxBodyBytes: SUBMIT_MAX_BODY,
});

export const JobStatus = defineSynapse({
  name: "JobStatus",
  request: z.object({ jobId: JobIdSchema }),
  response: z.object({ status: MinerJobStatusSchema }),
  timeoutSec: 10,
  maxBodyBytes: 64 * 1024,
});

export const JobLogs = defineSynapse({
  name: "JobLogs",
  request: z.object({
    jobId: JobIdSchema,
    stdoutOffset: z.number().int().min(0).max(JOB_LIMITS.maxLogBytes),
    stderrOffset: z.number().int().min(0).max(JOB_LIMITS.maxLogBytes),
    maxBytes: z.number().int().min(1).max(JOB_LIMITS.maxLogChunkBytes),
  }),
  response: z.object({
    /** Base64 of the bytes from the requested offset (ends on a UTF-8 character boundary when it can). */
    stdoutChunk: z.string().max(Math.ceil(JOB_LIMITS.maxLogChunkBytes / 3) * 4),
    stderrChunk: z.string().max(Math.ceil(JOB_LIMITS.maxLogChunkBytes / 3) * 4),
    nextStdoutOffset: z.number().int().min(0),
    nextStderrOffset: z.number().int().min(0),
    /** The job is finished and both offsets reached the end of what was kept. */
    logsDone: z.boolean(),
  }),
  timeoutSec: 15,
  maxBodyBytes: 2 * JOB_LIMITS.maxLogChunkBytes + 512 * 1024,
});

export const JobOutputFileSchema = z.object({
  path: JobRelativePathSchema,
  contentBase64: z.string().refine(isPaddedBase64, "contentBase64 must be padded base64"),
});
export type JobOutputFile = z.infer<typeof JobOutputFileSchema>;

export const JobOutputs = defineSynapse({
  name: "JobOutputs",
  request: z.object({ jobId: JobIdSchema }),
  response: z.object({
    files: z.array(JobOutputFileSchema).max(JOB_LIMITS.maxOutputPaths * 64),
    /** Output paths that were absent, not regular files, or over the size cap, with the reason. */
    skipped: z
      .array(z.object({ path: z.string().max(JOB_LIMITS.maxPathChars * 2), reason: z.string().max(200) }))
      .max(4096),
  }),
  timeoutSec: 60,
  maxBodyBytes: Math.ceil(JOB_LIMITS.maxOutputBytes / 3) * 4 + 2 * 1024 * 1024,
});

export const JobCancel = defineSynapse({
  name: "JobCancel",
  request: z.object({ jobId: JobIdSchema, cancelReason: z.string().max(JOB_LIMITS.maxReasonChars) }),
  response: z.object({ cancelled: MinerJobStatusSchema }),
  timeoutSec: 15,
  maxBodyBytes: 64 * 1024,
});

/**
 * What a job receipt attests: who ran which job for whom, how it ended, and digests of the logs and outputs the
 * validator received. Signed by the validator over `jobReceiptValidatorMessage(payload)`, countersigned by the miner after it
 * checked every field against its own record.
 */
export const JobReceiptPayloadSchema = z
  .object({
    kind: z.literal("computemesh.job-finished.v1"),
    jobId: JobIdSchema,
    minerHotkey: z.string().min(1).max(64),
    validatorHotkey: z.string().min(1).max(64),
    state: JobStateSchema,
    exitCode: z.number().int().nullable(),
    startedAt: z.string().max(40).nullable(),
    endedAt: z.string().max(40).nullable(),
    stdoutSha256: Sha256HexSchema,
    stderrSha256: Sha256HexSchema,
    outputsSha256: Sha256HexSchema,
    issuedAt: z.string().max(40),
  })
  .strict();
export type JobReceiptPayload = z.infer<typeof JobReceiptPayloadSchema>;

/** SHA-256 (hex) of the canonical payload: the receipt's id and the `payloadSha256` of the JobReceipt request. */
export function jobReceiptId(payload: JobReceiptPayload): string {
  return sha256Hex(canonicalJson(payload));
}

/** What the validator signs (domain-separated from allocation receipts and synapse requests). */
export function jobReceiptValidatorMessage(payload: JobReceiptPayload): string {
  return `cmesh-job-receipt/v1/validator\n${canonicalJson(payload)}`;
}

/** What the miner countersigns: the receipt id and the validator's signature. */
export function jobReceiptMinerMessage(payload: JobReceiptPayload, validatorSignature: string): string {
  return `cmesh-job-receipt/v1/miner\n${jobReceiptId(payload)}\n${validatorSignature.toLowerCase()}`;
}

export function signJobReceipt(payload: JobReceiptPayload, validator: KeyringPair): string {
  if (payload.validatorHotkey !== validator.address) {
    throw new TypeError("the job receipt names another validator hotkey than the signing key");
  }
  return signText(validator, jobReceiptValidatorMessage(payload));
}

export function countersignJobReceipt(
  payload: JobReceiptPayload,
  validatorSignature: string,
  miner: KeyringPair,
): string {
  if (payload.minerHotkey !== miner.address) {
    throw new TypeError("the job receipt names another miner hotkey than the signing key");
  }
  return signText(miner, jobReceiptMinerMessage(payload, validatorSignature));
}

/** Verifies both signatures of a job receipt (needs `await cryptoReady()`); never throws. */
export function verifyJobReceipt(receipt: SignedJobReceipt): { ok: true } | { ok: false; message: string } {
  const parsed = JobReceiptPayloadSchema.safeParse(receipt.payload);
  if (!parsed.success) return { ok: false, message: parsed.error.issues[0]?.message ?? "malformed payload" };
  const p = parsed.data;
  if (!verifySignature(jobReceiptValidatorMessage(p), receipt.validatorSignature, p.validatorHotkey)) {
    return { ok: false, message: "validator signature does not verify" };
  }
  if (
    !verifySignature(
      jobReceiptMinerMessage(p, receipt.validatorSignature),
      receipt.minerSignature,
      p.minerHotkey,
    )
  ) {
    return { ok: false, message: "miner countersignature does not verify" };
  }
  return { ok: true };
}

/** Digest of a set of output files, order-independent: sha256 over sorted `path\0sha256(content)\n` lines. */
export function jobOutputsDigest(files: { path: string; contentBase64: string }[]): string {
  const lines = files
    .map((f) => `${f.path}\u0000${sha256Hex(Buffer.from(f.contentBase64, "base64"))}\n`)
    .sort();
  return sha256Hex(lines.join(""));
}

const SignatureHexSchema = z.string().regex(/^0x[a-f0-9]{128}$/, "signature must be 0x + 64 bytes hex");

export const JobReceipt = defineSynapse({
  name: "JobReceipt",
  request: z.object({
    payload: JobReceiptPayloadSchema,
    payloadSha256: Sha256HexSchema,
    validatorSignature: SignatureHexSchema,
  }),
  response: z.object({ minerSignature: SignatureHexSchema }),
  hashFields: ["payloadSha256", "validatorSignature"],
  timeoutSec: 10,
  maxBodyBytes: 64 * 1024,
});

/** A receipt signed by both parties. */
export interface SignedJobReceipt {
  payload: JobReceiptPayload;
  validatorSignature: string;
  minerSignature: string;
}

export const JOB_SYNAPSES = [JobSubmit, JobStatus, JobLogs, JobOutputs, JobCancel, JobReceipt] as const;
