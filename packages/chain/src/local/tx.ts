import type { KeyringPair } from "@polkadot/keyring/types";
import { stringToU8a, u8aToHex } from "@polkadot/util";
import { blake2AsHex, decodeAddress, signatureVerify } from "@polkadot/util-crypto";
import { z } from "zod";
import { chainError } from "../errors.ts";

/** Calls the local chain understands, named like subtensor's extrinsics. Amounts are decimal strings (rao). */
export const callSchema = z.discriminatedUnion("call", [
  z.object({
    call: z.literal("register_network"),
    args: z.object({ params: z.record(z.string(), z.unknown()) }).strict(),
  }),
  z.object({
    call: z.literal("burned_register"),
    args: z.object({ netuid: z.number().int().min(0).max(65535), hotkey: z.string().min(1) }).strict(),
  }),
  z.object({
    call: z.literal("serve_axon"),
    args: z
      .object({
        netuid: z.number().int().min(0).max(65535),
        version: z.number().int().min(0).max(0xffffffff),
        ip: z.string().min(1).max(64),
        port: z.number().int().min(0).max(65535),
        protocol: z.number().int().min(0).max(255),
      })
      .strict(),
  }),
  z.object({
    call: z.literal("add_stake"),
    args: z
      .object({
        netuid: z.number().int().min(0).max(65535),
        hotkey: z.string().min(1),
        amount: z.string().regex(/^\d+$/),
      })
      .strict(),
  }),
  z.object({
    call: z.literal("set_weights"),
    args: z
      .object({
        netuid: z.number().int().min(0).max(65535),
        dests: z.array(z.number().int().min(0).max(65535)).max(65535),
        weights: z.array(z.number().int().min(0).max(65535)).max(65535),
        versionKey: z.number().int().min(0),
      })
      .strict(),
  }),
  z.object({
    call: z.literal("commit_weights"),
    args: z
      .object({
        netuid: z.number().int().min(0).max(65535),
        commitHash: z.string().regex(/^0x[0-9a-f]{64}$/),
      })
      .strict(),
  }),
  z.object({
    call: z.literal("reveal_weights"),
    args: z
      .object({
        netuid: z.number().int().min(0).max(65535),
        uids: z.array(z.number().int().min(0).max(65535)).max(65535),
        values: z.array(z.number().int().min(0).max(65535)).max(65535),
        salt: z.array(z.number().int().min(0).max(65535)).max(65535),
        versionKey: z.number().int().min(0),
      })
      .strict(),
  }),
]);

export type Call = z.infer<typeof callSchema>;

export const signedTxSchema = z
  .object({
    chainId: z.string().regex(/^0x[0-9a-f]{64}$/),
    signer: z.string().min(1).max(64),
    nonce: z.number().int().min(0),
    call: z.string(),
    args: z.unknown(),
    signature: z.string().regex(/^0x[0-9a-f]{128}$/),
  })
  .strict();

export type SignedTx = z.infer<typeof signedTxSchema>;

/** Deterministic JSON: object keys sorted, no whitespace. Values are plain JSON (no bigints). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

const DOMAIN = "computemesh-localchain-tx:";

/** The bytes a sender signs: a domain tag, then the canonical JSON of chain id, signer, nonce, call and args. */
export function signingPayload(tx: Omit<SignedTx, "signature">): Uint8Array {
  return stringToU8a(
    DOMAIN +
      canonicalJson({
        chainId: tx.chainId,
        signer: tx.signer,
        nonce: tx.nonce,
        call: tx.call,
        args: tx.args,
      }),
  );
}

export function signTx(pair: KeyringPair, chainId: string, nonce: number, call: Call): SignedTx {
  const unsigned = { chainId, signer: pair.address, nonce, call: call.call, args: call.args };
  return { ...unsigned, signature: u8aToHex(pair.sign(signingPayload(unsigned))) };
}

export function txHash(tx: SignedTx): string {
  return blake2AsHex(canonicalJson(tx), 256);
}

/**
 * Checks shape, chain id and signature; returns the parsed call. Nonce is checked by the state machine.
 * Errors: `BadTransaction` (malformed), `WrongChain`, `BadSignature`.
 */
export function verifyTx(raw: unknown, chainId: string): { tx: SignedTx; call: Call } {
  const parsed = signedTxSchema.safeParse(raw);
  if (!parsed.success)
    throw chainError("BadTransaction", `malformed transaction: ${z.prettifyError(parsed.error)}`);
  const tx = parsed.data;
  if (tx.chainId !== chainId)
    throw chainError("WrongChain", `transaction is for chain ${tx.chainId}, this is ${chainId}`);
  try {
    decodeAddress(tx.signer);
  } catch {
    throw chainError("BadTransaction", `signer ${tx.signer} is not an SS58 address`);
  }
  const { signature, ...unsigned } = tx;
  const ok = signatureVerify(signingPayload(unsigned), signature, tx.signer).isValid;
  if (!ok) throw chainError("BadSignature", `signature does not match signer ${tx.signer}`);
  const call = callSchema.safeParse({ call: tx.call, args: tx.args });
  if (!call.success)
    throw chainError("BadTransaction", `malformed call ${tx.call}: ${z.prettifyError(call.error)}`);
  return { tx, call: call.data };
}
