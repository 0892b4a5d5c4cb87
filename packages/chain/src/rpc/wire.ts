import { z } from "zod";
import { hyperparamsSchema, hyperparamsToJson } from "../hyperparams.ts";
import type { Metagraph, SubnetHyperparams } from "../types.ts";

/** JSON-RPC method names of the local chain. */
export const RPC = {
  info: "chain_info",
  getBlock: "chain_getBlock",
  subscribeBlocks: "chain_subscribeBlocks",
  unsubscribeBlocks: "chain_unsubscribeBlocks",
  newBlock: "chain_newBlock",
  getMetagraph: "state_getMetagraph",
  getHyperparams: "state_getHyperparams",
  getBalance: "state_getBalance",
  getNonce: "state_getNonce",
  submit: "author_submit",
  devFaucet: "dev_faucet",
  devCreateSubnet: "dev_createSubnet",
  devAdvanceBlocks: "dev_advanceBlocks",
} as const;

const u64String = z.string().regex(/^\d+$/).transform(BigInt);

export const axonWire = z.object({
  ip: z.string(),
  port: z.number(),
  version: z.number(),
  protocol: z.number(),
});

export const neuronWire = z.object({
  uid: z.number().int(),
  hotkey: z.string(),
  coldkey: z.string(),
  stake: u64String,
  rank: z.number(),
  trust: z.number(),
  consensus: z.number(),
  incentive: z.number(),
  dividends: z.number(),
  validatorTrust: z.number(),
  emission: u64String,
  validatorPermit: z.boolean(),
  axon: axonWire.nullable(),
  lastUpdate: z.number().int(),
  registeredAt: z.number().int(),
  active: z.boolean(),
});

export const metagraphWire = z.object({
  netuid: z.number().int(),
  block: z.number().int(),
  neurons: z.array(neuronWire),
  weights: z.array(z.array(z.number().int())).optional(),
});

export const hyperparamsWire = hyperparamsSchema;

export const txOutcomeWire = z.object({
  block: z.number().int(),
  hash: z.string(),
  uid: z.number().int().optional(),
  netuid: z.number().int().optional(),
});

export const infoWire = z.object({
  chainId: z.string(),
  block: z.number().int(),
  netuids: z.array(z.number().int()),
});

/** bigint → decimal string, recursively, so values survive JSON. */
export function toWire(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  }
  return value;
}

export function metagraphToWire(m: Metagraph): unknown {
  return toWire(m);
}

export function hyperparamsToWire(p: SubnetHyperparams): unknown {
  return hyperparamsToJson(p);
}
