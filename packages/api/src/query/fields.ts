import { isRentable, type MachineView } from "../backend.ts";

export type FieldType = "string" | "number" | "boolean";
export interface FieldDef {
  type: FieldType;
  description: string;
  get: (m: MachineView, nowMs: number) => string | number | boolean | null;
}

/**
 * Every field the search language knows. Aliases (Vast's names) map to the same accessor; anything else is an
 * error that names the token, never ignored.
 */
export const FIELDS: Record<string, FieldDef> = {
  gpu: { type: "string", description: "proven GPU model (spaces as _)", get: (m) => m.gpuModel },
  claimed_gpu: { type: "string", description: "GPU model the miner claims", get: (m) => m.claimedGpuModel },
  count: { type: "number", description: "number of GPUs", get: (m) => m.gpuCount },
  vram: { type: "number", description: "VRAM per GPU in GiB", get: (m) => m.vramGiB },
  total_vram: { type: "number", description: "VRAM of all GPUs in GiB", get: (m) => m.vramGiB * m.gpuCount },
  price: { type: "number", description: "credits per GPU-hour", get: (m) => m.pricePerGpuHour },
  total_price: {
    type: "number",
    description: "credits per hour for the whole machine",
    get: (m) => m.pricePerGpuHour * m.gpuCount,
  },
  reliability: { type: "number", description: "0..1 share of checks passed", get: (m) => m.reliability },
  verified: { type: "boolean", description: "last proof-of-GPU passed and current", get: (m) => m.verified },
  tops: { type: "number", description: "measured int8 TOPS from the last proof", get: (m) => m.measuredTops },
  score: { type: "number", description: "subnet score 0..100", get: (m) => m.score },
  rented: { type: "boolean", description: "currently allocated", get: (m) => m.allocated },
  available: { type: "boolean", description: "not allocated", get: (m) => !m.allocated },
  rentable: {
    type: "boolean",
    description: "proven, not allocated, and the miner runs containers (NVIDIA's runtime for GPUs)",
    get: (m) => isRentable(m),
  },
  simulated: { type: "boolean", description: "proven in simulated-GPU mode", get: (m) => m.simulated },
  cpu: { type: "number", description: "CPU cores", get: (m) => m.cpuCores },
  ram: { type: "number", description: "RAM in GiB", get: (m) => m.ramGiB },
  disk: { type: "number", description: "disk in GiB", get: (m) => m.diskGiB },
  uid: { type: "number", description: "miner UID", get: (m) => m.uid },
  hotkey: { type: "string", description: "miner hotkey (SS58)", get: (m) => m.minerHotkey },
  proof_age: {
    type: "number",
    description: "seconds since the last passed proof",
    get: (m, now) => (m.lastProofAt ? Math.max(0, (now - Date.parse(m.lastProofAt)) / 1000) : null),
  },
};

export const FIELD_ALIASES: Record<string, string> = {
  model: "gpu",
  gpu_name: "gpu",
  num_gpus: "count",
  gpu_count: "count",
  gpu_ram: "vram",
  gpu_total_ram: "total_vram",
  dph: "price",
  dph_total: "total_price",
  throughput: "tops",
  allocated: "rented",
  cpu_cores: "cpu",
  cpu_ram: "ram",
  disk_space: "disk",
};

export function canonicalField(name: string): string | undefined {
  const lower = name.toLowerCase();
  // own keys only: "constructor" or "__proto__" must be unknown fields, not Object.prototype's members
  if (Object.hasOwn(FIELDS, lower)) return lower;
  return Object.hasOwn(FIELD_ALIASES, lower) ? FIELD_ALIASES[lower] : undefined;
}
