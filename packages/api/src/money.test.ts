import fc from "fast-check";
import { expect, it } from "vitest";
import { costForSeconds, creditsToMicro, hourlyRateMicro, secondsAffordable } from "./money.ts";

it("converts prices to integer micro-credits", () => {
  expect(creditsToMicro(2.5)).toBe(2_500_000);
  expect(creditsToMicro(0.1 + 0.2)).toBe(300_000);
  expect(hourlyRateMicro(2.5, 2)).toBe(5_000_000);
  expect(() => creditsToMicro(-1)).toThrow(RangeError);
});

it("charges exactly to the second", () => {
  expect(costForSeconds(3_600_000, 1)).toBe(1000);
  expect(costForSeconds(5_000_000, 3725)).toBe(5_173_611);
  expect(costForSeconds(5_000_000, 0)).toBe(0);
});

it("charging in any sequence of ticks sums to the cost of the whole period", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100_000_000 }),
      fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 50 }),
      (rate, steps) => {
        let t = 0;
        let charged = 0;
        for (const s of steps) {
          t += s;
          charged += costForSeconds(rate, t) - charged;
        }
        expect(charged).toBe(costForSeconds(rate, t));
      },
    ),
  );
});

it("a balance pays for the seconds it covers and not one more", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100_000_000 }),
      fc.integer({ min: 0, max: 1e12 }),
      (rate, balance) => {
        const s = secondsAffordable(rate, balance);
        expect(costForSeconds(rate, s)).toBeLessThanOrEqual(balance);
        expect(costForSeconds(rate, s + 1)).toBeGreaterThan(balance - Math.ceil(rate / 3600) - 1);
      },
    ),
  );
});
