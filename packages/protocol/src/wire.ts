import { randomBytes } from "node:crypto";
import type { z } from "zod";
import { pyFloatRepr } from "./pystr.ts";
import type { SynapseDef } from "./synapse.ts";

/**
 * The Bittensor synapse on the wire (reference §1.2–1.3): the JSON body and the headers built from it.
 */

/** Protocol version we announce: SDK 10.2.0 encoded as major*1e6 + minor*1e3 + patch (≥ 7002000: new nonce rules). */
export const PROTOCOL_VERSION = 10_002_000;

export interface TerminalInfo {
  status_code: number | null;
  status_message: string | null;
  process_time: number | null;
  ip: string | null;
  port: number | null;
  version: number | null;
  nonce: bigint | null;
  uuid: string | null;
  hotkey: string | null;
  signature: string | null;
}

/** Field order matters: headers and the body list them in this order, as the Python model does. */
export const TERMINAL_FIELDS = [
  "status_code",
  "status_message",
  "process_time",
  "ip",
  "port",
  "version",
  "nonce",
  "uuid",
  "hotkey",
  "signature",
] as const satisfies readonly (keyof TerminalInfo)[];

export function emptyTerminal(): TerminalInfo {
  return {
    status_code: null,
    status_message: null,
    process_time: null,
    ip: null,
    port: null,
    version: null,
    nonce: null,
    uuid: null,
    hotkey: null,
    signature: null,
  };
}

/** Base fields of every synapse, as carried in the body. */
export interface SynapseEnvelope {
  name: string;
  timeout: number;
  total_size: number;
  header_size: number;
  dendrite: TerminalInfo;
  axon: TerminalInfo;
  computed_body_hash: string;
}

/** Marks a number that must print as a Python float in JSON (e.g. `12.0`, not `12`). */
class PyFloat {
  constructor(readonly value: number) {}
}

function serialize(value: unknown, floatHint: boolean): string {
  if (value === null || value === undefined) return "null";
  if (value instanceof PyFloat) return Number.isFinite(value.value) ? pyFloatRepr(value.value) : "null";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return "null";
    return floatHint ? pyFloatRepr(value) : JSON.stringify(value);
  }
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => serialize(v, floatHint)).join(",")}]`;
  if (typeof value === "object") {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      parts.push(`${JSON.stringify(k)}:${serialize(v, false)}`);
    }
    return `{${parts.join(",")}}`;
  }
  throw new TypeError(`cannot serialize a ${typeof value}`);
}

function isFloatSchema(schema: z.ZodType | undefined): boolean {
  let s = schema as
    | { _zod?: { def: { type: string; innerType?: z.ZodType } }; format?: string | null }
    | undefined;
  while (s?._zod?.def.innerType) s = s._zod.def.innerType as typeof s;
  return s?._zod?.def.type === "number" && !(s.format && /int/.test(s.format));
}

function terminalJson(t: TerminalInfo): Record<string, unknown> {
  return { ...t, process_time: t.process_time === null ? null : new PyFloat(t.process_time) };
}

/**
 * JSON of the whole synapse in Python field order: base fields, then request fields, then response fields.
 * Nonces stay exact (BigInt → JSON integer); float fields print as Python floats.
 */
export function synapseToJson(
  def: SynapseDef,
  env: SynapseEnvelope,
  requestFields: Record<string, unknown>,
  responseFields: Record<string, unknown> | null,
): string {
  const obj: Record<string, unknown> = {
    name: def.name,
    timeout: new PyFloat(env.timeout),
    total_size: env.total_size,
    header_size: env.header_size,
    dendrite: terminalJson(env.dendrite),
    axon: terminalJson(env.axon),
    computed_body_hash: env.computed_body_hash,
  };
  const shapes: Record<string, z.ZodType> = { ...def.request.shape, ...def.response.shape };
  for (const key of Object.keys(def.request.shape)) obj[key] = requestFields[key] ?? null;
  for (const key of Object.keys(def.response.shape)) {
    if (!(key in def.request.shape) || responseFields) obj[key] = responseFields?.[key] ?? null;
  }
  for (const [key, v] of Object.entries(obj)) {
    if (typeof v === "number" && isFloatSchema(shapes[key])) obj[key] = new PyFloat(v);
  }
  return serialize(obj, false);
}

/** Header value safe for Node's HTTP layer (latin-1 printable, no CR/LF). */
function headerSafe(text: string): string {
  return text.replace(/[^\t\x20-\x7e\xa0-\xff]/g, "?");
}

/** Python `str()` of a TerminalInfo value, as put in a header. */
function terminalHeaderValue(
  key: keyof TerminalInfo,
  v: NonNullable<TerminalInfo[keyof TerminalInfo]>,
): string {
  if (key === "process_time" && typeof v === "number") return pyFloatRepr(v);
  return headerSafe(String(v));
}

/** The headers of reference §1.3 (`to_headers()`), including `bt_header_input_obj_*` for required fields. */
export function synapseHeaders(
  def: SynapseDef,
  env: SynapseEnvelope,
  bodyHash: string,
  requestFields?: Record<string, unknown>,
): Record<string, string> {
  const headers: Record<string, string> = { name: def.name, timeout: pyFloatRepr(env.timeout) };
  for (const side of ["axon", "dendrite"] as const) {
    const info = env[side];
    for (const key of TERMINAL_FIELDS) {
      const v = info[key];
      if (v !== null && v !== undefined) headers[`bt_header_${side}_${key}`] = terminalHeaderValue(key, v);
    }
  }
  if (requestFields) {
    for (const [key, schema] of Object.entries(def.request.shape as Record<string, z.ZodType>)) {
      const opt = (schema as { _zod: { optin?: string } })._zod.optin;
      const value = requestFields[key];
      if (opt === "optional" || value === null || value === undefined) continue;
      headers[`bt_header_input_obj_${key}`] = Buffer.from(emptyOfType(value, schema)).toString("base64");
    }
  }
  headers.header_size = String(env.header_size);
  headers.total_size = String(env.total_size);
  headers.computed_body_hash = bodyHash;
  return headers;
}

/** JSON of an empty instance of the value's Python type: int → 0, float → 0.0, str → "", list → [], dict → {}. */
function emptyOfType(value: unknown, schema: z.ZodType): string {
  if (typeof value === "number") return isFloatSchema(schema) ? "0.0" : "0";
  if (typeof value === "bigint") return "0";
  if (typeof value === "string") return '""';
  if (typeof value === "boolean") return "false";
  if (Array.isArray(value)) return "[]";
  return "{}";
}

export class HeaderParseError extends Error {}

const INT_FIELDS = new Set<keyof TerminalInfo>(["status_code", "port", "version"]);

function parseIntHeader(key: string, text: string): number {
  if (!/^[+-]?\d+$/.test(text.trim())) throw new HeaderParseError(`${key} is not an integer: ${text}`);
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n)) throw new HeaderParseError(`${key} is out of range: ${text}`);
  return n;
}

/** Parses request or response headers into TerminalInfo objects and base fields (reference §1.3, axon side). */
export function parseSynapseHeaders(headers: Record<string, string | string[] | undefined>): {
  name: string | null;
  timeout: number | null;
  computedBodyHash: string | null;
  dendrite: TerminalInfo;
  axon: TerminalInfo;
} {
  const dendrite = emptyTerminal();
  const axon = emptyTerminal();
  const get = (k: string): string | undefined => {
    const v = headers[k];
    return Array.isArray(v) ? v[0] : v;
  };
  for (const [rawKey, rawValue] of Object.entries(headers)) {
    const key = rawKey.toLowerCase();
    const value = Array.isArray(rawValue) ? rawValue[0] : rawValue;
    if (value === undefined) continue;
    for (const [prefix, target] of [
      ["bt_header_axon_", axon],
      ["bt_header_dendrite_", dendrite],
    ] as const) {
      const idx = key.indexOf(prefix);
      if (idx < 0) continue;
      const field = key.slice(idx + prefix.length) as keyof TerminalInfo;
      if (!(TERMINAL_FIELDS as readonly string[]).includes(field)) continue;
      if (INT_FIELDS.has(field))
        (target as unknown as Record<string, unknown>)[field] = parseIntHeader(key, value);
      else if (field === "nonce") {
        if (!/^\d+$/.test(value.trim())) throw new HeaderParseError(`nonce is not an integer: ${value}`);
        target.nonce = BigInt(value.trim());
      } else if (field === "process_time") {
        const n = Number(value);
        if (value.trim() === "" || Number.isNaN(n))
          throw new HeaderParseError(`process_time is not a float: ${value}`);
        target.process_time = n;
      } else (target as unknown as Record<string, unknown>)[field] = value;
    }
  }
  for (const k of ["header_size", "total_size"]) {
    const v = get(k);
    if (v !== undefined) parseIntHeader(k, v);
  }
  const timeoutText = get("timeout");
  let timeout: number | null = null;
  if (timeoutText !== undefined) {
    timeout = Number(timeoutText);
    if (timeoutText.trim() === "" || !Number.isFinite(timeout) || timeout < 0) {
      throw new HeaderParseError(`timeout is not a float: ${timeoutText}`);
    }
  }
  return {
    name: get("name") ?? null,
    timeout,
    computedBodyHash: get("computed_body_hash") ?? null,
    dendrite,
    axon,
  };
}

/** A version-1 UUID string (time-based with a random node), as Python's `uuid.uuid1()` gives the dendrite/axon. */
export function uuid1(): string {
  const t =
    BigInt(Date.now()) * 10_000n + 122_192_928_000_000_000n + BigInt(Math.floor(Math.random() * 10_000));
  const timeLow = (t & 0xffffffffn).toString(16).padStart(8, "0");
  const timeMid = ((t >> 32n) & 0xffffn).toString(16).padStart(4, "0");
  const timeHi = (((t >> 48n) & 0x0fffn) | 0x1000n).toString(16).padStart(4, "0");
  const rnd = randomBytes(8);
  const clockSeq = (((rnd[0] << 8) | rnd[1]) & 0x3fff) | 0x8000;
  rnd[2] |= 0x01; // multicast bit: a random node id, not a MAC address
  return `${timeLow}-${timeMid}-${timeHi}-${clockSeq.toString(16)}-${rnd.subarray(2, 8).toString("hex")}`;
}

let lastNs = 0n;
const originNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Wall-clock nanoseconds (Python `time.time_ns()`), strictly increasing within this process. */
export function timeNs(): bigint {
  let now = originNs + process.hrtime.bigint();
  if (now <= lastNs) now = lastNs + 1n;
  lastNs = now;
  return now;
}
