// Identification by physics: a claim of model X is accepted only when every cheaper model of the catalog is
// ruled out by something it physically cannot do: compute faster than its dense int8 peak, hold more memory
// than it has, or move more bytes per second than its peak bandwidth (each with a margin).
import { GPU_CATALOG, type GpuModel } from "@computemesh/core";

/** Margins over a cheaper model's published figure needed to rule it out. */
export const COMPUTE_MARGIN = 0.1;
export const CAPACITY_MARGIN = 0.05;
export const BANDWIDTH_MARGIN = 0.15;
/** An honest device of the claimed model reaches at least this fraction of its dense int8 peak. */
export const MIN_EFFICIENCY = 0.25;

export type Exclusion = "compute" | "capacity" | "bandwidth";

export interface IdentifyInput {
  claim: GpuModel;
  count: number;
  /** Aggregate measured int8 throughput, TOPS (validator clock). */
  measuredTops: number;
  /** Memory per device shown by a passed VRAM challenge, GiB (0 when none ran or it failed). */
  provenVramGiB: number;
  /** Aggregate DRAM bandwidth the VRAM fill needed at least, GB/s (0 when none ran). */
  measuredBandwidthGBs: number;
  catalog?: readonly GpuModel[];
}

export interface Identification {
  passed: boolean;
  /** TOO_SLOW | NOT_DISTINGUISHABLE */
  reason?: "TOO_SLOW" | "NOT_DISTINGUISHABLE";
  message?: string;
  /** The most valuable model the measurements prove: the claim, a cheaper model that could not be ruled out, or null. */
  provenModel: string | null;
  /** Cheaper models and what ruled each out (null: nothing did). */
  exclusions: Record<string, Exclusion | null>;
}

/** Least aggregate throughput an honest claim of `count` × `model` shows (0 for the CPU class). */
export function minimumTops(model: GpuModel, count: number): number {
  return model.class === "gpu" ? count * model.int8DenseTops * MIN_EFFICIENCY : 0;
}

export function cheaperModels(claim: GpuModel, catalog: readonly GpuModel[] = GPU_CATALOG): GpuModel[] {
  return catalog.filter(
    (m) => m !== claim && (m.baseScore < claim.baseScore || (m.class === "cpu" && claim.class === "gpu")),
  );
}

export function identify(input: IdentifyInput): Identification {
  const { claim, count, measuredTops } = input;
  const exclusions: Record<string, Exclusion | null> = {};
  const floor = minimumTops(claim, count);
  if (!(measuredTops >= floor)) {
    return {
      passed: false,
      reason: "TOO_SLOW",
      message: `measured ${fmt(measuredTops)} TOPS; ${count}× ${claim.name} reaches at least ${fmt(floor)} (${MIN_EFFICIENCY * 100} % of the dense int8 peak)`,
      provenModel: null,
      exclusions,
    };
  }
  const notExcluded: GpuModel[] = [];
  for (const y of cheaperModels(claim, input.catalog)) {
    let by: Exclusion | null = null;
    if (measuredTops > count * y.int8DenseTops * (1 + COMPUTE_MARGIN)) by = "compute";
    else if (input.provenVramGiB > y.vramGiB * (1 + CAPACITY_MARGIN)) by = "capacity";
    else if (input.measuredBandwidthGBs > count * y.memBandwidthGBs * (1 + BANDWIDTH_MARGIN))
      by = "bandwidth";
    exclusions[y.id] = by;
    if (!by) notExcluded.push(y);
  }
  if (notExcluded.length === 0) return { passed: true, provenModel: claim.name, exclusions };
  const floorModel = notExcluded.reduce((a, b) => (b.baseScore < a.baseScore ? b : a));
  return {
    passed: false,
    reason: "NOT_DISTINGUISHABLE",
    message: `the measurements do not rule out ${notExcluded.map((m) => m.name).join(", ")}`,
    provenModel: floorModel.class === "gpu" ? floorModel.name : null,
    exclusions,
  };
}

function fmt(x: number): string {
  return x >= 1 ? x.toFixed(1) : x.toPrecision(3);
}
