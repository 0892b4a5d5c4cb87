import { describe, expect, it } from "vitest";
import { type MinerScoreInput, scoreMiner, weightsFromScores } from "./scoring.ts";

const NOW = new Date("2026-01-01T12:00:00Z");
const HOUR = 3600_000;

function miner(over: Partial<MinerScoreInput> = {}): MinerScoreInput {
  return {
    uid: 1,
    hotkey: "h1",
    serving: true,
    online: true,
    exclusion: null,
    isValidator: false,
    allocated: false,
    latestProof: {
      passed: true,
      provenModel: "NVIDIA H200",
      gpuCount: 8,
      finishedAt: "2026-01-01T11:30:00Z",
    },
    ...over,
  };
}

describe("scoreMiner", () => {
  it("gives the seed's worked example 1: 8× H200 unallocated → 50", () => {
    expect(scoreMiner(miner(), NOW, HOUR)).toMatchObject({
      score: 50,
      reason: "ok",
      provenModel: "NVIDIA H200",
      gpuCount: 8,
    });
  });

  it("gives the seed's worked example 2: 2× RTX 4090 allocated → 4.25", () => {
    const s = scoreMiner(
      miner({
        allocated: true,
        latestProof: {
          passed: true,
          provenModel: "NVIDIA RTX 4090",
          gpuCount: 2,
          finishedAt: "2026-01-01T11:00:00Z",
        },
      }),
      NOW,
      HOUR,
    );
    expect(s.score).toBeCloseTo(4.25, 10);
  });

  it("scores 0 for a failed latest proof (a cheater), whatever came before", () => {
    expect(
      scoreMiner(
        miner({
          latestProof: { passed: false, provenModel: null, gpuCount: 8, finishedAt: "2026-01-01T11:59:00Z" },
        }),
        NOW,
        HOUR,
      ),
    ).toMatchObject({ score: 0, reason: "proof_failed" });
  });

  it("scores 0 without a proof, when offline, not serving, excluded, or a validator", () => {
    expect(scoreMiner(miner({ latestProof: null }), NOW, HOUR).reason).toBe("no_proof");
    expect(scoreMiner(miner({ online: false }), NOW, HOUR)).toMatchObject({ score: 0, reason: "offline" });
    expect(scoreMiner(miner({ serving: false }), NOW, HOUR)).toMatchObject({
      score: 0,
      reason: "not_serving",
    });
    expect(scoreMiner(miner({ exclusion: "blacklisted" }), NOW, HOUR)).toMatchObject({
      score: 0,
      reason: "excluded",
    });
    expect(scoreMiner(miner({ isValidator: true }), NOW, HOUR)).toMatchObject({
      score: 0,
      reason: "validator",
    });
  });

  it("expires an old proof, except while rented (the last proof stands)", () => {
    const old = { passed: true, provenModel: "NVIDIA H200", gpuCount: 8, finishedAt: "2026-01-01T09:00:00Z" };
    expect(scoreMiner(miner({ latestProof: old }), NOW, HOUR)).toMatchObject({
      score: 0,
      reason: "proof_expired",
    });
    expect(scoreMiner(miner({ latestProof: old, allocated: true }), NOW, HOUR)).toMatchObject({
      score: 100,
      reason: "ok",
    });
  });

  it("caps the count at 8 and gives an unknown proven model 0 instead of throwing", () => {
    expect(
      scoreMiner(
        miner({
          latestProof: {
            passed: true,
            provenModel: "NVIDIA H200",
            gpuCount: 12,
            finishedAt: "2026-01-01T11:30:00Z",
          },
        }),
        NOW,
        HOUR,
      ).score,
    ).toBe(50);
    expect(
      scoreMiner(
        miner({
          latestProof: {
            passed: true,
            provenModel: "Voodoo 5",
            gpuCount: 1,
            finishedAt: "2026-01-01T11:30:00Z",
          },
        }),
        NOW,
        HOUR,
      ),
    ).toMatchObject({ score: 0, reason: "unknown_model" });
  });
});

describe("weightsFromScores", () => {
  it("normalizes over every UID, filling missing ones with 0", () => {
    const a = scoreMiner(miner({ uid: 1 }), NOW, HOUR);
    const b = scoreMiner(
      miner({
        uid: 3,
        latestProof: {
          passed: true,
          provenModel: "NVIDIA RTX 4090",
          gpuCount: 2,
          finishedAt: "2026-01-01T11:30:00Z",
        },
        allocated: true,
      }),
      NOW,
      HOUR,
    );
    const w = weightsFromScores([a, b], 5);
    expect(w.uids).toEqual([0, 1, 2, 3, 4]);
    expect(w.normalized[1]).toBeCloseTo(50 / 54.25);
    expect(w.normalized[3]).toBeCloseTo(4.25 / 54.25);
    expect(w.u16).toEqual([0, 65535, 0, Math.round((4.25 / 50) * 65535), 0]);
    expect(w.allZero).toBe(false);
  });

  it("reports all-zero weights (nothing to set)", () => {
    const w = weightsFromScores([scoreMiner(miner({ latestProof: null }), NOW, HOUR)], 3);
    expect(w.allZero).toBe(true);
    expect(w.u16).toEqual([0, 0, 0]);
  });
});
