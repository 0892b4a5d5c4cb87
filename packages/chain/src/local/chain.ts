import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { CmeshError } from "@computemesh/core";
import type { KeyringPair } from "@polkadot/keyring/types";
import type Database from "better-sqlite3";
import type { ChainClient, LocalDevApi, Metagraph, SubnetHyperparams } from "../types.ts";
import { LocalChainClient, type LocalTransport } from "./client.ts";
import { ChainState, type TxOutcome } from "./state.ts";
import { openChainDb } from "./store.ts";
import type { SignedTx } from "./tx.ts";

export interface LocalChainOptions {
  /** SQLite file holding the chain state */
  dbPath: string;
  /** block interval; default 12000 (Bittensor's 12 s); 0 = blocks only through advanceBlocks() */
  blockTimeMs?: number;
  /** create the state file when it is missing (never replaces a corrupt one) */
  create?: boolean;
}

/**
 * The embedded chain: subtensor's subnet logic (registration, stake, axons, weights, commit/reveal, Yuma epochs,
 * emission) over SQLite, producing blocks deterministically one at a time. Use {@link client} in process or
 * serve it with `serveLocalChain` for other processes.
 */
export class LocalChain implements LocalDevApi {
  private readonly listeners = new Set<(block: number) => void>();
  private timer?: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly state: ChainState,
    readonly dbPath: string,
    readonly blockTimeMs: number,
  ) {}

  static async open(opts: LocalChainOptions): Promise<LocalChain> {
    const blockTimeMs = opts.blockTimeMs ?? 12_000;
    if (!Number.isFinite(blockTimeMs) || blockTimeMs < 0) {
      throw new CmeshError("INVALID_ARGUMENT", `block time must be ≥ 0 ms, got ${blockTimeMs}`);
    }
    if (opts.create) mkdirSync(dirname(opts.dbPath), { recursive: true });
    const { db, chainId } = openChainDb(opts.dbPath, opts.create ?? false);
    const chain = new LocalChain(new ChainState(db, chainId), opts.dbPath, blockTimeMs);
    if (blockTimeMs > 0) {
      chain.timer = setInterval(() => chain.produce(1), blockTimeMs);
      chain.timer.unref();
    }
    return chain;
  }

  /** Identifies this chain (random at creation, like a genesis hash); transactions are signed for it. */
  get chainId(): string {
    return this.state.chainId;
  }

  /** Raw database handle, for tests that damage state on purpose. */
  get database(): Database.Database {
    return this.state.db;
  }

  private live(): ChainState {
    if (this.closed) throw new CmeshError("CHAIN_CLOSED", "the local chain has been closed");
    return this.state;
  }

  block(): number {
    return this.live().block();
  }

  /** Listens to new blocks; returns the function that stops listening. */
  onBlock(listener: (block: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private produce(n: number): void {
    for (let i = 0; i < n; i++) {
      const block = this.live().produceBlock();
      for (const l of this.listeners) {
        try {
          l(block);
        } catch {
          // a failing subscriber must not stop block production
        }
      }
    }
  }

  async advanceBlocks(n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 0 || n > 100_000) {
      throw new CmeshError("INVALID_ARGUMENT", `advanceBlocks takes an integer 0..100000, got ${n}`);
    }
    this.produce(n);
  }

  async faucet(address: string, rao: bigint): Promise<void> {
    this.live().faucet(address, rao);
  }

  nonce(address: string): number {
    return this.live().nonce(address);
  }

  submit(tx: SignedTx | unknown): TxOutcome {
    return this.live().submit(tx);
  }

  metagraph(netuid: number, withWeights = false): Metagraph {
    return this.live().metagraph(netuid, withWeights);
  }

  hyperparams(netuid: number): SubnetHyperparams {
    return this.live().hyperparams(netuid);
  }

  balance(address: string): bigint {
    return this.live().balance(address);
  }

  netuids(): number[] {
    return this.live().netuids();
  }

  /** In-process ChainClient: transactions are still signed by the sender and verified by the chain. */
  client(): LocalChainClient & ChainClient {
    return new LocalChainClient(this.transport());
  }

  /** The in-process transport behind {@link client}; also what the RPC server calls. */
  transport(): LocalTransport {
    return {
      endpoint: `local:${this.dbPath}`,
      chainId: async () => this.chainId,
      getBlock: async () => this.block(),
      subscribeBlocks: async (onBlock) => this.onBlock(onBlock),
      getMetagraph: async (netuid, withWeights) => this.metagraph(netuid, withWeights),
      getHyperparams: async (netuid) => this.hyperparams(netuid),
      getBalance: async (address) => this.balance(address),
      getNonce: async (address) => this.nonce(address),
      submit: async (tx) => this.submit(tx),
      faucet: (address, rao) => this.faucet(address, rao),
      advanceBlocks: (n) => this.advanceBlocks(n),
      close: async () => {},
    };
  }

  async createSubnet(owner: KeyringPair, params: Partial<SubnetHyperparams> = {}): Promise<number> {
    return this.client().createSubnet(owner, params);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    this.listeners.clear();
    this.closed = true;
    this.state.db.close();
  }
}
