import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { div, fromInt, fromU16Proportion, mul, ONE, toU16Proportion } from "./fixed.ts";

const big = (x: number) => BigInt(x);

describe("I32F32 emulation", () => {
  it("multiplies exactly like a truncating 128-bit product", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 2 ** 36 }), (a, b) => {
        return mul(a, b) === Number((big(a) * big(b)) >> 32n);
      }),
    );
  });
  it("divides exactly like a truncating (a << 32) / b, and by zero gives 0", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 50 }), fc.integer({ min: 1, max: 2 ** 50 }), (a, b) => {
        return div(a, b) === Number((big(a) << 32n) / big(b));
      }),
    );
    expect(div(5, 0)).toBe(0);
    expect(div(fromInt(1), fromInt(3))).toBe(1431655765);
  });
  it("converts u16 proportions like subtensor", () => {
    expect(toU16Proportion(ONE)).toBe(65535);
    expect(toU16Proportion(ONE / 2)).toBe(32767);
    expect(fromU16Proportion(65535)).toBe(ONE);
    expect(toU16Proportion(fromU16Proportion(16383))).toBe(16382); // truncation, as the chain does
  });
});
