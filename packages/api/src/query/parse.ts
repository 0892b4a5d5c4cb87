import { ApiError } from "../errors.ts";
import { canonicalField, FIELDS, type FieldType } from "./fields.ts";

export type Op = "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "in" | "nin";
export type Scalar = string | number | boolean;
export interface Filter {
  field: string;
  op: Op;
  value: Scalar | Scalar[];
}
export interface SortKey {
  field: string;
  direction: "asc" | "desc";
}
export interface SearchQuery {
  filters: Filter[];
  sort: SortKey[];
  limit: number;
  /** Fields the renter set to `any` (so no default applies to them). */
  any: string[];
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;

const OPERATORS: [string, Op][] = [
  [">=", "gte"],
  ["<=", "lte"],
  ["!=", "ne"],
  ["==", "eq"],
  ["=", "eq"],
  [">", "gt"],
  ["<", "lt"],
];
const OP_SYMBOL: Record<Op, string> = {
  eq: "=",
  ne: "!=",
  gt: ">",
  gte: ">=",
  lt: "<",
  lte: "<=",
  in: " in ",
  nin: " notin ",
};
const OPS_BY_TYPE: Record<FieldType, Op[]> = {
  string: ["eq", "ne", "in", "nin"],
  number: ["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"],
  boolean: ["eq", "ne"],
};

function queryError(token: string, message: string, hint?: string): ApiError {
  return new ApiError(400, "QUERY_INVALID", `${message} (in "${token}")`, {
    hint: hint ?? `fields: ${Object.keys(FIELDS).join(", ")}; operators: = != > >= < <=, lists with a,b`,
    field: "q",
    details: { token },
  });
}

function coerceScalar(field: string, type: FieldType, raw: string, token: string): Scalar {
  if (raw === "") throw queryError(token, `missing value for "${field}"`);
  if (type === "number") {
    const n = Number(raw);
    if (!Number.isFinite(n) || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw)) {
      throw queryError(token, `"${field}" needs a number, got "${raw}"`);
    }
    return n;
  }
  if (type === "boolean") {
    const lower = raw.toLowerCase();
    if (lower === "true" || lower === "1" || lower === "yes") return true;
    if (lower === "false" || lower === "0" || lower === "no") return false;
    throw queryError(token, `"${field}" needs true or false, got "${raw}"`);
  }
  return raw.replace(/_/g, " ");
}

/** Checks a filter's operator and value types; shared by the text and JSON forms. */
export function checkFilter(field: string, op: Op, value: unknown, token: string): Filter {
  const canonical = canonicalField(field);
  if (!canonical) throw queryError(token, `unknown field "${field}"`);
  const def = FIELDS[canonical];
  if (!OPS_BY_TYPE[def.type].includes(op)) {
    throw queryError(
      token,
      `operator "${OP_SYMBOL[op].trim()}" does not apply to ${def.type} field "${canonical}"`,
      `${canonical} accepts: ${OPS_BY_TYPE[def.type].map((o) => OP_SYMBOL[o].trim()).join(" ")}`,
    );
  }
  const isList = op === "in" || op === "nin";
  const checkOne = (v: unknown): Scalar => {
    if (typeof v === "string") return coerceScalar(canonical, def.type, v, token);
    if (def.type === "number" && typeof v === "number" && Number.isFinite(v)) return v;
    if (def.type === "boolean" && typeof v === "boolean") return v;
    if (def.type === "string" && (typeof v === "number" || typeof v === "boolean")) return String(v);
    throw queryError(token, `"${canonical}" needs a ${def.type} value`);
  };
  if (isList) {
    if (!Array.isArray(value) || value.length === 0) throw queryError(token, `"${canonical}" needs a list`);
    return { field: canonical, op, value: value.map(checkOne) };
  }
  if (Array.isArray(value)) throw queryError(token, `"${canonical}" takes one value with this operator`);
  return { field: canonical, op, value: checkOne(value) };
}

function parseSort(raw: string, token: string): SortKey[] {
  return raw.split(",").map((part) => {
    let name = part.trim();
    let direction: "asc" | "desc" = "asc";
    if (name.startsWith("-")) {
      direction = "desc";
      name = name.slice(1);
    } else if (name.startsWith("+")) name = name.slice(1);
    const m = /^([a-z_]+)(?::(asc|desc))?$/i.exec(name);
    if (!m)
      throw queryError(token, `bad sort key "${part}"`, "sort=price or sort=-reliability or sort=price:asc");
    const field = canonicalField(m[1]);
    if (!field) throw queryError(token, `unknown sort field "${m[1]}"`);
    if (m[2]) direction = m[2].toLowerCase() as "asc" | "desc";
    return { field, direction };
  });
}

function parseLimit(raw: string, token: string): number {
  if (!/^\d+$/.test(raw)) throw queryError(token, `limit needs a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < 1 || n > MAX_LIMIT) throw queryError(token, `limit must be between 1 and ${MAX_LIMIT}`);
  return n;
}

/**
 * Parses the text search language: whitespace-separated `field op value` terms, all of which must hold.
 * `gpu=H100,A100` matches either; `gpu!=A100`; `field=any` removes a default; `sort=-price,reliability` and
 * `limit=10` set order and size. Spaces in model names are written `_`. Every token is checked: an unknown
 * field, a bad operator or a malformed value throws an ApiError naming the token.
 *
 * @example parseQuery("gpu=H100 count>=2 vram>=80 price<=2.5 reliability>=0.98 verified=true sort=price limit=5")
 */
export function parseQuery(text: string): SearchQuery {
  const query: SearchQuery = { filters: [], sort: [], limit: DEFAULT_LIMIT, any: [] };
  const tokens = text.split(/\s+/).filter((t) => t.length > 0);
  for (const token of tokens) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(.*)$/.exec(token);
    if (!m) throw queryError(token, "a term must start with a field name");
    const [, name, rest] = m;
    const opEntry = OPERATORS.find(([sym]) => rest.startsWith(sym));
    if (!opEntry) {
      throw queryError(
        token,
        rest
          ? `bad operator "${rest.replace(/[A-Za-z0-9_.,-].*$/, "") || rest}"`
          : `no operator after "${name}"`,
      );
    }
    const [sym, op] = opEntry;
    const raw = rest.slice(sym.length);
    if (/[<>=!]/.test(raw.charAt(0))) throw queryError(token, `bad operator "${sym}${raw.charAt(0)}"`);
    const lower = name.toLowerCase();
    if (lower === "sort" || lower === "order") {
      if (op !== "eq") throw queryError(token, "sort takes =");
      query.sort.push(...parseSort(raw, token));
      continue;
    }
    if (lower === "limit") {
      if (op !== "eq") throw queryError(token, "limit takes =");
      query.limit = parseLimit(raw, token);
      continue;
    }
    const field = canonicalField(name);
    if (!field) throw queryError(token, `unknown field "${name}"`);
    if (raw.toLowerCase() === "any") {
      if (op !== "eq") throw queryError(token, "any only works with =");
      query.any.push(field);
      continue;
    }
    if (raw.includes(",")) {
      if (op !== "eq" && op !== "ne") throw queryError(token, "a list of values needs = or !=");
      query.filters.push(checkFilter(field, op === "eq" ? "in" : "nin", raw.split(","), token));
    } else {
      query.filters.push(checkFilter(field, op, raw, token));
    }
  }
  return query;
}

/** The JSON form: `{ where: { field: { op: value } }, sort: [{field, direction}] | "price", limit }`. */
export interface JsonSearch {
  where?: Record<string, Record<string, unknown> | string | number | boolean>;
  sort?: string | SortKey[];
  limit?: number;
}

export function parseJsonQuery(input: JsonSearch): SearchQuery {
  const query: SearchQuery = { filters: [], sort: [], limit: DEFAULT_LIMIT, any: [] };
  for (const [name, cond] of Object.entries(input.where ?? {})) {
    const token = `where.${name}`;
    const field = canonicalField(name);
    if (!field) throw queryError(token, `unknown field "${name}"`);
    if (cond === "any") {
      query.any.push(field);
      continue;
    }
    if (typeof cond !== "object" || cond === null || Array.isArray(cond)) {
      query.filters.push(checkFilter(field, "eq", cond, token));
      continue;
    }
    const entries = Object.entries(cond);
    if (entries.length === 0) throw queryError(token, `no condition for "${name}"`);
    for (const [opName, value] of entries) {
      const op = (opName === "neq" ? "ne" : opName === "notin" ? "nin" : opName) as Op;
      if (!(op in OP_SYMBOL))
        throw queryError(`${token}.${opName}`, `bad operator "${opName}"`, "eq ne gt gte lt lte in nin");
      query.filters.push(checkFilter(field, op, value, `${token}.${opName}`));
    }
  }
  if (typeof input.sort === "string") query.sort = parseSort(input.sort, "sort");
  else if (input.sort) {
    query.sort = input.sort.map((k, i) => {
      const field = canonicalField(k.field);
      if (!field) throw queryError(`sort[${i}].field`, `unknown sort field "${k.field}"`);
      return { field, direction: k.direction };
    });
  }
  if (input.limit !== undefined) {
    if (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > MAX_LIMIT) {
      throw queryError("limit", `limit must be a whole number between 1 and ${MAX_LIMIT}`);
    }
    query.limit = input.limit;
  }
  return query;
}

function formatValue(v: Scalar): string {
  return typeof v === "string" ? v.replace(/ /g, "_") : String(v);
}

/** Writes a query back in the text language; `parseQuery(formatQuery(q))` gives `q` again. */
export function formatQuery(q: SearchQuery): string {
  const parts: string[] = [];
  for (const f of q.filters) {
    if (f.op === "in" || f.op === "nin") {
      parts.push(
        `${f.field}${f.op === "in" ? "=" : "!="}${(f.value as Scalar[]).map(formatValue).join(",")}`,
      );
    } else parts.push(`${f.field}${OP_SYMBOL[f.op]}${formatValue(f.value as Scalar)}`);
  }
  for (const field of q.any) parts.push(`${field}=any`);
  if (q.sort.length > 0)
    parts.push(`sort=${q.sort.map((s) => (s.direction === "desc" ? "-" : "") + s.field).join(",")}`);
  parts.push(`limit=${q.limit}`);
  return parts.join(" ");
}
