// Test support: a fast-check arbitrary of values that MOSTLY satisfy a zod 4 schema (regex patterns, lengths,
// numeric bounds, enums, nested objects), so a fuzzer gets past body validation and into the handlers. Sizes are
// kept small (strings ≤ 64, arrays ≤ 3 unless the schema needs more; numbers near their bounds).
import fc from "fast-check";
import type { z } from "zod";

interface Def {
  type: string;
  checks?: { _zod: { def: Record<string, unknown> } }[];
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string | number>;
  values?: unknown[];
  in?: z.ZodType;
  valueType?: z.ZodType;
}

const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

function checksOf(d: Def): Record<string, unknown>[] {
  return (d.checks ?? []).map((c) => c._zod.def);
}

export function nearValid(schema: z.ZodType, depth = 0): fc.Arbitrary<unknown> {
  const d = defOf(schema);
  const checks = checksOf(d);
  switch (d.type) {
    case "string": {
      const pattern = checks.find((c) => c.format === "regex")?.pattern as RegExp | undefined;
      if (pattern) return fc.stringMatching(pattern, { size: "small" });
      const fmt = checks.find((c) => c.check === "string_format")?.format;
      if (fmt === "uuid" || fmt === "guid") return fc.uuid();
      if (fmt === "url") return fc.webUrl();
      const exact = checks.find((c) => c.check === "length_equals")?.length as number | undefined;
      if (exact !== undefined) return fc.string({ minLength: exact, maxLength: exact });
      const min = (checks.find((c) => c.check === "min_length")?.minimum as number | undefined) ?? 0;
      const max = (checks.find((c) => c.check === "max_length")?.maximum as number | undefined) ?? 64;
      return fc.string({ minLength: min, maxLength: Math.max(min, Math.min(max, 64)) });
    }
    case "number":
    case "int": {
      const lo = checks.find((c) => c.check === "greater_than")?.value as number | undefined;
      const hi = checks.find((c) => c.check === "less_than")?.value as number | undefined;
      const isInt = d.type === "int" || checks.some((c) => c.format === "safeint" || c.format === "int32");
      const min = lo ?? 0;
      const max = Math.min(hi ?? min + 1000, min + 1000);
      return isInt
        ? fc.integer({ min: Math.ceil(min), max: Math.floor(Math.max(min, max)) })
        : fc.double({ min, max: Math.max(min, max), noNaN: true });
    }
    case "boolean":
      return fc.boolean();
    case "enum":
      return fc.constantFrom(...Object.values(d.entries ?? { x: "x" }));
    case "literal":
      return fc.constantFrom(...(d.values ?? [null]));
    case "null":
      return fc.constant(null);
    case "array": {
      if (depth > 4) return fc.constant([]);
      const min = (checks.find((c) => c.check === "min_length")?.minimum as number | undefined) ?? 0;
      const max = (checks.find((c) => c.check === "max_length")?.maximum as number | undefined) ?? 3;
      return fc.array(nearValid(d.element!, depth + 1), { minLength: min, maxLength: Math.max(min, Math.min(max, 3)) });
    }
    case "object": {
      if (depth > 4) return fc.constant({});
      const parts: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(d.shape ?? {})) parts[k] = nearValid(v, depth + 1);
      return fc.record(parts);
    }
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "nonoptional":
    case "catch":
      return nearValid(d.innerType!, depth);
    case "union":
      return fc.oneof(...(d.options ?? []).map((o) => nearValid(o, depth + 1)));
    case "pipe":
      return nearValid(d.in!, depth);
    case "record":
      return fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), nearValid(d.valueType!, depth + 1), {
        maxKeys: 3,
      });
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}
