// The seam between allocations and whatever runs containers. DockerRuntime is the real one; tests of the
// allocation logic use it too (against the real dockerd).
import type { DockerFacts } from "../specs/collect.ts";

export const LABEL_MANAGED = "computemesh.managed";
export const LABEL_MINER = "computemesh.miner";
export const LABEL_ALLOCATION = "computemesh.allocation";
export const LABEL_KIND = "computemesh.kind";

/** A file written into the container before it starts (so no host path is ever mounted). */
export interface ContainerFile {
  /** Absolute path inside the container. */
  path: string;
  content: string;
  mode: number;
}

export interface RentalSpec {
  allocationId: string;
  minerHotkey: string;
  image: string;
  /** CPUs in billionths (Docker NanoCpus): 1.5 CPUs = 1_500_000_000. */
  nanoCpus: number;
  memoryBytes: number;
  pidsLimit: number;
  /** GPUs handed to the container through the NVIDIA runtime; empty = none. */
  gpuUuids: string[];
  /** Where the container's sshd (port 22) is published on the host. */
  hostIp: string;
  hostPort: number;
  files: ContainerFile[];
  /** Mount point of the allocation's own volume. */
  volumeMountPath: string;
}

export interface RentalInstance {
  allocationId: string;
  containerId: string;
  containerName: string;
  running: boolean;
  /** Docker's state word: created, running, exited, … */
  status: string;
  oomKilled: boolean;
}

/** Socket-level failures: nothing answers on Docker's socket (dockerd stopped, crashed or restarting). */
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ENOENT", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);

/** Whether an error from the runtime means Docker itself does not answer (rather than refusing a request). */
export function isRuntimeUnreachable(e: unknown): boolean {
  for (let cur = e as { code?: unknown; cause?: unknown } | undefined; cur; cur = cur.cause as typeof cur) {
    if (typeof cur.code === "string" && UNREACHABLE_CODES.has(cur.code)) return true;
  }
  return false;
}

export interface ContainerRuntime {
  readonly kind: string;
  facts(): Promise<DockerFacts>;
  hasImage(image: string): Promise<boolean>;
  /** Creates the volume and the container, writes the files, starts it. On failure removes what it made, then throws. */
  createRental(spec: RentalSpec): Promise<RentalInstance>;
  /** Removes the container (killing every session in it) and its volume; absent ones are not an error. */
  removeRental(allocationId: string): Promise<{ container: boolean; volume: boolean }>;
  /** Every rental container of this miner, by label. */
  listRentals(minerHotkey: string): Promise<RentalInstance[]>;
  /** Allocation ids of this miner's rental volumes, by label (to find volumes left without a container). */
  listRentalVolumes(minerHotkey: string): Promise<string[]>;
  inspectRental(allocationId: string): Promise<RentalInstance | null>;
  startRental(allocationId: string): Promise<void>;
  /** The container's last log lines (to explain a failed start). */
  logs(allocationId: string, tail?: number): Promise<string>;
  /** Runs a command in the rental container (for health checks and tests), returning exit code and output. */
  exec(allocationId: string, cmd: string[]): Promise<{ exitCode: number; output: string }>;
}

export function rentalContainerName(allocationId: string): string {
  return `cmesh-rental-${allocationId}`;
}

export function rentalVolumeName(allocationId: string): string {
  return `cmesh-rental-${allocationId}`;
}
