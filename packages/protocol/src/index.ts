export * from "./axon.ts";
export * from "./crypto.ts";
export * from "./dendrite.ts";
export * from "./errors.ts";
export * from "./keyfile.ts";
export * from "./pystr.ts";
export * from "./receipts.ts";
export * from "./synapse.ts";
export * from "./synapses-compute.ts";
export * from "./synapses-jobs.ts";
export * from "./synapses-receipts.ts";
export * from "./verify.ts";
export * from "./wallet.ts";
export {
  emptyTerminal,
  PROTOCOL_VERSION,
  parseSynapseHeaders,
  type SynapseEnvelope,
  synapseHeaders,
  synapseToJson,
  type TerminalInfo,
  timeNs,
  uuid1,
} from "./wire.ts";
