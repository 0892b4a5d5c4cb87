/**
 * Money is integer micro-credits (1 credit = 1,000,000 µcr) everywhere inside the API; prices arrive from
 * miners as credits per GPU-hour and are converted once, rounded to the nearest micro-credit.
 */
export const MICRO_PER_CREDIT = 1_000_000;

export function creditsToMicro(credits: number): number {
  if (!Number.isFinite(credits) || credits < 0)
    throw new RangeError(`not a valid amount of credits: ${credits}`);
  return Math.round(credits * MICRO_PER_CREDIT);
}

export function microToCredits(micro: number): number {
  return micro / MICRO_PER_CREDIT;
}

/** Hourly rate of a rental in micro-credits: price per GPU-hour × GPUs. */
export function hourlyRateMicro(pricePerGpuHour: number, gpuCount: number): number {
  return creditsToMicro(pricePerGpuHour) * Math.max(1, Math.floor(gpuCount));
}

/**
 * Total cost of `seconds` whole seconds at `rateMicroPerHour`, rounded down to the micro-credit. Charging
 * always happens as "total due so far minus total already charged", so the sum of charges over any
 * sequence of ticks equals the cost of the whole period exactly.
 */
export function costForSeconds(rateMicroPerHour: number, seconds: number): number {
  if (seconds <= 0) return 0;
  return Number((BigInt(rateMicroPerHour) * BigInt(Math.floor(seconds))) / 3600n);
}

/** Whole seconds that `balanceMicro` pays for at `rateMicroPerHour`. */
export function secondsAffordable(rateMicroPerHour: number, balanceMicro: number): number {
  if (rateMicroPerHour <= 0) return Number.POSITIVE_INFINITY;
  if (balanceMicro <= 0) return 0;
  return Number((BigInt(balanceMicro) * 3600n) / BigInt(rateMicroPerHour));
}

export function formatCredits(micro: number): string {
  return `${(micro / MICRO_PER_CREDIT).toFixed(6).replace(/0{1,4}$/, "")} cr`;
}
