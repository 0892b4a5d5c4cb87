import type { z } from "zod";

/**
 * A synapse is one request/response exchange between a dendrite (caller) and an axon (server), sent as
 * `POST /<name>` in the Bittensor HTTP protocol. On the wire the body is the Bittensor synapse object: the base
 * fields (name, timeout, dendrite, axon, ...) plus every request field plus every response field (response fields
 * are null in the request and filled by the axon's handler).
 *
 * Declared once, typed end to end: the axon validates requests with `request` and the handler's answer with
 * `response`; the dendrite validates what comes back with `response`.
 */
export interface SynapseDef<Req extends z.ZodObject = z.ZodObject, Res extends z.ZodObject = z.ZodObject> {
  /** Route and class name, e.g. "Specs" → POST /Specs. */
  readonly name: string;
  readonly request: Req;
  readonly response: Res;
  /** Request fields covered by `computed_body_hash` (and so by the signature), in declared order. */
  readonly hashFields: readonly (keyof z.infer<Req> & string)[];
  /** Default timeout in seconds (the dendrite may override per call). */
  readonly timeoutSec: number;
  /** Largest request or response body accepted, in bytes. */
  readonly maxBodyBytes: number;
}

export type SynapseRequest<S extends SynapseDef> = z.infer<S["request"]>;
export type SynapseResponse<S extends SynapseDef> = z.infer<S["response"]>;

/**
 * Declares a synapse. By default every request field is hashed (so the signature covers the whole request).
 *
 * @example
 * const Echo = defineSynapse({ name: "Echo", request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) });
 */
export function defineSynapse<Req extends z.ZodObject, Res extends z.ZodObject>(def: {
  name: string;
  request: Req;
  response: Res;
  hashFields?: readonly (keyof z.infer<Req> & string)[];
  timeoutSec?: number;
  maxBodyBytes?: number;
}): SynapseDef<Req, Res> {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(def.name)) {
    throw new TypeError(
      `synapse name "${def.name}" must be an identifier (it is the URL path and class name)`,
    );
  }
  return Object.freeze({
    name: def.name,
    request: def.request,
    response: def.response,
    hashFields: def.hashFields ?? (Object.keys(def.request.shape) as (keyof z.infer<Req> & string)[]),
    timeoutSec: def.timeoutSec ?? 12,
    maxBodyBytes: def.maxBodyBytes ?? 1024 * 1024,
  });
}
