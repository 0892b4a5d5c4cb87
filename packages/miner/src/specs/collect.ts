// Collects what the machine has: GPUs (nvidia-smi), CPU, RAM, free disk at the data directory, OS, Docker.
// Every number here is self-reported; validators verify GPUs with proof-of-GPU, not with this.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { statfs } from "node:fs/promises";
import os from "node:os";
import { dirname, resolve } from "node:path";
import type { GpuSpec, MachineSpecs } from "@computemesh/protocol";
import { MachineSpecsSchema } from "@computemesh/protocol";
import { MINER_VERSION } from "../version.ts";
import { NVIDIA_SMI_QUERY_ARGS, parseCudaVersionFromXml, parseNvidiaSmiCsv } from "./nvidia-smi.ts";

export interface DockerFacts {
  available: boolean;
  serverVersion: string | null;
  nvidiaRuntime: boolean;
}

export interface CollectSpecsOptions {
  /** Where allocations' volumes and the store live: free disk is measured there. */
  dataDir: string;
  pricing: { currency: string; perGpuHour: number };
  /** nvidia-smi binary (default: found on PATH). */
  nvidiaSmi?: string;
  /** Docker facts, from the container runtime (undefined: reported as unavailable). */
  docker?: () => Promise<DockerFacts>;
}

export interface GpuProbe {
  gpus: GpuSpec[];
  absentReason: string | null;
}

function run(file: string, args: string[], timeoutMs = 15_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

/** Asks nvidia-smi for the GPUs; a machine without GPUs (or without a working driver) gets a reason, not an error. */
export async function probeGpus(nvidiaSmi = "nvidia-smi"): Promise<GpuProbe> {
  let csv: string;
  try {
    csv = (await run(nvidiaSmi, NVIDIA_SMI_QUERY_ARGS)).stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (e.code === "ENOENT") {
      return { gpus: [], absentReason: `${nvidiaSmi} not found: no NVIDIA driver on this machine` };
    }
    const said = `${e.stderr ?? ""}${e.stdout ?? ""}`.trim().split("\n")[0] || e.message;
    return { gpus: [], absentReason: `${nvidiaSmi} failed: ${said}` };
  }
  let cuda: string | null;
  try {
    cuda = parseCudaVersionFromXml((await run(nvidiaSmi, ["-q", "-x"])).stdout);
  } catch {
    cuda = null; // the CSV is authoritative; the CUDA version is a nicety
  }
  const gpus = parseNvidiaSmiCsv(csv, cuda);
  return { gpus, absentReason: gpus.length === 0 ? "nvidia-smi reports no GPUs" : null };
}

function physicalCores(): number | null {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const cores = new Set<string>();
    for (const block of info.split(/\n\s*\n/)) {
      const phys = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
      const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
      if (phys !== undefined && core !== undefined) cores.add(`${phys}:${core}`);
    }
    return cores.size > 0 ? cores.size : null;
  } catch {
    return null;
  }
}

function availableMemory(): number {
  try {
    const kb = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // not Linux: fall through
  }
  return os.freemem();
}

function distro(): string | null {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** statfs of `path`, or of its nearest existing ancestor (the data directory may not exist yet). */
async function diskAt(path: string) {
  for (let p = resolve(path); ; p = dirname(p)) {
    try {
      return await statfs(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || dirname(p) === p) throw err;
    }
  }
}

/** Free bytes (for unprivileged use) on the filesystem holding `path`. */
export async function freeDiskBytes(path: string): Promise<number> {
  const disk = await diskAt(path);
  return disk.bavail * disk.bsize;
}

export async function collectSpecs(options: CollectSpecsOptions): Promise<MachineSpecs> {
  const [gpu, disk, docker] = await Promise.all([
    probeGpus(options.nvidiaSmi),
    diskAt(options.dataDir),
    options.docker
      ? options.docker().catch(() => ({ available: false, serverVersion: null, nvidiaRuntime: false }))
      : Promise.resolve({ available: false, serverVersion: null, nvidiaRuntime: false }),
  ]);
  const cpus = os.cpus();
  return MachineSpecsSchema.parse({
    gpu: { count: gpu.gpus.length, absent_reason: gpu.absentReason, details: gpu.gpus },
    cpu: {
      model: cpus[0]?.model.trim() || "unknown",
      count: os.availableParallelism(),
      physical_cores: physicalCores(),
    },
    ram: { total: os.totalmem(), available: availableMemory() },
    hard_disk: {
      path: options.dataDir,
      total: disk.blocks * disk.bsize,
      free: disk.bavail * disk.bsize,
    },
    os: { platform: os.platform(), release: os.release(), distro: distro(), arch: os.arch() },
    docker: {
      available: docker.available,
      server_version: docker.serverVersion,
      nvidia_runtime: docker.nvidiaRuntime,
    },
    miner_version: MINER_VERSION,
    pricing: { currency: options.pricing.currency, per_gpu_hour: options.pricing.perGpuHour },
    collected_at: new Date().toISOString(),
  });
}
