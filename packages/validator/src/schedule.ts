// When proof-of-GPU rounds happen. Times are drawn at random so a miner cannot predict its next round and
// borrow hardware just for it; a rented machine is never tested (its last proof stands). Pure functions.

export interface PogScheduleOptions {
  /** Mean time between two rounds of one miner. */
  meanIntervalMs: number;
  /** Spread around the mean, 0..1: the next round falls uniformly in mean × [1 − jitter, 1 + jitter]. */
  jitter: number;
  /** A new miner's first round falls uniformly in [0, initialDelayMaxMs]. */
  initialDelayMaxMs: number;
  /** After a round that could not run (miner unreachable, busy), retry after about this long. */
  retryAfterMs: number;
}

/** `random` returns a float in [0, 1) (use a CSPRNG in production). */
export function firstPogAt(now: Date, opts: PogScheduleOptions, random: () => number): Date {
  return new Date(now.getTime() + Math.floor(random() * opts.initialDelayMaxMs));
}

export function nextPogAt(now: Date, opts: PogScheduleOptions, random: () => number): Date {
  const j = Math.min(Math.max(opts.jitter, 0), 1);
  const factor = 1 - j + 2 * j * random();
  return new Date(now.getTime() + Math.max(0, Math.round(opts.meanIntervalMs * factor)));
}

export function retryPogAt(now: Date, opts: PogScheduleOptions, random: () => number): Date {
  return new Date(now.getTime() + Math.round(opts.retryAfterMs * (0.5 + random())));
}

/** A round is due when its time has come and the machine is not rented (by this or any other validator). */
export function isPogDue(nextAt: string | null, now: Date, rented: boolean): boolean {
  if (rented || nextAt === null) return false;
  return Date.parse(nextAt) <= now.getTime();
}
