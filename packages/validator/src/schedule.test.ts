import { describe, expect, it } from "vitest";
import { firstPogAt, isPogDue, nextPogAt, retryPogAt } from "./schedule.ts";

const opts = { meanIntervalMs: 1000, jitter: 0.5, initialDelayMaxMs: 200, retryAfterMs: 100 };
const now = new Date("2026-01-01T00:00:00Z");

describe("proof-of-GPU schedule", () => {
  it("spreads rounds uniformly around the mean", () => {
    expect(nextPogAt(now, opts, () => 0).getTime() - now.getTime()).toBe(500);
    expect(nextPogAt(now, opts, () => 0.999999).getTime() - now.getTime()).toBe(1500);
    expect(nextPogAt(now, opts, () => 0.5).getTime() - now.getTime()).toBe(1000);
    expect(firstPogAt(now, opts, () => 0.5).getTime() - now.getTime()).toBe(100);
    expect(retryPogAt(now, opts, () => 0).getTime() - now.getTime()).toBe(50);
  });

  it("is not predictable: different draws give different times", () => {
    const times = new Set(Array.from({ length: 50 }, () => nextPogAt(now, opts, Math.random).getTime()));
    expect(times.size).toBeGreaterThan(10);
  });

  it("is never due while rented or before its time", () => {
    expect(isPogDue("2025-12-31T23:59:59Z", now, false)).toBe(true);
    expect(isPogDue("2025-12-31T23:59:59Z", now, true)).toBe(false);
    expect(isPogDue("2026-01-01T00:00:01Z", now, false)).toBe(false);
    expect(isPogDue(null, now, false)).toBe(false);
  });
});
