import http from "node:http";
import type { KeyringPair } from "@polkadot/keyring/types";
import { type Logger, pino } from "pino";
import type { z } from "zod";
import { signText } from "./crypto.ts";
import { postOnce, TransportError } from "./http-client.ts";
import { computeBodyHash } from "./pystr.ts";
import type { SynapseDef, SynapseRequest, SynapseResponse } from "./synapse.ts";
import { requestSigningMessage } from "./verify.ts";
import {
  emptyTerminal,
  PROTOCOL_VERSION,
  type SynapseEnvelope,
  synapseHeaders,
  synapseToJson,
  timeNs,
  uuid1,
} from "./wire.ts";

export interface AxonTarget {
  ip: string;
  port: number;
  hotkey: string;
}

export type DendriteFailureKind =
  | "timeout"
  | "unreachable"
  | "forbidden"
  | "not_verified"
  | "not_found"
  | "bad_request"
  | "server_error"
  | "invalid_response";

export type DendriteResult<T> =
  | { ok: true; status: 200; response: T; elapsedMs: number }
  | { ok: false; status: number; kind: DendriteFailureKind; message: string; elapsedMs: number };

/** Failure kind for an HTTP status an axon answered with. */
export function failureKindOf(status: number): DendriteFailureKind {
  if (status === 401) return "not_verified";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 408) return "timeout";
  if (status === 503) return "unreachable";
  if (status >= 500) return "server_error";
  if (status >= 400) return "bad_request";
  return "invalid_response";
}

/**
 * The client side of the Bittensor protocol: signs each request with the hotkey (reference §1.5) and returns the
 * typed response or a typed failure; it never throws for anything the network or the axon does.
 */
export class Dendrite {
  readonly hotkey: string;
  readonly uuid = uuid1();
  private readonly pair: KeyringPair;
  private readonly externalIp: string;
  private readonly log: Logger;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

  constructor(opts: { hotkey: KeyringPair; externalIp?: string; logger?: Logger }) {
    this.pair = opts.hotkey;
    this.hotkey = opts.hotkey.address;
    this.externalIp = opts.externalIp ?? "127.0.0.1";
    this.log = (opts.logger ?? pino({ level: "silent" })).child({ component: "dendrite" });
  }

  /** Builds the signed request (URL, headers, body) exactly as a Python dendrite would. */
  prepare<S extends SynapseDef>(
    target: AxonTarget,
    def: S,
    request: SynapseRequest<S>,
    timeoutSec: number,
  ): {
    url: string;
    host: string;
    port: number;
    headers: Record<string, string>;
    body: string;
    bodyHash: string;
  } {
    const fields = def.request.parse(request) as Record<string, unknown>;
    const bodyHash = computeBodyHash(def.hashFields, fields, def.request.shape as Record<string, z.ZodType>);
    const nonce = timeNs();
    const dendrite = {
      ...emptyTerminal(),
      ip: this.externalIp,
      version: PROTOCOL_VERSION,
      nonce,
      uuid: this.uuid,
      hotkey: this.hotkey,
    };
    const signature = signText(
      this.pair,
      requestSigningMessage(nonce, this.hotkey, target.hotkey, this.uuid, bodyHash),
    );
    const env: SynapseEnvelope = {
      name: def.name,
      timeout: timeoutSec,
      total_size: 0,
      header_size: 0,
      dendrite: { ...dendrite, signature },
      axon: { ...emptyTerminal(), ip: target.ip, port: target.port, hotkey: target.hotkey },
      computed_body_hash: "",
    };
    const body = synapseToJson(def, env, fields, null);
    env.total_size = Buffer.byteLength(body);
    const headers = synapseHeaders(def, env, bodyHash, fields);
    headers["content-type"] = "application/json";
    const host = target.ip === this.externalIp && target.ip !== "127.0.0.1" ? "127.0.0.1" : target.ip;
    const hostPart = host.includes(":") ? `[${host}]` : host;
    return {
      url: `http://${hostPart}:${target.port}/${def.name}`,
      host,
      port: target.port,
      headers,
      body,
      bodyHash,
    };
  }

  async query<S extends SynapseDef>(
    target: AxonTarget,
    def: S,
    request: SynapseRequest<S>,
    opts: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<DendriteResult<SynapseResponse<S>>> {
    const started = performance.now();
    const timeoutMs = opts.timeoutMs ?? def.timeoutSec * 1000;
    const elapsed = () => performance.now() - started;
    let prepared: ReturnType<Dendrite["prepare"]>;
    try {
      prepared = this.prepare(target, def, request, timeoutMs / 1000);
    } catch (err) {
      return {
        ok: false,
        status: 400,
        kind: "bad_request",
        message: `invalid request: ${String(err)}`,
        elapsedMs: elapsed(),
      };
    }
    let res: { status: number; text: string };
    try {
      res = await postOnce({
        host: prepared.host,
        port: prepared.port,
        path: `/${def.name}`,
        headers: prepared.headers,
        body: prepared.body,
        timeoutMs,
        signal: opts.signal,
        maxResponseBytes: def.maxBodyBytes + 64 * 1024,
        agent: this.agent,
      });
    } catch (err) {
      const ms = elapsed();
      const failure = err instanceof TransportError ? err.failure : "disconnected";
      const detail = err instanceof Error ? err.message : String(err);
      const where = `${target.ip}:${target.port}/${def.name}`;
      this.log.debug({ err, where }, "no answer from axon");
      if (failure === "timeout") {
        return {
          ok: false,
          status: 408,
          kind: "timeout",
          message: `Request timeout after ${timeoutMs / 1000} seconds`,
          elapsedMs: ms,
        };
      }
      if (failure === "too_large") {
        return {
          ok: false,
          status: 422,
          kind: "invalid_response",
          message: `Failed to parse response: ${detail}`,
          elapsedMs: ms,
        };
      }
      if (failure === "aborted") {
        return {
          ok: false,
          status: 499,
          kind: "unreachable",
          message: `Request aborted: ${detail}`,
          elapsedMs: ms,
        };
      }
      return {
        ok: false,
        status: 503,
        kind: "unreachable",
        message: `Service unavailable at ${where}: ${detail}`,
        elapsedMs: ms,
      };
    }
    const text = res.text;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.status !== 200) {
      const body = json as { message?: unknown; detail?: unknown } | undefined;
      const message =
        typeof body?.message === "string"
          ? body.message
          : body?.detail !== undefined
            ? JSON.stringify(body.detail)
            : text.slice(0, 500);
      return {
        ok: false,
        status: res.status,
        kind: failureKindOf(res.status),
        message,
        elapsedMs: elapsed(),
      };
    }
    const parsed = def.response.safeParse(json);
    if (!parsed.success) {
      return {
        ok: false,
        status: 422,
        kind: "invalid_response",
        message: `Failed to parse response: ${parsed.error.message}`,
        elapsedMs: elapsed(),
      };
    }
    return { ok: true, status: 200, response: parsed.data as SynapseResponse<S>, elapsedMs: elapsed() };
  }

  /** Closes idle keep-alive connections (they do not keep the process alive either way). */
  close(): void {
    this.agent.destroy();
  }

  /** Queries many axons at once (at most `concurrency` in flight); results come back in the order of `targets`. */
  async queryMany<S extends SynapseDef>(
    targets: AxonTarget[],
    def: S,
    request: SynapseRequest<S>,
    opts: { timeoutMs?: number; concurrency?: number } = {},
  ): Promise<DendriteResult<SynapseResponse<S>>[]> {
    const results = new Array<DendriteResult<SynapseResponse<S>>>(targets.length);
    let next = 0;
    const worker = async () => {
      while (next < targets.length) {
        const i = next++;
        results[i] = await this.query(targets[i], def, request, { timeoutMs: opts.timeoutMs });
      }
    };
    const n = Math.max(1, Math.min(opts.concurrency ?? 64, targets.length));
    await Promise.all(Array.from({ length: n }, worker));
    return results;
  }
}
