import { describe, expect, it } from "vitest";
import { simulateYuma } from "./scenario.ts";

const close = (actual: number[], expected: number[], tol: number) => {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    expect(Math.abs(a - expected[i]), `index ${i}: ${a} vs ${expected[i]}`).toBeLessThanOrEqual(tol);
  });
};

describe("Yuma test vector A (classic, reference §4.6)", () => {
  const W = { "4": 16383, "5": 32767, "6": 49149, "7": 65535 };
  const run = simulateYuma({
    params: {
      kappa: 32767,
      bondsPenalty: 65535,
      bondsMovingAverage: 900000,
      yuma3: false,
      tempo: 1,
      maxAllowedValidators: 64,
    },
    stake: [1, 2, 3, 4, 0, 0, 0, 0],
    emission: 1_000_000_000,
    epochs: [
      { weights: {} },
      { weights: { "0": W, "1": W, "2": W, "3": W } },
      { weights: { "0": { "0": 1 } } },
      { weights: { "1": { "1": 1 } } },
      { weights: { "2": { "2": 1 } } },
      { weights: { "2": { "7": 1 } } },
      { weights: {} },
    ],
  }).epochs;
  const col = (e: number, j: number) => [0, 1, 2, 3].map((i) => run[e].bonds[i][j]);

  it("warm-up grants permits to the staked uids only", () => {
    expect(run[0].validatorPermit).toEqual([true, true, true, true, false, false, false, false]);
  });
  it("epoch 1", () => {
    close(run[1].consensus.slice(4), [0.0999976, 0.2000012, 0.2999927, 0.4000085], 1e-6);
    close(run[1].dividends.slice(0, 4), [0.1, 0.2, 0.3, 0.4], 1e-3);
    expect(col(1, 4)).toEqual([16383, 32767, 49151, 65535]);
    expect(run[1].emission.map(Number)).toEqual([
      49999998, 99999999, 150000000, 200000001, 49998779, 100000610, 149996337, 200004272,
    ]);
  });
  it("epoch 2: uid0 self-weight only", () => {
    close(run[2].dividends.slice(0, 4), [0.0899967, 0.2022211, 0.3033344, 0.4044477], 1e-3);
    expect(col(2, 4)).toEqual([14582, 32767, 49151, 65535]);
  });
  it("epoch 3: uid1 self-weight only", () => {
    close(run[3].dividends.slice(0, 4), [0.0809936, 0.1819996, 0.3158593, 0.4211475], 1e-3);
    expect(col(3, 4)).toEqual([12603, 28321, 49151, 65535]);
  });
  it("epoch 4: 60 % of stake sets nothing → no consensus, emission falls back to stake", () => {
    close(run[4].consensus.slice(4), [0, 0, 0, 0], 0);
    close(run[4].dividends, [0, 0, 0, 0, 0, 0, 0, 0], 0);
    expect(col(4, 7)).toEqual([12602, 28320, 49150, 65535]);
    close(
      run[4].emission.map((x) => Number(x) / 1e9),
      [0.1, 0.2, 0.3, 0.4, 0, 0, 0, 0],
      1e-6,
    );
  });
  it("epoch 5: uid2 → {7: 1.0}", () => {
    close(run[5].consensus.slice(4), [0, 0, 0, 0.4000085], 1e-6);
    close(run[5].incentive.slice(4), [0, 0, 0, 1], 1e-6);
    close(run[5].dividends.slice(0, 4), [0.0728875, 0.1637973, 0.327131, 0.4361843], 1e-3);
    expect(col(5, 7)).toEqual([10951, 24609, 49150, 65535]);
    close(
      run[5].emission.map((x) => Number(x) / 1e9),
      [0.0364437, 0.0818986, 0.1635655, 0.2180921, 0, 0, 0, 0.5],
      1e-6,
    );
  });
  it("epoch 6", () => {
    close(run[6].dividends.slice(0, 4), [0.0655989, 0.1474132, 0.3372763, 0.4497117], 1e-3);
    expect(col(6, 7)).toEqual([9559, 21482, 49150, 65535]);
  });
});

describe("Yuma test vector C (Yuma3 + liquid alpha, reference §4.8)", () => {
  const all = { "0": { "3": 1, "4": 0 }, "1": { "3": 1, "4": 0 }, "2": { "3": 1, "4": 0 } };
  const epochs = [0, 1, 2, 3, 4, 5].map((e) =>
    e === 2 ? { weights: { ...all, "2": { "3": 0, "4": 1 } } } : { weights: all },
  );
  const run = simulateYuma({
    params: {
      kappa: 32767,
      bondsMovingAverage: 975000,
      bondsPenalty: 0,
      yuma3: true,
      liquidAlpha: { enabled: true, low: 0.1, high: 0.3, steepness: 1000 },
      maxAllowedValidators: 3,
      tempo: 1,
    },
    stake: [33, 33, 34, 0, 0],
    epochs: [{ weights: {} }, ...epochs],
  }).epochs.slice(1);
  const D = [
    [0.33, 0.33, 0.34],
    [0.33, 0.33, 0.34],
    [0.3782, 0.3782, 0.2436],
    [0.3628, 0.3628, 0.2745],
    [0.3541, 0.3541, 0.2917],
    [0.3487, 0.3487, 0.3026],
  ];
  const AB = [0.1013, 0.1924, 0.2742, 0.3478, 0.4139, 0.4733];
  const Cb: Record<number, [number, number]> = {
    2: [0.1715, 0.2987],
    3: [0.2554, 0.2618],
    4: [0.3309, 0.2312],
    5: [0.3987, 0.2051],
  };
  for (let e = 0; e < 6; e++) {
    it(`epoch ${e}`, () => {
      close(run[e].dividends.slice(0, 3), D[e], 1e-3);
      close(run[e].dividends.slice(3), [0, 0], 0);
      for (const v of [0, 1])
        close([run[e].bonds[v][3] / 65535, run[e].bonds[v][4] / 65535], [AB[e], 0], 1e-4);
      if (Cb[e]) close([run[e].bonds[2][3] / 65535, run[e].bonds[2][4] / 65535], Cb[e], 1e-4);
      expect(run[e].validatorPermit).toEqual([true, true, true, false, false]);
    });
  }
});
