import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ApiError } from "../errors.ts";
import { sampleMachines } from "../testing/in-memory-market-double.ts";
import { applyQuery, withDefaults } from "./apply.ts";
import { FIELD_ALIASES, FIELDS } from "./fields.ts";
import { formatQuery, parseJsonQuery, parseQuery, type SearchQuery } from "./parse.ts";

function errorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error("expected an ApiError");
}

describe("parseQuery", () => {
  it("parses the issue's example", () => {
    const q = parseQuery(
      "gpu=H100 count>=2 vram>=80 price<=2.5 reliability>=0.98 verified=true sort=-price limit=5",
    );
    expect(q.filters).toEqual([
      { field: "gpu", op: "eq", value: "H100" },
      { field: "count", op: "gte", value: 2 },
      { field: "vram", op: "gte", value: 80 },
      { field: "price", op: "lte", value: 2.5 },
      { field: "reliability", op: "gte", value: 0.98 },
      { field: "verified", op: "eq", value: true },
    ]);
    expect(q.sort).toEqual([{ field: "price", direction: "desc" }]);
    expect(q.limit).toBe(5);
  });

  it("reads lists, aliases, underscores and any", () => {
    const q = parseQuery("model=RTX_4090,A100 num_gpus!=3 verified=any");
    expect(q.filters).toEqual([
      { field: "gpu", op: "in", value: ["RTX 4090", "A100"] },
      { field: "count", op: "ne", value: 3 },
    ]);
    expect(q.any).toEqual(["verified"]);
  });

  it.each([
    ["colour=red", "colour=red", 'unknown field "colour"'],
    ["gpu>H100", "gpu>H100", 'operator ">" does not apply'],
    ["count=>2", "count=>2", "bad operator"],
    ["count~2", "count~2", "bad operator"],
    ["count>=two", "count>=two", "needs a number"],
    ["verified=maybe", "verified=maybe", "needs true or false"],
    ["price<=", "price<=", "missing value"],
    ["count", "count", "no operator"],
    ["limit=0", "limit=0", "between 1 and"],
    ["sort=colour", "sort=colour", 'unknown sort field "colour"'],
    ["gpu=H100 ram>>4", "ram>>4", "bad operator"],
    // Object.prototype's members are no fields (found by the API fuzzer: a 500 before)
    ["constructor>=1", "constructor>=1", 'unknown field "constructor"'],
    ["sort=constructor", "sort=constructor", 'unknown sort field "constructor"'],
    ["__proto__=1", "__proto__=1", 'unknown field "__proto__"'],
    ["sort=-toString", "sort=-toString", 'unknown sort field "toString"'],
  ])("rejects %s naming the token", (text, token, message) => {
    const err = errorOf(() => parseQuery(text));
    expect(err.status).toBe(400);
    expect(err.code).toBe("QUERY_INVALID");
    expect(err.message).toContain(`"${token}"`);
    expect(err.message).toContain(message);
  });

  it("never throws anything but a QUERY_INVALID ApiError on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        try {
          parseQuery(text);
        } catch (err) {
          expect(err).toBeInstanceOf(ApiError);
          expect((err as ApiError).code).toBe("QUERY_INVALID");
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("rejects every unknown field name, naming it", () => {
    const known = new Set([...Object.keys(FIELDS), ...Object.keys(FIELD_ALIASES), "sort", "order", "limit"]);
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z_][a-z0-9_]{0,12}$/).filter((n) => !known.has(n)),
        (name) => {
          const err = errorOf(() => parseQuery(`gpu=H100 ${name}>=1`));
          expect(err.message).toContain(`unknown field "${name}"`);
          expect(err.details?.token).toBe(`${name}>=1`);
        },
      ),
    );
  });

  const numberFields = Object.entries(FIELDS)
    .filter(([, d]) => d.type === "number")
    .map(([f]) => f);
  const arbQuery: fc.Arbitrary<SearchQuery> = fc.record({
    filters: fc.array(
      fc.oneof(
        fc.record({
          field: fc.constantFrom(...numberFields),
          op: fc.constantFrom(
            "eq" as const,
            "ne" as const,
            "gt" as const,
            "gte" as const,
            "lt" as const,
            "lte" as const,
          ),
          value: fc.integer({ min: 0, max: 100_000 }),
        }),
        fc.record({
          field: fc.constant("verified"),
          op: fc.constantFrom("eq" as const, "ne" as const),
          value: fc.boolean(),
        }),
        fc.record({
          field: fc.constant("gpu"),
          op: fc.constantFrom("in" as const, "nin" as const),
          value: fc.array(fc.stringMatching(/^[A-Za-z0-9]{1,6}( [A-Za-z0-9]{1,4})?$/), {
            minLength: 2,
            maxLength: 3,
          }),
        }),
      ),
      { maxLength: 6 },
    ),
    sort: fc.array(
      fc.record({
        field: fc.constantFrom("price", "reliability", "count"),
        direction: fc.constantFrom("asc" as const, "desc" as const),
      }),
      { maxLength: 2 },
    ),
    limit: fc.integer({ min: 1, max: 1000 }),
    any: fc.constant([]),
  });

  it("formatQuery and parseQuery round-trip", () => {
    fc.assert(
      fc.property(arbQuery, (q) => {
        expect(parseQuery(formatQuery(q))).toEqual(q);
      }),
      { numRuns: 500 },
    );
  });
});

describe("parseJsonQuery", () => {
  it("is the same language as JSON", () => {
    expect(
      parseJsonQuery({
        where: { gpu: { eq: "H100" }, count: { gte: 2 }, verified: true },
        sort: "-price",
        limit: 3,
      }),
    ).toEqual(parseQuery("gpu=H100 count>=2 verified=true sort=-price limit=3"));
  });
  it("names the bad path", () => {
    expect(errorOf(() => parseJsonQuery({ where: { count: { approx: 2 } } })).message).toContain(
      '"where.count.approx"',
    );
    expect(errorOf(() => parseJsonQuery({ where: { wat: { eq: 2 } } })).message).toContain(
      'unknown field "wat"',
    );
    expect(errorOf(() => parseJsonQuery({ where: { count: { gte: "x" } } })).message).toContain(
      "needs a number",
    );
  });
});

describe("applyQuery", () => {
  const machines = sampleMachines(200, Date.UTC(2026, 0, 1));
  it("returns only machines that satisfy every filter, sorted, limited", () => {
    const q = withDefaults(parseQuery("count>=2 price<=2.5 sort=-reliability limit=10"));
    const { total, machines: hits } = applyQuery(machines, q, Date.UTC(2026, 0, 1));
    expect(total).toBe(
      machines.filter((m) => m.verified && m.gpuCount >= 2 && m.pricePerGpuHour <= 2.5).length,
    );
    expect(hits.length).toBe(10);
    for (const m of hits) expect(m.verified && m.gpuCount >= 2 && m.pricePerGpuHour <= 2.5).toBe(true);
    for (let i = 1; i < hits.length; i++)
      expect(hits[i - 1].reliability).toBeGreaterThanOrEqual(hits[i].reliability);
  });
  it("shows unproven machines only when asked (verified=any)", () => {
    const now = Date.UTC(2026, 0, 1);
    const def = applyQuery(machines, withDefaults(parseQuery("limit=1000")), now);
    const all = applyQuery(machines, withDefaults(parseQuery("verified=any limit=1000")), now);
    expect(def.total).toBe(machines.filter((m) => m.verified).length);
    expect(all.total).toBe(machines.length);
  });
  it("matches model names case-insensitively with _ for spaces", () => {
    const now = Date.UTC(2026, 0, 1);
    const r = applyQuery(machines, withDefaults(parseQuery("gpu=nvidia_geforce_rtx_4090 limit=1000")), now);
    expect(r.total).toBeGreaterThan(0);
    for (const m of r.machines) expect(m.gpuModel).toBe("NVIDIA GeForce RTX 4090");
  });
});
