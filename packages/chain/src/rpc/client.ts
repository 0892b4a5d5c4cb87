import { CmeshError } from "@computemesh/core";
import WebSocket from "ws";
import { chainError } from "../errors.ts";
import { LocalChainClient, type LocalTransport } from "../local/client.ts";
import type { TxOutcome } from "../local/state.ts";
import type { SignedTx } from "../local/tx.ts";
import type { Metagraph, SubnetHyperparams } from "../types.ts";
import { hyperparamsWire, infoWire, metagraphWire, RPC, txOutcomeWire } from "./wire.ts";

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

export interface RpcOptions {
  /** connect timeout; default 5000 ms */
  connectTimeoutMs?: number;
  /** per-request timeout; default 30000 ms */
  requestTimeoutMs?: number;
}

/**
 * JSON-RPC 2.0 over WebSocket to a served LocalChain. Reconnects on the next call after the socket drops, and
 * re-subscribes block listeners when it does.
 */
export class WsTransport implements LocalTransport {
  private ws?: WebSocket;
  private connecting?: Promise<WebSocket>;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly blockListeners = new Set<(block: number) => void>();
  private subscriptionId?: string;
  private closed = false;
  private reconnectTimer?: NodeJS.Timeout;

  constructor(
    readonly endpoint: string,
    private readonly opts: RpcOptions = {},
  ) {}

  private socket(): Promise<WebSocket> {
    if (this.closed)
      return Promise.reject(new CmeshError("CHAIN_CLOSED", "this chain client has been closed"));
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return Promise.resolve(this.ws);
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private open(): Promise<WebSocket> {
    const timeout = this.opts.connectTimeoutMs ?? 5000;
    return new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.endpoint, { handshakeTimeout: timeout, maxPayload: 64 * 1024 * 1024 });
      const fail = (err: Error) => {
        clearTimeout(timer);
        ws.removeAllListeners();
        ws.on("error", () => {});
        ws.terminate();
        reject(
          new CmeshError(
            "CHAIN_UNREACHABLE",
            `cannot reach the local chain at ${this.endpoint}: ${err.message}`,
            {
              hint: "start it with `cmesh chain serve` (or `npm start`) and check --chain",
              cause: err,
            },
          ),
        );
      };
      const timer = setTimeout(() => fail(new Error(`no connection within ${timeout} ms`)), timeout);
      ws.once("error", fail);
      ws.once("open", () => {
        clearTimeout(timer);
        ws.removeListener("error", fail);
        ws.on("error", () => {}); // surfaced through close
        ws.on("message", (data) => this.onMessage(data.toString()));
        ws.on("close", () => this.onClose(ws));
        this.ws = ws;
        resolve(ws);
        if (this.blockListeners.size > 0) void this.resubscribe();
      });
    });
  }

  private onMessage(text: string): void {
    let msg: {
      id?: number;
      result?: unknown;
      error?: { code: number; message: string; data?: { name?: string; hint?: string } };
      method?: string;
      params?: { subscription: string; result: number };
    };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.method === RPC.newBlock && msg.params && msg.params.subscription === this.subscriptionId) {
      for (const l of this.blockListeners) l(msg.params.result);
      return;
    }
    if (typeof msg.id !== "number") return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error) {
      const name = msg.error.data?.name;
      p.reject(
        name ? chainError(name, msg.error.message) : new CmeshError("CHAIN_RPC_ERROR", msg.error.message),
      );
    } else p.resolve(msg.result);
  }

  private onClose(ws: WebSocket): void {
    if (this.ws === ws) this.ws = undefined;
    this.subscriptionId = undefined;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(
        new CmeshError("CHAIN_DISCONNECTED", `connection to ${this.endpoint} closed before the answer`),
      );
      this.pending.delete(id);
    }
    if (!this.closed && this.blockListeners.size > 0) this.scheduleReconnect(500);
  }

  private scheduleReconnect(delay: number): void {
    if (this.reconnectTimer || this.closed) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.socket().catch(() => this.scheduleReconnect(Math.min(delay * 2, 10_000)));
    }, delay);
    this.reconnectTimer.unref();
  }

  private async resubscribe(): Promise<void> {
    try {
      this.subscriptionId = (await this.call(RPC.subscribeBlocks, [])) as string;
    } catch {
      this.scheduleReconnect(1000);
    }
  }

  async call(method: string, params: unknown[]): Promise<unknown> {
    const ws = await this.socket();
    const id = this.nextId++;
    const timeout = this.opts.requestTimeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new CmeshError(
            "CHAIN_TIMEOUT",
            `${method} got no answer from ${this.endpoint} within ${timeout} ms`,
          ),
        );
      }, timeout);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }), (err) => {
        if (err) {
          clearTimeout(timer);
          this.pending.delete(id);
          reject(new CmeshError("CHAIN_DISCONNECTED", `could not send ${method}: ${err.message}`));
        }
      });
    });
  }

  async chainId(): Promise<string> {
    return infoWire.parse(await this.call(RPC.info, [])).chainId;
  }
  async getBlock(): Promise<number> {
    return Number(await this.call(RPC.getBlock, []));
  }
  async subscribeBlocks(onBlock: (block: number) => void): Promise<() => void> {
    this.blockListeners.add(onBlock);
    if (!this.subscriptionId) this.subscriptionId = (await this.call(RPC.subscribeBlocks, [])) as string;
    return () => {
      this.blockListeners.delete(onBlock);
      if (this.blockListeners.size === 0 && this.subscriptionId) {
        const id = this.subscriptionId;
        this.subscriptionId = undefined;
        this.call(RPC.unsubscribeBlocks, [id]).catch(() => {});
      }
    };
  }
  async getMetagraph(netuid: number, withWeights: boolean): Promise<Metagraph> {
    return metagraphWire.parse(await this.call(RPC.getMetagraph, [netuid, withWeights]));
  }
  async getHyperparams(netuid: number): Promise<SubnetHyperparams> {
    return hyperparamsWire.parse(await this.call(RPC.getHyperparams, [netuid]));
  }
  async getBalance(address: string): Promise<bigint> {
    return BigInt(String(await this.call(RPC.getBalance, [address])));
  }
  async getNonce(address: string): Promise<number> {
    return Number(await this.call(RPC.getNonce, [address]));
  }
  async submit(tx: SignedTx): Promise<TxOutcome> {
    return txOutcomeWire.parse(await this.call(RPC.submit, [tx]));
  }
  async faucet(address: string, rao: bigint): Promise<void> {
    await this.call(RPC.devFaucet, [address, rao.toString()]);
  }
  async advanceBlocks(n: number): Promise<void> {
    await this.call(RPC.devAdvanceBlocks, [n]);
  }
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.blockListeners.clear();
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once("close", () => resolve());
        ws.close();
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 1000).unref();
      });
    }
  }
}

/** Connects to a served LocalChain (`ws://127.0.0.1:PORT`); fails with CHAIN_UNREACHABLE when nothing answers. */
export async function connectLocalChain(url: string, opts: RpcOptions = {}): Promise<LocalChainClient> {
  const transport = new WsTransport(url, opts);
  try {
    await transport.chainId();
  } catch (err) {
    await transport.close();
    throw err;
  }
  return new LocalChainClient(transport);
}
