import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CmeshError, isCmeshError } from "@computemesh/core";
import pino, { type Logger } from "pino";
import { Counter, Gauge, Registry } from "prom-client";
import { type WebSocket, WebSocketServer } from "ws";
import { z } from "zod";
import type { LocalChain } from "../local/chain.ts";
import { hyperparamsToWire, metagraphToWire, RPC } from "./wire.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const MAX_PAYLOAD = 8 * 1024 * 1024;

const requestSchema = z.object({
  jsonrpc: z.literal("2.0"),
  id: z.union([z.string(), z.number(), z.null()]),
  method: z.string(),
  params: z.array(z.unknown()).default([]),
});

class RpcError extends Error {
  constructor(
    readonly rpcCode: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

const netuidParam = z.number().int().min(0).max(65535);
const addressParam = z.string().min(1).max(64);

function params<T extends z.ZodTypeAny>(schema: T, raw: unknown[]): z.infer<T> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new RpcError(-32602, `invalid params: ${z.prettifyError(r.error)}`);
  return r.data;
}

export interface LocalChainServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves a LocalChain over JSON-RPC 2.0 on a WebSocket (same port: `GET /metrics`, `GET /health`).
 * Binds loopback only: the dev methods (faucet, block production) are unauthenticated.
 */
export async function serveLocalChain(
  chain: LocalChain,
  opts: { host?: string; port: number; logger?: Logger },
): Promise<LocalChainServer> {
  const host = opts.host ?? "127.0.0.1";
  if (!LOOPBACK.has(host)) {
    throw new CmeshError("CHAIN_RPC_NOT_LOOPBACK", `refusing to serve the local chain on ${host}`, {
      hint: "the local chain RPC has unauthenticated dev methods; bind 127.0.0.1",
    });
  }
  const log = opts.logger ?? pino({ level: "silent" });
  const registry = new Registry();
  const requests = new Counter({
    name: "cmesh_chain_rpc_requests_total",
    help: "JSON-RPC requests by method and outcome",
    labelNames: ["method", "outcome"],
    registers: [registry],
  });
  const blockGauge = new Gauge({
    name: "cmesh_chain_block",
    help: "current block height",
    registers: [registry],
  });
  const connections = new Gauge({
    name: "cmesh_chain_rpc_connections",
    help: "open WebSocket connections",
    registers: [registry],
  });
  blockGauge.set(chain.block());
  const stopGauge = chain.onBlock((b) => blockGauge.set(b));

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "GET" && req.url === "/metrics") {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (req.method === "GET" && req.url === "/health") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, chainId: chain.chainId, block: chain.block() }));
      return;
    }
    res.writeHead(426, { "content-type": "text/plain" });
    res.end("JSON-RPC over WebSocket; GET /metrics or /health\n");
  });
  const wss = new WebSocketServer({ server: http, maxPayload: MAX_PAYLOAD });
  // listen errors reach both the http server and the WebSocketServer; the http listener below reports them
  wss.on("error", (err) => log.debug({ err }, "local chain RPC server error"));

  const handle = async (
    method: string,
    p: unknown[],
    subs: Map<string, () => void>,
    ws: WebSocket,
  ): Promise<unknown> => {
    switch (method) {
      case RPC.info:
        return { chainId: chain.chainId, block: chain.block(), netuids: chain.netuids() };
      case RPC.getBlock:
        return chain.block();
      case RPC.subscribeBlocks: {
        const id = `blocks-${subs.size + 1}-${Math.random().toString(36).slice(2, 10)}`;
        subs.set(
          id,
          chain.onBlock((block) => {
            if (ws.readyState === ws.OPEN) {
              ws.send(
                JSON.stringify({
                  jsonrpc: "2.0",
                  method: RPC.newBlock,
                  params: { subscription: id, result: block },
                }),
              );
            }
          }),
        );
        return id;
      }
      case RPC.unsubscribeBlocks: {
        const [id] = params(z.tuple([z.string()]), p);
        const stop = subs.get(id);
        stop?.();
        subs.delete(id);
        return stop !== undefined;
      }
      case RPC.getMetagraph: {
        const [netuid, withWeights] = params(z.tuple([netuidParam, z.boolean().optional()]), p);
        return metagraphToWire(chain.metagraph(netuid, withWeights ?? false));
      }
      case RPC.getHyperparams: {
        const [netuid] = params(z.tuple([netuidParam]), p);
        return hyperparamsToWire(chain.hyperparams(netuid));
      }
      case RPC.getBalance: {
        const [address] = params(z.tuple([addressParam]), p);
        return chain.balance(address).toString();
      }
      case RPC.getNonce: {
        const [address] = params(z.tuple([addressParam]), p);
        return chain.nonce(address);
      }
      case RPC.submit: {
        const [tx] = params(z.tuple([z.unknown()]), p);
        return chain.submit(tx);
      }
      case RPC.devCreateSubnet: {
        const [tx] = params(z.tuple([z.object({ call: z.literal("register_network") }).passthrough()]), p);
        return chain.submit(tx).netuid;
      }
      case RPC.devFaucet: {
        const [address, rao] = params(z.tuple([addressParam, z.string().regex(/^\d+$/)]), p);
        await chain.faucet(address, BigInt(rao));
        return true;
      }
      case RPC.devAdvanceBlocks: {
        const [n] = params(z.tuple([z.number().int().min(0).max(100_000)]), p);
        await chain.advanceBlocks(n);
        return chain.block();
      }
      default:
        throw new RpcError(-32601, `method not found: ${method}`);
    }
  };

  wss.on("connection", (ws) => {
    connections.inc();
    const subs = new Map<string, () => void>();
    ws.on("close", () => {
      connections.dec();
      for (const stop of subs.values()) stop();
      subs.clear();
    });
    ws.on("message", async (data) => {
      let id: string | number | null = null;
      let method = "invalid";
      try {
        let raw: unknown;
        try {
          raw = JSON.parse(data.toString());
        } catch {
          throw new RpcError(-32700, "parse error: not JSON");
        }
        const req = requestSchema.safeParse(raw);
        if (!req.success) throw new RpcError(-32600, `invalid request: ${z.prettifyError(req.error)}`);
        id = req.data.id;
        method = req.data.method;
        const result = await handle(req.data.method, req.data.params, subs, ws);
        requests.inc({ method, outcome: "ok" });
        ws.send(JSON.stringify({ jsonrpc: "2.0", id, result: result ?? null }));
      } catch (err) {
        const known = Object.values(RPC).includes(method as never) ? method : "unknown";
        requests.inc({ method: known, outcome: "error" });
        let error: { code: number; message: string; data?: unknown };
        if (err instanceof RpcError) error = { code: err.rpcCode, message: err.message, data: err.data };
        else if (isCmeshError(err))
          error = { code: -32000, message: err.message, data: { name: err.code, hint: err.hint } };
        else {
          log.error({ err, method }, "local chain RPC handler failed");
          error = { code: -32603, message: "internal error" };
        }
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ jsonrpc: "2.0", id, error }));
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new CmeshError(
          "CHAIN_RPC_LISTEN_FAILED",
          `cannot listen on ${host}:${opts.port}: ${err.code ?? err.message}`,
          {
            hint:
              err.code === "EADDRINUSE"
                ? "another process uses this port; pick another with --port"
                : undefined,
            cause: err,
          },
        ),
      ),
    );
    http.listen(opts.port, host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const url = `ws://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info({ url }, "local chain RPC listening");
  return {
    url,
    close: async () => {
      stopGauge();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
