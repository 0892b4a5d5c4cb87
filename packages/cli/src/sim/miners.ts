// Simulated miners: real axons on 127.0.0.1 answering Specs, proof-of-GPU, receipts and the allocation synapses.
// Rentals are kept in memory (no container is created: the simulation is about verification and incentives).
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { ChainClient } from "@computemesh/chain";
import { findGpu } from "@computemesh/core";
import { attachReceiptResponder, type ReceiptResponder } from "@computemesh/miner";
import { attachPogResponder, type PogBackend } from "@computemesh/pog";
import {
  Allocate,
  type AllocationInfo,
  AllocationStatus,
  Axon,
  Deallocate,
  FetchReceipts,
  type KeyringPair,
  type MachineSpecs,
  type Receipt,
  Specs,
  SynapseError,
} from "@computemesh/protocol";
import { type DeviceClock, HalfMemoryBackend, ModeledGpuBackend, SkipRowsBackend } from "./backends.ts";

export const CHEATER_KINDS = [
  "spoofed_specs",
  "partial_compute",
  "slow_gpu",
  "shared_uuid",
  "replayed_receipts",
  "dropout",
] as const;
export type CheaterKind = (typeof CHEATER_KINDS)[number];
export type MinerKind = "honest" | CheaterKind;

export const HONEST_MODELS = [
  "NVIDIA H100 80GB HBM3",
  "NVIDIA GeForce RTX 4090",
  "NVIDIA RTX A6000",
  "NVIDIA L40S",
] as const;

export interface MinerPlan {
  index: number;
  kind: MinerKind;
  /** What the specs claim. */
  claimedModel: string;
  /** What the machine really has (the speed the device clock models). */
  actualModel: string;
  count: number;
  uuids: string[];
}

export interface SimMiner {
  plan: MinerPlan;
  hotkey: KeyringPair;
  axon: Axon;
  clock: DeviceClock;
  receipts: ReceiptResponder;
  rentals: InMemoryRentals;
  stopped: boolean;
  stop(): Promise<void>;
}

/**
 * The specs a simulated machine reports: `uuids.length` GPUs of `model` (nvidia-smi name), or none. Shared by the
 * network simulation and the end-to-end tests' miners.
 */
export function simulatedMachineSpecs(model: string, uuids: readonly string[]): MachineSpecs {
  const mib = Math.round((findGpu(model)?.vramGiB ?? 24) * 1024);
  return {
    gpu: {
      count: uuids.length,
      absent_reason: uuids.length === 0 ? "no GPU" : null,
      details: uuids.map((uuid, i) => ({
        index: i,
        name: model,
        uuid,
        memory_total_mib: mib,
        driver_version: "550.54.15",
        cuda_version: "12.4",
        power_limit_w: 450,
        pci_bus_id: `00000000:0${i}:00.0`,
        pcie_link_gen_max: 4,
        pcie_link_width_max: 16,
      })),
    },
    cpu: { model: "Simulated CPU", count: 16, physical_cores: 8 },
    ram: { total: 64 * 1024 ** 3, available: 60 * 1024 ** 3 },
    hard_disk: { path: "/", total: 500 * 1024 ** 3, free: 400 * 1024 ** 3 },
    os: { platform: "linux", release: "6.1", distro: "Debian 12", arch: "x64" },
    docker: { available: true, server_version: "24.0", nvidia_runtime: true },
    miner_version: "0.1.0",
    pricing: { currency: "USD", per_gpu_hour: 1.5 },
    collected_at: new Date().toISOString(),
  };
}

export function specsFor(plan: MinerPlan): MachineSpecs {
  return simulatedMachineSpecs(plan.claimedModel, plan.uuids);
}

/**
 * Allocate / Deallocate / AllocationStatus answered from memory: a stand-in for the container runtime (no container
 * is created). `containersDead` makes AllocationStatus report every allocation gone, as after a dead container.
 */
export class InMemoryRentals {
  readonly allocations = new Map<string, AllocationInfo>();
  containersDead = false;
  /** When set, Deallocate fails (503) and the allocation stays held, as when a release never reaches the miner. */
  deallocateFails = false;

  attach(axon: Axon): void {
    axon.attach(Allocate, async (req, caller) => {
      if ([...this.allocations.values()].some((a) => a.state === "active")) {
        throw new SynapseError(409, "MACHINE_BUSY: the machine is rented");
      }
      const now = new Date();
      const info: AllocationInfo = {
        allocation_id: randomUUID(),
        state: "active",
        validator_hotkey: caller.hotkey,
        image: req.image || "computemesh/rental-sshd:bookworm",
        resources: req.resources,
        gpu_uuids: [],
        ssh: {
          host: "127.0.0.1",
          port: 42022,
          username: "renter",
          host_public_key: "ssh-ed25519 AAAAsimulated",
          command: "ssh -p 42022 renter@127.0.0.1",
        },
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + req.duration_sec * 1000).toISOString(),
        ended_at: null,
        end_reason: null,
      };
      this.allocations.set(info.allocation_id, info);
      return { allocation: info };
    });
    axon.attach(Deallocate, async (req) => {
      if (this.deallocateFails) throw new SynapseError(503, "the release did not reach the machine");
      const a = this.allocations.get(req.allocation_id);
      if (!a) throw new SynapseError(404, "ALLOCATION_NOT_FOUND");
      const ended = {
        ...a,
        state: "released" as const,
        ended_at: new Date().toISOString(),
        end_reason: "deallocated",
      };
      this.allocations.set(a.allocation_id, ended);
      return { allocation: ended };
    });
    axon.attach(AllocationStatus, async (req) => {
      if (this.containersDead) return { allocations: [] };
      const all = [...this.allocations.values()];
      return {
        allocations: req.allocation_id ? all.filter((a) => a.allocation_id === req.allocation_id) : all,
      };
    });
  }
}

function backendFor(plan: MinerPlan, clock: DeviceClock): PogBackend {
  const args = [clock, plan.actualModel, plan.claimedModel, plan.count] as const;
  if (plan.kind === "partial_compute") return new SkipRowsBackend(...args);
  if (plan.kind === "spoofed_specs") return new HalfMemoryBackend(...args);
  return new ModeledGpuBackend(...args);
}

/**
 * Starts one miner: registers its hotkey (funded coldkey), serves its axon on 127.0.0.1 and announces it.
 * `replaySource` gives a replaying miner the receipts it serves as its own (another miner's genuine receipts).
 */
export async function startSimMiner(opts: {
  chain: ChainClient;
  faucet: (address: string, rao: bigint) => Promise<void>;
  netuid: number;
  plan: MinerPlan;
  hotkey: KeyringPair;
  coldkey: KeyringPair;
  dir: string;
  replaySource?: () => readonly Receipt[];
}): Promise<SimMiner> {
  const { plan, hotkey } = opts;
  await opts.faucet(opts.coldkey.address, 10n * 1_000_000_000n);
  await opts.chain.burnedRegister(opts.netuid, hotkey.address, opts.coldkey);
  const specs = specsFor(plan);
  const clock: DeviceClock = { now: 0 };
  const axon = new Axon({ hotkey, port: 0, host: "127.0.0.1" });
  axon.attach(Specs, async () => ({ specs: { ...specs, collected_at: new Date().toISOString() } }));
  attachPogResponder(axon, {
    backend: backendFor(plan, clock),
    gpus: { model: plan.claimedModel, count: plan.count, uuids: plan.uuids },
  });
  if (plan.kind === "replayed_receipts" && opts.replaySource) {
    const source = opts.replaySource;
    axon.attach(FetchReceipts, async (req) => {
      const all = source();
      const page = all.slice(req.cursor, req.cursor + req.limit);
      return { receipts: [...page], next_cursor: req.cursor + page.length, total: all.length };
    });
  }
  const receipts = attachReceiptResponder(
    plan.kind === "replayed_receipts" ? new Axon({ hotkey, port: 0 }) : axon,
    {
      hotkey,
      network: "local",
      netuid: opts.netuid,
      logPath: join(opts.dir, `miner-${plan.index}-receipts.jsonl`),
    },
  );
  const rentals = new InMemoryRentals();
  rentals.attach(axon);
  await axon.start();
  await opts.chain.serveAxon(opts.netuid, { ip: "127.0.0.1", port: axon.port }, hotkey);
  const miner: SimMiner = {
    plan,
    hotkey,
    axon,
    clock,
    receipts,
    rentals,
    stopped: false,
    stop: async () => {
      if (miner.stopped) return;
      miner.stopped = true;
      await axon.stop();
    },
  };
  return miner;
}
