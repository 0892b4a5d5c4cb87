import { describe, expect, it } from "vitest";
import { z } from "zod";
import { computeBodyHash, pyFloatRepr, pyStr, pyStrRepr, sha3Hex } from "./pystr.ts";

describe("reference §1.4 body hash vectors", () => {
  it("no hash fields hashes the empty string", () => {
    expect(computeBodyHash([], {})).toBe("a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
  });
  it("one int field 5", () => {
    expect(computeBodyHash(["dummy_input"], { dummy_input: 5 }, { dummy_input: z.int() })).toBe(
      "4fae6364bdbf7a0def40e782ea7656d4bc96dd42a6eaf71d62b977d74e733ecf",
    );
  });
  it("a list ['a', 'b'] then the int 3", () => {
    const shape = { a: z.array(z.string()), b: z.int() };
    expect(computeBodyHash(["a", "b"], { a: ["a", "b"], b: 3 }, shape)).toBe(
      "08696fdd8b2d8b15daac27eb6dca32b4cb53b3c99dbdd79fec9e2c419228f880",
    );
  });
  it("order of hash fields matters", () => {
    const v = { a: "x", b: "y" };
    expect(computeBodyHash(["a", "b"], v)).not.toBe(computeBodyHash(["b", "a"], v));
  });
  it("is SHA3-256 (FIPS 202), not Keccak", () => {
    expect(sha3Hex("abc")).toBe("3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
  });
});

describe("Python float repr", () => {
  it.each([
    [12, "12.0"],
    [0.1, "0.1"],
    [1e-5, "1e-05"],
    [0.0001, "0.0001"],
    [1e16, "1e+16"],
    [1e15, "1000000000000000.0"],
    [1.2345678901234568e17, "1.2345678901234568e+17"],
    [-2.5, "-2.5"],
    [-0, "-0.0"],
    [0, "0.0"],
    [1.5e-7, "1.5e-07"],
    [1.25e-3, "0.00125"],
    [1e300, "1e+300"],
    [Number.POSITIVE_INFINITY, "inf"],
    [Number.NaN, "nan"],
  ])("repr(%s) = %s", (value, expected) => {
    expect(pyFloatRepr(value)).toBe(expected);
  });
});

describe("Python str()/repr() of JSON values", () => {
  it("scalars", () => {
    expect(pyStr("hello")).toBe("hello");
    expect(pyStr(5)).toBe("5");
    expect(pyStr(5, z.number())).toBe("5.0");
    expect(pyStr(5, z.int())).toBe("5");
    expect(pyStr(5, z.number().int().optional())).toBe("5");
    expect(pyStr(true)).toBe("True");
    expect(pyStr(false)).toBe("False");
    expect(pyStr(null)).toBe("None");
    expect(pyStr(12345678901234567890n)).toBe("12345678901234567890");
  });
  it("lists and dicts use Python spacing and quoting", () => {
    expect(pyStr([1, 2])).toBe("[1, 2]");
    expect(pyStr(["a", "b"])).toBe("['a', 'b']");
    expect(pyStr([])).toBe("[]");
    expect(pyStr({ k: 1 })).toBe("{'k': 1}");
    expect(pyStr({ k: [true, null, "x"] })).toBe("{'k': [True, None, 'x']}");
    expect(pyStr([1, 2.5], z.array(z.number()))).toBe("[1.0, 2.5]");
    expect(pyStr({ a: 1 }, z.record(z.string(), z.number()))).toBe("{'a': 1.0}");
    expect(pyStr({ a: 1, b: 2 }, z.object({ a: z.number(), b: z.int() }))).toBe("{'a': 1.0, 'b': 2}");
    expect(pyStr([1, "a"], z.tuple([z.int(), z.string()]))).toBe("(1, 'a')");
    expect(pyStr([1], z.tuple([z.int()]))).toBe("(1,)");
  });
  it("string repr picks quotes and escapes like CPython", () => {
    expect(pyStrRepr("it's")).toBe(`"it's"`);
    expect(pyStrRepr(`say "hi"`)).toBe(`'say "hi"'`);
    expect(pyStrRepr(`it's "x"`)).toBe(`'it\\'s "x"'`);
    expect(pyStrRepr("a\\b")).toBe("'a\\\\b'");
    expect(pyStrRepr("l1\nl2\t\r")).toBe("'l1\\nl2\\t\\r'");
    expect(pyStrRepr("\x00\x7f\x85")).toBe("'\\x00\\x7f\\x85'");
    expect(pyStrRepr("\u200b")).toBe("'\\u200b'");
    expect(pyStrRepr("\u{e0001}")).toBe("'\\U000e0001'");
    expect(pyStrRepr("\u00a0")).toBe("'\\xa0'");
    expect(pyStrRepr("héllo ünïcode 日本 😀")).toBe("'héllo ünïcode 日本 😀'");
  });
});
