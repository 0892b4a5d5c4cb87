import type { KeyringPair } from "@polkadot/keyring/types";
import { chainError } from "../errors.ts";
import type { ChainClient, LocalDevApi, Metagraph, SubnetHyperparams, TxResult } from "../types.ts";
import { normalizeWeights, weightsCommitHash } from "../weights.ts";
import type { TxOutcome } from "./state.ts";
import { type Call, type SignedTx, signTx } from "./tx.ts";

/** How a local-chain client reaches the chain: in process, or over the JSON-RPC WebSocket. */
export interface LocalTransport {
  readonly endpoint: string;
  chainId(): Promise<string>;
  getBlock(): Promise<number>;
  subscribeBlocks(onBlock: (block: number) => void): Promise<() => void>;
  getMetagraph(netuid: number, withWeights: boolean): Promise<Metagraph>;
  getHyperparams(netuid: number): Promise<SubnetHyperparams>;
  getBalance(address: string): Promise<bigint>;
  getNonce(address: string): Promise<number>;
  submit(tx: SignedTx): Promise<TxOutcome>;
  faucet(address: string, rao: bigint): Promise<void>;
  advanceBlocks(n: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * ChainClient for the local chain. Every transaction is signed by the sender's key over the canonical payload
 * (chain id, signer, nonce, call); transactions of one signer are serialized so nonces stay in order.
 */
export class LocalChainClient implements ChainClient, LocalDevApi {
  private readonly queues = new Map<string, Promise<unknown>>();
  private chainIdCache?: string;

  constructor(private readonly transport: LocalTransport) {}

  get endpoint(): string {
    return this.transport.endpoint;
  }

  private async send(pair: KeyringPair, call: Call): Promise<TxOutcome> {
    const prev = this.queues.get(pair.address) ?? Promise.resolve();
    const run = prev.then(
      () => this.sendNow(pair, call),
      () => this.sendNow(pair, call),
    );
    const tail = run.catch(() => undefined);
    this.queues.set(pair.address, tail);
    try {
      return await run;
    } finally {
      if (this.queues.get(pair.address) === tail) this.queues.delete(pair.address);
    }
  }

  private async sendNow(pair: KeyringPair, call: Call): Promise<TxOutcome> {
    if (pair.isLocked)
      throw chainError("KeyLocked", `key ${pair.address} is locked; unlock the wallet first`);
    this.chainIdCache ??= await this.transport.chainId();
    const nonce = await this.transport.getNonce(pair.address);
    return this.transport.submit(signTx(pair, this.chainIdCache, nonce, call));
  }

  getBlock(): Promise<number> {
    return this.transport.getBlock();
  }
  subscribeBlocks(onBlock: (block: number) => void): Promise<() => void> {
    return this.transport.subscribeBlocks(onBlock);
  }
  /** `opts.weights` adds the dense u16 weight rows (skip for large subnets). */
  getMetagraph(netuid: number, opts: { weights?: boolean } = {}): Promise<Metagraph> {
    return this.transport.getMetagraph(netuid, opts.weights ?? false);
  }
  getHyperparams(netuid: number): Promise<SubnetHyperparams> {
    return this.transport.getHyperparams(netuid);
  }
  getBalance(coldkeyAddress: string): Promise<bigint> {
    return this.transport.getBalance(coldkeyAddress);
  }

  async burnedRegister(
    netuid: number,
    hotkeyAddress: string,
    coldkey: KeyringPair,
  ): Promise<TxResult & { uid: number }> {
    const r = await this.send(coldkey, { call: "burned_register", args: { netuid, hotkey: hotkeyAddress } });
    return { block: r.block, hash: r.hash, uid: r.uid ?? -1 };
  }

  async serveAxon(
    netuid: number,
    axon: { ip: string; port: number; version?: number; protocol?: number },
    hotkey: KeyringPair,
  ): Promise<TxResult> {
    const args = {
      netuid,
      ip: axon.ip,
      port: axon.port,
      version: axon.version ?? 0,
      protocol: axon.protocol ?? 4,
    };
    const r = await this.send(hotkey, { call: "serve_axon", args });
    return { block: r.block, hash: r.hash };
  }

  async addStake(
    netuid: number,
    hotkeyAddress: string,
    amountRao: bigint,
    coldkey: KeyringPair,
  ): Promise<TxResult> {
    const r = await this.send(coldkey, {
      call: "add_stake",
      args: { netuid, hotkey: hotkeyAddress, amount: amountRao.toString() },
    });
    return { block: r.block, hash: r.hash };
  }

  async setWeights(
    netuid: number,
    uids: number[],
    weights: number[],
    versionKey: number,
    hotkey: KeyringPair,
  ): Promise<TxResult> {
    const { uids: dests, values } = normalizeWeights(uids, weights);
    const r = await this.send(hotkey, {
      call: "set_weights",
      args: { netuid, dests, weights: values, versionKey },
    });
    return { block: r.block, hash: r.hash };
  }

  async commitWeights(
    netuid: number,
    uids: number[],
    weights: number[],
    salt: number[],
    versionKey: number,
    hotkey: KeyringPair,
  ): Promise<TxResult> {
    const { uids: u, values } = normalizeWeights(uids, weights);
    const commitHash = weightsCommitHash(hotkey.address, netuid, u, values, salt, versionKey);
    const r = await this.send(hotkey, { call: "commit_weights", args: { netuid, commitHash } });
    return { block: r.block, hash: r.hash };
  }

  async revealWeights(
    netuid: number,
    uids: number[],
    weights: number[],
    salt: number[],
    versionKey: number,
    hotkey: KeyringPair,
  ): Promise<TxResult> {
    const { uids: u, values } = normalizeWeights(uids, weights);
    const r = await this.send(hotkey, {
      call: "reveal_weights",
      args: { netuid, uids: u, values, salt, versionKey },
    });
    return { block: r.block, hash: r.hash };
  }

  async createSubnet(owner: KeyringPair, params: Partial<SubnetHyperparams> = {}): Promise<number> {
    const wire: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(params)) wire[k] = typeof v === "bigint" ? v.toString() : v;
    const r = await this.send(owner, { call: "register_network", args: { params: wire } });
    return r.netuid ?? -1;
  }

  faucet(address: string, rao: bigint): Promise<void> {
    return this.transport.faucet(address, rao);
  }

  advanceBlocks(n: number): Promise<void> {
    return this.transport.advanceBlocks(n);
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
