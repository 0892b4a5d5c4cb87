// Wire definitions of proof-of-GPU. Everything is JSON with bounded fields; raw bytes travel as base64 with a
// declared length that must match exactly. Nothing from the miner is ever executed or unpickled.
import { defineSynapse } from "@computemesh/protocol";
import { z } from "zod";
import { MAX_PATH_LENGTH } from "./merkle.ts";
import { MAX_N } from "./workload.ts";

/** Most leaves a validator asks to open at once (s = 66 is the default; VRAM openings need 3 leaves per page). */
export const MAX_OPEN_INDICES = 256;
/** Largest leaf: a VRAM page of 1 MiB (a GEMM row is 4·n bytes). */
export const MAX_LEAF_BYTES = 1 << 20;

const hex = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `${bytes}-byte lower-case hex`);
const challengeId = hex(16);

export const GpuClaimSchema = z.object({
  model: z.string().min(1).max(128),
  count: z.number().int().min(1).max(64),
  uuids: z.array(z.string().min(1).max(128)).max(64),
});

export const OpenedLeafSchema = z.object({
  index: z.number().int().nonnegative(),
  byte_length: z.number().int().positive().max(MAX_LEAF_BYTES),
  data: z.base64().max(Math.ceil(MAX_LEAF_BYTES / 3) * 4),
  path: z.array(hex(32)).max(MAX_PATH_LENGTH),
});
export type OpenedLeafWire = z.infer<typeof OpenedLeafSchema>;

const backendKind = z.enum(["cpu", "cuda", "simulated-gpu"]);

/** Round-trip probe: the validator subtracts the smallest of a few from the challenge time. */
export const PogPing = defineSynapse({
  name: "PogPing",
  request: z.object({ nonce: hex(16) }),
  response: z.object({ nonce: hex(16) }),
  timeoutSec: 5,
  maxBodyBytes: 16 * 1024,
});

export const PogChallenge = defineSynapse({
  name: "PogChallenge",
  request: z.object({
    challenge_id: challengeId,
    seed: hex(32),
    n: z.number().int().min(16).max(MAX_N),
    m: z
      .number()
      .int()
      .min(1)
      .max(2 ** 24),
    claim: GpuClaimSchema,
  }),
  response: z.object({
    challenge_id: challengeId,
    root: hex(32),
    leaf_count: z.number().int().positive(),
    backend: backendKind,
    simulated: z.boolean(),
  }),
  timeoutSec: 120,
  maxBodyBytes: 64 * 1024,
});

export const PogOpen = defineSynapse({
  name: "PogOpen",
  request: z.object({
    challenge_id: challengeId,
    indices: z.array(z.number().int().nonnegative()).min(1).max(MAX_OPEN_INDICES),
  }),
  response: z.object({ challenge_id: challengeId, leaves: z.array(OpenedLeafSchema).max(MAX_OPEN_INDICES) }),
  timeoutSec: 30,
  maxBodyBytes: 48 * 1024 * 1024,
});

export const PogVramFill = defineSynapse({
  name: "PogVramFill",
  request: z.object({
    challenge_id: challengeId,
    seed: hex(32),
    chains: z
      .number()
      .int()
      .min(1)
      .max(1 << 20),
    pages_per_chain: z
      .number()
      .int()
      .min(2)
      .max(2 ** 31),
    page_bytes: z.number().int().min(64).max(MAX_LEAF_BYTES),
    claim: GpuClaimSchema,
  }),
  response: z.object({
    challenge_id: challengeId,
    root: hex(32),
    leaf_count: z.number().int().positive(),
    backend: backendKind,
    simulated: z.boolean(),
  }),
  timeoutSec: 120,
  maxBodyBytes: 64 * 1024,
});

export const PogVramOpen = defineSynapse({
  name: "PogVramOpen",
  request: z.object({
    challenge_id: challengeId,
    pages: z
      .array(z.number().int().nonnegative())
      .min(1)
      .max(MAX_OPEN_INDICES / 3),
  }),
  response: z.object({ challenge_id: challengeId, leaves: z.array(OpenedLeafSchema).max(MAX_OPEN_INDICES) }),
  timeoutSec: 30,
  maxBodyBytes: 96 * 1024 * 1024,
});

export const POG_SYNAPSES = [PogPing, PogChallenge, PogOpen, PogVramFill, PogVramOpen] as const;

/** Leaf → wire form. */
export function encodeLeaf(leaf: {
  index: number;
  data: Uint8Array;
  path: readonly Uint8Array[];
}): OpenedLeafWire {
  return {
    index: leaf.index,
    byte_length: leaf.data.byteLength,
    data: Buffer.from(leaf.data.buffer, leaf.data.byteOffset, leaf.data.byteLength).toString("base64"),
    path: leaf.path.map((p) => Buffer.from(p).toString("hex")),
  };
}

/** Wire form → leaf; null when the declared length and the decoded bytes disagree. */
export function decodeLeaf(wire: OpenedLeafWire): { index: number; data: Uint8Array; path: Buffer[] } | null {
  const data = Buffer.from(wire.data, "base64");
  if (data.byteLength !== wire.byte_length) return null;
  // copy into a fresh, aligned buffer so it can be viewed as int32/uint32
  const aligned = new Uint8Array(data.byteLength);
  aligned.set(data);
  return { index: wire.index, data: aligned, path: wire.path.map((p) => Buffer.from(p, "hex")) };
}
