import { describe, expect, it } from "vitest";
import { PriorityLimiter } from "./limiter.ts";

describe("PriorityLimiter", () => {
  it("grants up to max at once, then by priority and arrival order", async () => {
    const l = new PriorityLimiter(1);
    expect(await l.acquire(0, 1000)).toBe(true);
    const order: string[] = [];
    const wait = (name: string, p: number) => l.acquire(p, 1000).then((ok) => ok && order.push(name));
    const all = [wait("low-a", 1), wait("low-b", 1), wait("high", 5), wait("mid", 3)];
    expect(l.waiting).toBe(4);
    for (let i = 0; i < 5; i++) {
      l.release();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    expect(order).toEqual(["high", "mid", "low-a", "low-b"]);
    expect(l.running).toBe(0);
  });

  it("a waiter gives up after its timeout and leaves the queue", async () => {
    const l = new PriorityLimiter(1);
    await l.acquire(0, 1000);
    expect(await l.acquire(0, 20)).toBe(false);
    expect(l.waiting).toBe(0);
    l.release();
    expect(await l.acquire(0, 20)).toBe(true);
  });

  it("rejects a non-positive size", () => {
    expect(() => new PriorityLimiter(0)).toThrow(RangeError);
  });
});
