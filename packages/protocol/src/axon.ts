import { randomUUID } from "node:crypto";
import type { KeyringPair } from "@polkadot/keyring/types";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { type Logger, pino } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { z } from "zod";
import { signText } from "./crypto.ts";
import { ProtocolError, SynapseError } from "./errors.ts";
import { PriorityLimiter } from "./limiter.ts";
import { computeBodyHash, pyFloatRepr, pyRepr } from "./pystr.ts";
import type { SynapseDef, SynapseRequest, SynapseResponse } from "./synapse.ts";
import { axonSigningMessage, NonceVerifier } from "./verify.ts";
import {
  HeaderParseError,
  PROTOCOL_VERSION,
  parseSynapseHeaders,
  type SynapseEnvelope,
  synapseHeaders,
  synapseToJson,
  timeNs,
  uuid1,
} from "./wire.ts";

/** Who called: the hotkey has been verified (signature and nonce) before any hook or handler sees it. */
export interface CallerInfo {
  hotkey: string;
  ip: string;
}

/** Extra context for a handler: aborted when the synapse's timeout passes or the axon stops. */
export interface HandlerContext {
  signal: AbortSignal;
  synapseName: string;
}

export type SynapseHandler<S extends SynapseDef> = (
  req: SynapseRequest<S>,
  caller: CallerInfo,
  ctx: HandlerContext,
) => Promise<SynapseResponse<S>>;

export type BlacklistHook = (
  caller: CallerInfo,
  synapseName: string,
) => string | null | Promise<string | null>;

export interface AxonOptions {
  hotkey: KeyringPair;
  /** Interface to bind; default 127.0.0.1 (use 0.0.0.0 to serve the network). */
  host?: string;
  /** 0 picks a free port (read `axon.port` after start). */
  port: number;
  /** IP advertised to others (`target()`); default the bound host. */
  externalIp?: string;
  /** Handlers running at once; the rest wait in a priority queue. Default 16. */
  maxConcurrency?: number;
  /** Largest request body accepted for any synapse; default the largest `maxBodyBytes` of the attached synapses. */
  maxBodyBytes?: number;
  logger?: Logger;
  /** Reason string → 403 `Forbidden. Key is blacklisted: {reason}.`; null lets the request through. */
  blacklist?: BlacklistHook;
  /** prom-client registry to record `cmesh_axon_*` metrics in (the process serves it at /metrics). */
  registry?: Registry;
}

function axonMetrics(registry: Registry, limiter: PriorityLimiter) {
  return {
    requests: new Counter({
      name: "cmesh_axon_requests_total",
      help: "Synapse requests answered by the axon, by synapse and HTTP status",
      labelNames: ["synapse", "status"] as const,
      registers: [registry],
    }),
    seconds: new Histogram({
      name: "cmesh_axon_request_seconds",
      help: "Time from request to answer, by synapse",
      labelNames: ["synapse"] as const,
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 12],
      registers: [registry],
    }),
    queued: new Gauge({
      name: "cmesh_axon_queued",
      help: "Requests waiting for a handler slot",
      registers: [registry],
      collect() {
        this.set(limiter.waiting);
      },
    }),
  };
}

interface Route {
  def: SynapseDef;
  handler: SynapseHandler<SynapseDef>;
  priority: number;
}

class Answer {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly env?: SynapseEnvelope,
    readonly def?: SynapseDef,
    readonly body?: string,
  ) {}
}

/**
 * The server side of the Bittensor protocol (reference §1): `POST /<SynapseName>` with signed `bt_header_*`
 * headers. Pipeline: route → headers → verify (signature, nonce) → blacklist (sees the verified hotkey) →
 * priority queue → body (JSON, schema, body hash) → handler with timeout → typed response.
 */
export class Axon {
  readonly hotkey: string;
  private readonly pair: KeyringPair;
  private readonly routes = new Map<string, Route>();
  private readonly uuid = uuid1();
  private readonly log: Logger;
  private readonly limiter: PriorityLimiter;
  private readonly verifier: NonceVerifier;
  private readonly stopping = new AbortController();
  private app: FastifyInstance | undefined;
  private closing = false;
  private readonly metrics?: ReturnType<typeof axonMetrics>;
  private boundPort = 0;

  constructor(private readonly opts: AxonOptions) {
    this.pair = opts.hotkey;
    this.hotkey = opts.hotkey.address;
    this.log = (opts.logger ?? pino({ level: "silent" })).child({ component: "axon" });
    this.limiter = new PriorityLimiter(opts.maxConcurrency ?? 16);
    this.verifier = new NonceVerifier(this.hotkey, () => this.maxTimeoutNs());
    if (opts.registry) this.metrics = axonMetrics(opts.registry, this.limiter);
  }

  /** Port the axon listens on (known after start). */
  get port(): number {
    return this.boundPort;
  }

  /** Where dendrites reach this axon. */
  target(): { ip: string; port: number; hotkey: string } {
    return {
      ip: this.opts.externalIp ?? this.opts.host ?? "127.0.0.1",
      port: this.port,
      hotkey: this.hotkey,
    };
  }

  /** Serves `def` with `handler`; a higher `priority` is dequeued first when all slots are busy. */
  attach<S extends SynapseDef>(def: S, handler: SynapseHandler<S>, opts: { priority?: number } = {}): this {
    if (this.app) throw new ProtocolError("AXON_STARTED", `cannot attach ${def.name} after the axon started`);
    if (this.routes.has(def.name)) {
      throw new ProtocolError("SYNAPSE_ALREADY_ATTACHED", `synapse ${def.name} is already attached`);
    }
    this.routes.set(def.name, {
      def,
      handler: handler as unknown as SynapseHandler<SynapseDef>,
      priority: opts.priority ?? 0,
    });
    return this;
  }

  async start(): Promise<void> {
    if (this.app) throw new ProtocolError("AXON_STARTED", "the axon is already started");
    const bodyLimit =
      this.opts.maxBodyBytes ??
      Math.max(1024 * 1024, ...[...this.routes.values()].map((r) => r.def.maxBodyBytes));
    const app = Fastify({ logger: false, bodyLimit, forceCloseConnections: "idle", keepAliveTimeout: 5000 });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
    app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      const message = status === 500 ? this.internalError(err) : err.message;
      reply.code(status).header("content-type", "application/json").send(JSON.stringify({ message }));
    });
    app.route({ method: ["GET", "POST"], url: "/*", handler: (req, reply) => this.serve(req, reply) });
    app.setNotFoundHandler((req, reply) => this.serve(req, reply));
    await app.listen({ host: this.opts.host ?? "127.0.0.1", port: this.opts.port });
    const address = app.server.address();
    this.boundPort = typeof address === "object" && address ? address.port : this.opts.port;
    this.app = app;
    this.log.info(
      { port: this.boundPort, hotkey: this.hotkey, synapses: [...this.routes.keys()] },
      "axon started",
    );
  }

  /** Stops accepting connections and waits for requests in flight (and queued) to finish. */
  async stop(): Promise<void> {
    const app = this.app;
    if (!app) return;
    // Answers sent from now on close their connection, so keep-alive sockets do not hold close() open.
    this.closing = true;
    app.server.closeIdleConnections();
    await app.close();
    this.stopping.abort();
    this.app = undefined;
    this.log.info("axon stopped");
  }

  private maxTimeoutNs(): bigint {
    const max = Math.max(12, ...[...this.routes.values()].map((r) => r.def.timeoutSec));
    return BigInt(Math.round(max * 1e9));
  }

  private internalError(err: unknown): string {
    const id = randomUUID();
    this.log.error({ err, errorId: id }, "internal error");
    return `Internal Server Error #${id}`;
  }

  private async serve(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const started = performance.now();
    let answer: Answer;
    try {
      answer = await this.pipeline(req);
    } catch (err) {
      answer = new Answer(500, this.internalError(err));
    }
    this.send(reply, answer);
    const synapse = answer.def?.name ?? "unknown";
    this.metrics?.requests.inc({ synapse, status: String(answer.status) });
    this.metrics?.seconds.observe({ synapse }, (performance.now() - started) / 1000);
    if (answer.status !== 200) {
      this.log.debug(
        { synapse, status: answer.status, message: answer.message, caller: answer.env?.dendrite.hotkey },
        "request refused",
      );
    }
  }

  private send(reply: FastifyReply, a: Answer): void {
    if (a.env && a.def) {
      a.env.axon.status_code = a.status;
      a.env.axon.status_message = a.message;
      reply.headers(synapseHeaders(a.def, a.env, ""));
    }
    if (this.closing) reply.header("connection", "close");
    reply
      .code(a.status)
      .header("content-type", "application/json")
      .send(a.body ?? JSON.stringify({ message: a.message }));
  }

  private async pipeline(req: FastifyRequest): Promise<Answer> {
    const started = performance.now();
    const path = req.url.split("?")[0];
    const name = path.split("/")[1] ?? "";
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) {
      return new Answer(400, `Improperly formatted request. Could not parser request ${path}.`);
    }
    const route = this.routes.get(name);
    if (!route) {
      return new Answer(
        404,
        `Synapse name '${name}' not found. Available synapses ${pyRepr([...this.routes.keys()])}`,
      );
    }
    const { def } = route;

    let parsed: ReturnType<typeof parseSynapseHeaders>;
    try {
      parsed = parseSynapseHeaders(req.headers);
    } catch (err) {
      if (err instanceof HeaderParseError) return new Answer(500, this.internalError(err));
      throw err;
    }
    const timeoutSec = Math.min(parsed.timeout ?? def.timeoutSec, def.timeoutSec);
    const axonNonce = timeNs();
    const env: SynapseEnvelope = {
      name,
      timeout: parsed.timeout ?? def.timeoutSec,
      total_size: 0,
      header_size: 0,
      dendrite: {
        ...parsed.dendrite,
        ip: req.socket.remoteAddress ?? null,
        port: req.socket.remotePort ?? null,
      },
      axon: {
        ...parsed.axon,
        hotkey: this.hotkey,
        version: PROTOCOL_VERSION,
        uuid: this.uuid,
        nonce: axonNonce,
        status_code: 100,
      },
      computed_body_hash: "",
    };
    env.axon.signature = signText(
      this.pair,
      axonSigningMessage(axonNonce, env.dendrite.hotkey ?? "", this.hotkey, this.uuid),
    );

    const failure = this.verifier.verify(parsed.dendrite, parsed.computedBodyHash, timeoutSec, timeNs());
    if (failure !== null) return new Answer(401, `Not Verified with error: ${failure}`, env, def);
    const caller: CallerInfo = { hotkey: parsed.dendrite.hotkey!, ip: env.dendrite.ip ?? "" };

    if (this.opts.blacklist) {
      const reason = await this.opts.blacklist(caller, name);
      if (reason !== null && reason !== undefined) {
        return new Answer(403, `Forbidden. Key is blacklisted: ${reason}.`, env, def);
      }
    }

    const raw = req.body instanceof Buffer ? req.body : Buffer.alloc(0);
    if (raw.length > def.maxBodyBytes) {
      return new Answer(
        413,
        `Request body of ${raw.length} bytes exceeds ${def.maxBodyBytes} for ${name}`,
        env,
        def,
      );
    }

    const granted = await this.limiter.acquire(route.priority, timeoutSec * 1000);
    if (!granted) return new Answer(408, `Response timeout after: ${pyFloatRepr(timeoutSec)}s`, env, def);
    try {
      return await this.forward(route, raw, parsed.computedBodyHash, env, caller, timeoutSec, started);
    } finally {
      this.limiter.release();
    }
  }

  private async forward(
    route: Route,
    raw: Buffer,
    headerHash: string | null,
    env: SynapseEnvelope,
    caller: CallerInfo,
    timeoutSec: number,
    started: number,
  ): Promise<Answer> {
    const { def } = route;
    let json: unknown;
    try {
      json = JSON.parse(raw.toString("utf8"));
    } catch (err) {
      return this.unprocessable([
        { type: "json_invalid", loc: ["body"], msg: "JSON decode error", ctx: { error: String(err) } },
      ]);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return this.unprocessable([{ type: "model_type", loc: ["body"], msg: "Input should be an object" }]);
    }
    const parsed = def.request.safeParse(json);
    if (!parsed.success) {
      return this.unprocessable(
        parsed.error.issues.map((i) => ({
          type: i.code,
          loc: ["body", ...i.path.map(String)],
          msg: i.message,
        })),
      );
    }
    const request = parsed.data as Record<string, unknown>;
    const shape = def.request.shape as Record<string, z.ZodType>;
    const bodyHash = computeBodyHash(def.hashFields, request, shape);
    if (bodyHash !== headerHash) {
      return new Answer(
        500,
        this.internalError(new Error(`body hash ${bodyHash} ≠ header ${headerHash}`)),
        env,
        def,
      );
    }

    const ac = new AbortController();
    const signal = AbortSignal.any([ac.signal, this.stopping.signal]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => {
        ac.abort(new Error(`synapse ${def.name} timed out`));
        resolve("timeout");
      }, timeoutSec * 1000);
    });
    let result: unknown;
    try {
      result = await Promise.race([
        route.handler(request, caller, { signal, synapseName: def.name }),
        timedOut,
      ]);
    } catch (err) {
      if (err instanceof SynapseError) return new Answer(err.status, err.message, env, def);
      return new Answer(500, this.internalError(err), env, def);
    } finally {
      clearTimeout(timer);
    }
    if (result === "timeout") {
      return new Answer(408, `Response timeout after: ${pyFloatRepr(timeoutSec)}s`, env, def);
    }
    const checked = def.response.safeParse(result);
    if (!checked.success) {
      return new Answer(
        500,
        this.internalError(
          new Error(`handler of ${def.name} answered an invalid response: ${checked.error.message}`),
        ),
        env,
        def,
      );
    }
    env.axon.status_code = 200;
    env.axon.status_message = "Success";
    env.axon.process_time = (performance.now() - started) / 1000;
    const body = synapseToJson(def, env, request, checked.data as Record<string, unknown>);
    return new Answer(200, "Success", env, def, body);
  }

  private unprocessable(detail: unknown[]): Answer {
    return new Answer(422, "Unprocessable Entity", undefined, undefined, JSON.stringify({ detail }));
  }
}
