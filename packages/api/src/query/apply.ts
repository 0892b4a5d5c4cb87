import type { MachineView } from "../backend.ts";
import { FIELDS } from "./fields.ts";
import type { Filter, Scalar, SearchQuery } from "./parse.ts";

/** Defaults that apply unless the query names the field (or sets it to `any`): only proven machines. */
export const DEFAULT_FILTERS: Filter[] = [{ field: "verified", op: "eq", value: true }];
export const DEFAULT_SORT = [{ field: "price", direction: "asc" as const }];

/** Adds the defaults the renter did not override, so the response can echo exactly what was applied. */
export function withDefaults(q: SearchQuery): SearchQuery {
  const named = new Set([...q.filters.map((f) => f.field), ...q.any]);
  return {
    ...q,
    filters: [...DEFAULT_FILTERS.filter((d) => !named.has(d.field)), ...q.filters],
    sort: q.sort.length > 0 ? q.sort : DEFAULT_SORT,
  };
}

function same(a: string | number | boolean, b: Scalar): boolean {
  if (typeof a === "string" && typeof b === "string") return a.toLowerCase() === b.toLowerCase();
  return a === b;
}

export function matches(m: MachineView, f: Filter, nowMs: number): boolean {
  const v = FIELDS[f.field].get(m, nowMs);
  if (v === null) return f.op === "ne" || f.op === "nin";
  switch (f.op) {
    case "eq":
      return same(v, f.value as Scalar);
    case "ne":
      return !same(v, f.value as Scalar);
    case "in":
      return (f.value as Scalar[]).some((x) => same(v, x));
    case "nin":
      return !(f.value as Scalar[]).some((x) => same(v, x));
    case "gt":
      return (v as number) > (f.value as number);
    case "gte":
      return (v as number) >= (f.value as number);
    case "lt":
      return (v as number) < (f.value as number);
    case "lte":
      return (v as number) <= (f.value as number);
  }
}

function compare(a: string | number | boolean | null, b: string | number | boolean | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === "string" && typeof b === "string") return a.localeCompare(b);
  return Number(a) < Number(b) ? -1 : 1;
}

/** Turns a filter into a predicate once per query (targets lower-cased up front, not per machine). */
function compile(f: Filter, nowMs: number): (m: MachineView) => boolean {
  const get = FIELDS[f.field].get;
  const lower = (v: Scalar) => (typeof v === "string" ? v.toLowerCase() : v);
  const norm = (v: string | number | boolean) => (typeof v === "string" ? v.toLowerCase() : v);
  if (f.op === "in" || f.op === "nin") {
    const set = new Set((f.value as Scalar[]).map(lower));
    const want = f.op === "in";
    return (m) => {
      const v = get(m, nowMs);
      return v === null ? !want : set.has(norm(v)) === want;
    };
  }
  if (f.op === "eq" || f.op === "ne") {
    const target = lower(f.value as Scalar);
    const want = f.op === "eq";
    return (m) => {
      const v = get(m, nowMs);
      return v === null ? !want : (norm(v) === target) === want;
    };
  }
  return (m) => matches(m, f, nowMs);
}

/** Filters, sorts (nulls last, hotkey as the final tie-break so results are stable) and limits. */
export function applyQuery(
  machines: readonly MachineView[],
  q: SearchQuery,
  nowMs: number,
): { total: number; machines: MachineView[] } {
  const predicates = q.filters.map((f) => compile(f, nowMs));
  const hits = machines.filter((m) => predicates.every((p) => p(m)));
  hits.sort((x, y) => {
    for (const key of q.sort) {
      const a = FIELDS[key.field].get(x, nowMs);
      const b = FIELDS[key.field].get(y, nowMs);
      if (a === null || b === null) {
        if (a !== b) return a === null ? 1 : -1; // unknown values last in either direction
        continue;
      }
      const c = compare(a, b);
      if (c !== 0) return key.direction === "asc" ? c : -c;
    }
    return x.minerHotkey < y.minerHotkey ? -1 : x.minerHotkey > y.minerHotkey ? 1 : 0;
  });
  return { total: hits.length, machines: hits.slice(0, q.limit) };
}
