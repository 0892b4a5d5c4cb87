import type { KeyringPair } from "@polkadot/keyring/types";

/** Where a neuron serves its axon. `ip` is dotted IPv4 (or IPv6 text); `protocol` 4 = TCP as in the SDK. */
export interface AxonInfo {
  ip: string;
  port: number;
  version: number;
  protocol: number;
}

/** One UID of a subnet, as a metagraph row. Proportions are floats 0..1 (stored on chain as u16 / 65535). */
export interface NeuronInfo {
  uid: number;
  hotkey: string;
  coldkey: string;
  /** rao, 1 TAO = 1e9 rao */
  stake: bigint;
  rank: number;
  trust: number;
  consensus: number;
  incentive: number;
  dividends: number;
  validatorTrust: number;
  /** rao emitted to this uid in the last epoch */
  emission: bigint;
  validatorPermit: boolean;
  axon: AxonInfo | null;
  lastUpdate: number;
  registeredAt: number;
  active: boolean;
}

export interface Metagraph {
  netuid: number;
  block: number;
  neurons: NeuronInfo[];
  /** optional: one row per uid of u16 weights (dense, length n) */
  weights?: number[][];
}

/**
 * The subnet hyperparameters that matter for ComputeMesh. Units follow the chain: `kappa` and `bondsPenalty` are
 * u16 (65535 = 1.0), `bondsMovingAverage` is parts per million, `liquidAlpha.low/high` are floats 0..1 and
 * `steepness` is the chain's AlphaSigmoidSteepness (k = steepness / 100). Block counts are blocks.
 */
export interface SubnetHyperparams {
  tempo: number;
  kappa: number;
  bondsMovingAverage: number;
  bondsPenalty: number;
  yuma3: boolean;
  liquidAlpha: { enabled: boolean; low: number; high: number; steepness: number };
  maxAllowedValidators: number;
  maxAllowedUids: number;
  immunityPeriod: number;
  weightsRateLimit: number;
  weightsVersionKey: number;
  activityCutoff: number;
  minStakeToSetWeights: bigint;
  commitRevealEnabled: boolean;
  commitRevealPeriod: number;
  burn: bigint;
}

export interface TxResult {
  block: number;
  hash: string;
}

/** What miners and validators use to talk to a chain (local or subtensor). */
export interface ChainClient {
  readonly endpoint: string;
  getBlock(): Promise<number>;
  /** Calls `onBlock` for every new block; resolves to an unsubscribe function. */
  subscribeBlocks(onBlock: (block: number) => void): Promise<() => void>;
  getMetagraph(netuid: number): Promise<Metagraph>;
  getHyperparams(netuid: number): Promise<SubnetHyperparams>;
  getBalance(coldkeyAddress: string): Promise<bigint>;
  burnedRegister(
    netuid: number,
    hotkeyAddress: string,
    coldkey: KeyringPair,
  ): Promise<TxResult & { uid: number }>;
  serveAxon(
    netuid: number,
    axon: { ip: string; port: number; version?: number; protocol?: number },
    hotkey: KeyringPair,
  ): Promise<TxResult>;
  addStake(netuid: number, hotkeyAddress: string, amountRao: bigint, coldkey: KeyringPair): Promise<TxResult>;
  /** `weights` are SDK floats (≥ 0); they are normalized to u16 with {@link normalizeWeights} before sending. */
  setWeights(
    netuid: number,
    uids: number[],
    weights: number[],
    versionKey: number,
    hotkey: KeyringPair,
  ): Promise<TxResult>;
  commitWeights(
    netuid: number,
    uids: number[],
    weights: number[],
    salt: number[],
    versionKey: number,
    hotkey: KeyringPair,
  ): Promise<TxResult>;
  revealWeights(
    netuid: number,
    uids: number[],
    weights: number[],
    salt: number[],
    versionKey: number,
    hotkey: KeyringPair,
  ): Promise<TxResult>;
  close(): Promise<void>;
}

/** Dev-only operations of a local chain, available in process (LocalChain) and over its RPC (LocalRpcClient). */
export interface LocalDevApi {
  /** Creates a subnet owned by `owner` (a signed `register_network` transaction); returns the netuid. */
  createSubnet(owner: KeyringPair, params?: Partial<SubnetHyperparams>): Promise<number>;
  /** Credits free balance to an address (no signature: dev chain only). */
  faucet(address: string, rao: bigint): Promise<void>;
  /** Produces `n` blocks now (epochs run as they fall due). */
  advanceBlocks(n: number): Promise<void>;
}
