// The command line of each process of the local network: the real `cmesh chain serve`, `cmesh miner` and
// `cmesh validator` commands, pointed at the local chain, wallets and ports.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CmeshError, findGpu } from "@computemesh/core";
import type { ChildSpec } from "./children.ts";
import { HOTKEY_NAME, type LocalnetLayout } from "./layout.ts";
import type { PortPlan } from "./options.ts";

/** The SIMULATED nvidia-smi given to miners that claim a GPU (see the file for what it does). */
export const SIMULATED_NVIDIA_SMI = fileURLToPath(new URL("./simulated-nvidia-smi.mjs", import.meta.url));

/** Default machines: one CPU machine (rentable over SSH through Docker) and two SIMULATED GPUs (proven, scored). */
export const DEFAULT_MINER_GPUS = ["cpu", "RTX 4090", "H100 SXM"];

export interface MinerGpu {
  /** catalog name as nvidia-smi prints it, or null for a CPU machine */
  name: string | null;
  memoryMiB: number;
  /** asking price, credits per GPU-hour (per machine-hour for a CPU machine) */
  pricePerHour: number;
}

/** Local asking prices: proportional to the seed base score, so the marketplace has something to sort. */
function localPrice(baseScore: number, isCpu: boolean): number {
  return isCpu ? 0.2 : Math.round(baseScore * 80) / 100;
}

/** Resolves `--gpus` entries (catalog names or aliases; `cpu` for none) for `count` miners, cycling the list. */
export function minerGpus(list: string[], count: number): MinerGpu[] {
  const models = list.map((entry) => {
    const model = findGpu(entry.trim());
    if (!model) {
      throw new CmeshError("INVALID_ARGUMENT", `--gpus: "${entry}" is not a GPU model of the catalog`, {
        hint: 'use names like "RTX 4090", "H100 SXM", "RTX A6000", or "cpu" for a machine without GPU',
      });
    }
    const cpu = model.class === "cpu";
    return {
      name: cpu ? null : model.name,
      memoryMiB: cpu ? 0 : Math.round(model.vramGiB * 1024),
      pricePerHour: localPrice(model.baseScore, cpu),
    };
  });
  if (models.length === 0) {
    return Array.from({ length: count }, () => ({
      name: null,
      memoryMiB: 0,
      pricePerHour: localPrice(0, true),
    }));
  }
  return Array.from({ length: count }, (_, i) => models[i % models.length]);
}

export function chainSpec(layout: LocalnetLayout, ports: PortPlan, blockTimeMs: number): ChildSpec {
  return {
    name: "chain",
    args: [
      "chain",
      "serve",
      "--data-dir",
      layout.chainDir,
      "--port",
      String(ports.chain),
      "--block-time",
      String(blockTimeMs),
    ],
    logFile: layout.logFile("chain"),
  };
}

const logLevel = () => process.env.CMESH_LOG_LEVEL ?? "info";

export function minerSpec(
  layout: LocalnetLayout,
  ports: PortPlan,
  o: { index: number; name: string; chain: string; netuid: number; gpu: MinerGpu; docker?: boolean },
): ChildSpec {
  const [from, to] = ports.minerSsh(o.index);
  const args = [
    "miner",
    "--wallet.path",
    layout.wallets,
    "--wallet.name",
    o.name,
    "--wallet.hotkey",
    HOTKEY_NAME,
    "--chain",
    o.chain,
    "--netuid",
    String(o.netuid),
    "--axon.host",
    "127.0.0.1",
    "--axon.port",
    String(ports.minerAxon(o.index)),
    "--data-dir",
    layout.nodeDir(o.name),
    "--ssh.host",
    "127.0.0.1",
    "--ssh.port-range",
    `${from}-${to}`,
    "--metrics.host",
    "127.0.0.1",
    "--metrics.port",
    String(ports.minerMetrics(o.index)),
    "--price.per-gpu-hour",
    String(o.gpu.pricePerHour),
    "--price.currency",
    "credits",
    "--log-level",
    logLevel(),
    ...(o.docker === false ? ["--no-docker"] : []),
  ];
  const env: Record<string, string> = {};
  if (o.gpu.name) {
    args.push("--nvidia-smi", SIMULATED_NVIDIA_SMI);
    env.CMESH_SIMULATED_GPU = o.gpu.name;
    env.CMESH_SIMULATED_GPU_MEMORY_MIB = String(o.gpu.memoryMiB);
    env.CMESH_SIMULATED_GPU_ID = `${layout.root}/${o.name}`;
  } else {
    // a CPU machine: make sure a real nvidia-smi on PATH is not what it reports
    args.push("--nvidia-smi", join(layout.root, "no-nvidia-smi"));
  }
  return { name: o.name, args, logFile: layout.logFile(o.name), env };
}

export function validatorSpec(
  layout: LocalnetLayout,
  ports: PortPlan,
  o: { index: number; name: string; chain: string; netuid: number; pogIntervalSec: number; api: boolean },
): ChildSpec {
  const args = [
    "validator",
    "--wallet.path",
    layout.wallets,
    "--wallet.name",
    o.name,
    "--wallet.hotkey",
    HOTKEY_NAME,
    "--chain",
    o.chain,
    "--netuid",
    String(o.netuid),
    "--network",
    "local",
    "--db",
    validatorDbPath(layout, o.name),
    "--pog.simulate",
    "--pog.mean-interval",
    String(o.pogIntervalSec),
    "--pog.initial-delay",
    "0", // a local network proves a new miner in the epoch its specs first arrive (npm start waits for it)
    "--health.interval-ms",
    "5000",
    "--metrics.host",
    "127.0.0.1",
    "--metrics.port",
    String(ports.validatorAxon(o.index)),
    "--log-level",
    logLevel(),
  ];
  if (o.api) args.push("--api.host", "127.0.0.1", "--api.port", String(ports.api));
  return { name: o.name, args, logFile: layout.logFile(o.name) };
}

/** The validator's store; the renter API of the validator that serves it keeps its tables there too. */
export function validatorDbPath(layout: LocalnetLayout, name: string): string {
  return join(layout.nodeDir(name), "validator.db");
}
