export { ChainError } from "./errors.ts";
export { DEFAULT_HYPERPARAMS, hyperparamsSchema } from "./hyperparams.ts";
export { LocalChain, type LocalChainOptions } from "./local/chain.ts";
export { LocalChainClient, type LocalTransport } from "./local/client.ts";
export { LOCAL_EMISSION_PER_BLOCK, OWNER_CUT_U16, type TxOutcome } from "./local/state.ts";
export type * from "./types.ts";
export { maxUpscaleU16, normalizeWeights, U16_MAX, weightsCommitHash } from "./weights.ts";
export { type SparseRow, type YumaInput, type YumaOutput, type YumaParams, yumaEpoch } from "./yuma/epoch.ts";
export {
  simulateYuma,
  type YumaScenario,
  type YumaScenarioEpoch,
  yumaScenarioSchema,
} from "./yuma/scenario.ts";
export { connectChain } from "./connect.ts";
export { connectLocalChain, type RpcOptions, WsTransport } from "./rpc/client.ts";
export { type LocalChainServer, serveLocalChain } from "./rpc/server.ts";
export { RPC as LOCAL_CHAIN_RPC_METHODS } from "./rpc/wire.ts";
