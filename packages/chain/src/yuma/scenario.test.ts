import { describe, expect, it } from "vitest";
import { simulateYuma } from "./scenario.ts";

const ISSUE_EXAMPLE = {
  params: {
    kappa: 32767,
    bondsMovingAverage: 975000,
    bondsPenalty: 0,
    yuma3: true,
    liquidAlpha: { enabled: true, low: 0.1, high: 0.3, steepness: 1000 },
    maxAllowedValidators: 3,
  },
  stake: [33, 33, 34, 0, 0],
  epochs: [{ weights: {} }, { weights: { "0": { "3": 1, "4": 0 }, "1": { "3": 1 } } }],
};

describe("simulateYuma scenario format", () => {
  it("reads the issue's example and returns per-epoch vectors indexed by uid", () => {
    const { epochs } = simulateYuma(ISSUE_EXAMPLE);
    expect(epochs).toHaveLength(2);
    for (const e of epochs) {
      for (const v of [e.consensus, e.incentive, e.dividends, e.validatorPermit]) expect(v).toHaveLength(5);
      expect(e.bonds).toHaveLength(5);
      for (const row of e.bonds)
        expect(row.every((b) => Number.isInteger(b) && b >= 0 && b <= 65535)).toBe(true);
    }
    expect(epochs[0].validatorPermit).toEqual([true, true, true, false, false]);
    expect(epochs[1].incentive[3]).toBeCloseTo(1, 6);
    expect(epochs[1].dividends[2]).toBe(0); // validator 2 set no weights
    expect(epochs[1].bonds[0][3]).toBeGreaterThan(0);
  });

  it("keeps a validator's previous weights when it is missing from an epoch", () => {
    const sc = {
      stake: [1, 0, 0],
      params: { tempo: 1 },
      epochs: [{ weights: {} }, { weights: { "0": { "1": 1 } } }, { weights: {} }],
    };
    const { epochs } = simulateYuma(sc);
    expect(epochs[1].incentive).toEqual(epochs[2].incentive);
    expect(epochs[2].incentive[1]).toBeCloseTo(1, 6);
  });

  it("rejects malformed scenarios with INVALID_SCENARIO", () => {
    const bad = [
      {},
      { stake: [], epochs: [{ weights: {} }] },
      { stake: [1, 0], epochs: [] },
      { stake: [1, 0], epochs: [{ weights: { "5": { "1": 1 } } }] },
      { stake: [1, 0], epochs: [{ weights: { "0": { "9": 1 } } }] },
      { stake: [1, 0], epochs: [{ weights: { "0": { "1": -1 } } }] },
      { stake: [1, 0], params: { kapa: 1 }, epochs: [{ weights: {} }] },
      { stake: [-1, 0], epochs: [{ weights: {} }] },
    ];
    for (const sc of bad)
      expect(() => simulateYuma(sc), JSON.stringify(sc)).toThrow(
        expect.objectContaining({ code: "INVALID_SCENARIO" }),
      );
  });
});
