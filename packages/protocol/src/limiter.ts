/**
 * Bounded concurrency with a priority queue: at most `max` holders at once; waiters with a higher priority go
 * first, equal priorities in arrival order. A waiter gives up after its timeout (acquire resolves false).
 */
export class PriorityLimiter {
  private active = 0;
  private readonly queue: { priority: number; grant: () => void }[] = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max concurrency must be ≥ 1, got ${max}`);
  }

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  acquire(priority: number, timeoutMs: number): Promise<boolean> {
    if (this.active < this.max && this.queue.length === 0) {
      this.active++;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const entry = {
        priority,
        grant: () => {
          clearTimeout(timer);
          this.active++;
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        const i = this.queue.indexOf(entry);
        if (i >= 0) this.queue.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      let at = this.queue.length;
      while (at > 0 && this.queue[at - 1].priority < priority) at--;
      this.queue.splice(at, 0, entry);
    });
  }

  release(): void {
    this.active--;
    const next = this.queue.shift();
    if (next) next.grant();
  }
}
