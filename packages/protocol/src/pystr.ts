import { createHash } from "node:crypto";
import type { z } from "zod";

/**
 * Python `str()` / `repr()` of JSON-like values, so that the body hash (reference §1.4) matches a Python axon's.
 * A JS number is ambiguous (Python has int and float): with a zod schema the declared type decides (`z.int()` or
 * `.int()` → int; other `z.number()` → float); without one an integral number prints as an int.
 */

type Kind = "int" | "float" | "unknown";

/** Python `repr(float)`: shortest round-trip digits, scientific below 1e-4 or from 1e16. */
export function pyFloatRepr(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const sign = value < 0 ? "-" : "";
  const [mantissa, expText] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const body = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const expAbs = String(Math.abs(exp)).padStart(2, "0");
    return `${sign}${body}e${exp < 0 ? "-" : "+"}${expAbs}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac || "0"}`;
}

/** Python `repr(str)`: single quotes unless the text has ' and no ", escapes like CPython. */
export function pyStrRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (isPrintable(ch)) out += ch;
    else {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x100) out += `\\x${cp.toString(16).padStart(2, "0")}`;
      else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
      else out += `\\U${cp.toString(16).padStart(8, "0")}`;
    }
  }
  return out + quote;
}

const NON_PRINTABLE = /^[\p{C}\p{Z}]$/u;
function isPrintable(ch: string): boolean {
  return ch === " " || !NON_PRINTABLE.test(ch);
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let s = schema as { _zod?: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } } } | undefined;
  while (s?._zod) {
    const def = s._zod.def;
    if (
      (def.type === "optional" ||
        def.type === "nullable" ||
        def.type === "default" ||
        def.type === "prefault" ||
        def.type === "readonly" ||
        def.type === "catch" ||
        def.type === "nonoptional") &&
      def.innerType
    ) {
      s = def.innerType as typeof s;
    } else if (def.type === "pipe" && def.in) {
      s = def.in as typeof s;
    } else break;
  }
  return s as z.ZodType | undefined;
}

function defOf(schema: z.ZodType | undefined): Record<string, unknown> & { type?: string } {
  return ((schema as { _zod?: { def: Record<string, unknown> } } | undefined)?._zod?.def ?? {}) as Record<
    string,
    unknown
  > & { type?: string };
}

function numberKind(schema: z.ZodType | undefined): Kind {
  const s = unwrap(schema) as { format?: string | null } | undefined;
  const def = defOf(s as z.ZodType | undefined);
  if (def.type === "bigint") return "int";
  if (def.type !== "number") return "unknown";
  return s?.format && /int/.test(s.format) ? "int" : "float";
}

function pyNumber(value: number, kind: Kind): string {
  if (kind === "float") return pyFloatRepr(value);
  if (Number.isInteger(value)) return BigInt(value).toString();
  return pyFloatRepr(value);
}

/** Python `repr()` of a JSON-like value (as used for list/dict elements). */
export function pyRepr(value: unknown, schema?: z.ZodType): string {
  if (typeof value === "string") return pyStrRepr(value);
  return pyStr(value, schema);
}

/** Python `str()` of a JSON-like value; `schema` (zod) disambiguates int from float. */
export function pyStr(value: unknown, schema?: z.ZodType): string {
  const s = unwrap(schema);
  const def = defOf(s);
  if (value === null || value === undefined) return "None";
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return pyNumber(value, numberKind(s));
  if (Array.isArray(value)) {
    if (def.type === "tuple") {
      const items = (def.items as z.ZodType[] | undefined) ?? [];
      const parts = value.map((v, i) => pyRepr(v, items[i] ?? (def.rest as z.ZodType | undefined)));
      return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(", ")})`;
    }
    const element = def.type === "array" ? (def.element as z.ZodType) : undefined;
    return `[${value.map((v) => pyRepr(v, element)).join(", ")}]`;
  }
  if (typeof value === "object") {
    const shape = def.type === "object" ? (def.shape as Record<string, z.ZodType>) : undefined;
    const valueType = def.type === "record" ? (def.valueType as z.ZodType) : undefined;
    const parts = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => `${pyStrRepr(k)}: ${pyRepr(v, shape?.[k] ?? valueType)}`,
    );
    return `{${parts.join(", ")}}`;
  }
  throw new TypeError(`cannot render a ${typeof value} as Python str()`);
}

export function sha3Hex(data: string): string {
  return createHash("sha3-256").update(data, "utf8").digest("hex");
}

/**
 * `computed_body_hash` of reference §1.4: SHA3-256 over the concatenated hex SHA3-256 of `str(value)` of each
 * hashed field, in declared order. No hashed fields → SHA3-256("").
 */
export function computeBodyHash(
  fields: readonly string[],
  values: Record<string, unknown>,
  shape?: Record<string, z.ZodType>,
): string {
  return sha3Hex(fields.map((f) => sha3Hex(pyStr(values[f], shape?.[f]))).join(""));
}
