// Synapses of the compute market: Specs, Allocate, Deallocate, AllocationStatus. Field names are snake_case on the
// wire (Bittensor synapse objects are Python classes); the resource request keeps the seeds' form
// {"cpu":{"count":1},"gpu":{"count":1},"hard_disk":{"capacity":…},"ram":{"capacity":…}} (capacities in bytes).
import { z } from "zod";
import { defineSynapse } from "./synapse.ts";

// ---- machine specs ------------------------------------------------------------------------------------------

export const GpuSpecSchema = z.object({
  index: z.number().int().nonnegative(),
  name: z.string(),
  uuid: z.string(),
  memory_total_mib: z.number().int().nonnegative(),
  driver_version: z.string().nullable(),
  cuda_version: z.string().nullable(),
  power_limit_w: z.number().nullable(),
  pci_bus_id: z.string().nullable(),
  pcie_link_gen_max: z.number().int().nullable(),
  pcie_link_width_max: z.number().int().nullable(),
});
export type GpuSpec = z.infer<typeof GpuSpecSchema>;

export const MachineSpecsSchema = z.object({
  gpu: z.object({
    count: z.number().int().nonnegative(),
    /** Why the list is empty when it is (no nvidia-smi, no driver, …); null when GPUs were found. */
    absent_reason: z.string().nullable(),
    details: z.array(GpuSpecSchema),
  }),
  cpu: z.object({
    model: z.string(),
    /** Logical CPUs the miner can hand out. */
    count: z.number().int().positive(),
    physical_cores: z.number().int().positive().nullable(),
  }),
  ram: z.object({ total: z.number().int().nonnegative(), available: z.number().int().nonnegative() }),
  hard_disk: z.object({
    path: z.string(),
    total: z.number().int().nonnegative(),
    free: z.number().int().nonnegative(),
  }),
  os: z.object({
    platform: z.string(),
    release: z.string(),
    distro: z.string().nullable(),
    arch: z.string(),
  }),
  docker: z.object({
    available: z.boolean(),
    server_version: z.string().nullable(),
    nvidia_runtime: z.boolean(),
  }),
  miner_version: z.string(),
  pricing: z.object({
    currency: z.string(),
    /** Asked price per GPU-hour (for a CPU-only machine: per machine-hour). */
    per_gpu_hour: z.number().nonnegative(),
  }),
  collected_at: z.string(),
});
export type MachineSpecs = z.infer<typeof MachineSpecsSchema>;

// ---- resources (the seeds' device_requirement form) ---------------------------------------------------------

export const ResourceRequestSchema = z.object({
  cpu: z.object({ count: z.number().positive().max(1024) }),
  gpu: z.object({ count: z.number().int().nonnegative().max(64) }).default({ count: 0 }),
  hard_disk: z.object({ capacity: z.number().int().positive() }),
  ram: z.object({ capacity: z.number().int().positive() }),
});
export type ResourceRequest = z.infer<typeof ResourceRequestSchema>;

export const AllocationStateSchema = z.enum(["creating", "active", "released", "expired", "lost", "failed"]);
export type AllocationState = z.infer<typeof AllocationStateSchema>;

export const SshAccessSchema = z.object({
  host: z.string(),
  port: z.number().int().min(1).max(65535),
  username: z.string(),
  /** The container's host key (`ssh-ed25519 AAAA…`): pin it in known_hosts instead of trusting on first use. */
  host_public_key: z.string(),
  command: z.string(),
});
export type SshAccess = z.infer<typeof SshAccessSchema>;

export const AllocationInfoSchema = z.object({
  allocation_id: z.string(),
  state: AllocationStateSchema,
  validator_hotkey: z.string(),
  image: z.string(),
  resources: ResourceRequestSchema,
  gpu_uuids: z.array(z.string()),
  ssh: SshAccessSchema.nullable(),
  created_at: z.string(),
  expires_at: z.string(),
  ended_at: z.string().nullable(),
  end_reason: z.string().nullable(),
});
export type AllocationInfo = z.infer<typeof AllocationInfoSchema>;

// ---- synapses -----------------------------------------------------------------------------------------------

/** What the machine has, plus the miner's asking price. */
export const Specs = defineSynapse({
  name: "Specs",
  request: z.object({}),
  response: z.object({ specs: MachineSpecsSchema }),
  timeoutSec: 30,
});

/**
 * Rents the machine (or a GPU slice of it) to the renter whose SSH public key is given. Only a validator with a
 * permit and enough stake may call it. The miner answers with where to SSH and the container's host key.
 */
export const Allocate = defineSynapse({
  name: "Allocate",
  request: z.object({
    resources: ResourceRequestSchema,
    /** One OpenSSH public key line (`ssh-ed25519 AAAA… comment`). Key-only login; there is no password. */
    ssh_public_key: z.string().min(1).max(16_384),
    /** A rental image the miner offers (see Specs); empty = the miner's default. */
    image: z.string().max(256).default(""),
    duration_sec: z
      .number()
      .int()
      .positive()
      .max(366 * 24 * 3600),
  }),
  response: z.object({ allocation: AllocationInfoSchema }),
  timeoutSec: 60,
});

/** Ends an allocation: the container and its volume are removed and the renter's access ends at once. */
export const Deallocate = defineSynapse({
  name: "Deallocate",
  request: z.object({ allocation_id: z.string().min(1).max(64) }),
  response: z.object({ allocation: AllocationInfoSchema }),
  timeoutSec: 30,
});

/** One allocation by id, or (empty id) every current allocation the calling validator holds on this miner. */
export const AllocationStatus = defineSynapse({
  name: "AllocationStatus",
  request: z.object({ allocation_id: z.string().max(64).default("") }),
  response: z.object({ allocations: z.array(AllocationInfoSchema) }),
  timeoutSec: 12,
});
