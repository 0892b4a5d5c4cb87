// Shared setup of the validator end-to-end tests: a LocalChain with a subnet, validators with stake and permits,
// and miners serving real axons on 127.0.0.1 (Specs, proof-of-GPU with the SIMULATED backend the local network
// uses, receipts). The only stand-in is the GPU itself (no GPU exists here), and rentals in
// `InMemoryRentalsForTests`, which answers the allocation synapses without creating a container.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalChain, type SubnetHyperparams } from "@computemesh/chain";
import { findGpu } from "@computemesh/core";
import { attachReceiptResponder } from "@computemesh/miner";
import { attachPogResponder, type PogBackend, SimulatedGpuBackend } from "@computemesh/pog";
import {
  Allocate,
  type AllocationInfo,
  AllocationStatus,
  Axon,
  cryptoReady,
  Deallocate,
  type KeyringPair,
  keypairFromUri,
  type MachineSpecs,
  Specs,
  SynapseError,
} from "@computemesh/protocol";

export const TAO = 1_000_000_000n;

export interface TestNet {
  dir: string;
  chain: LocalChain;
  netuid: number;
  owner: KeyringPair;
  cleanup(): Promise<void>;
}

export async function testNet(
  opts: { weightsRateLimit?: number; tempo?: number; params?: Partial<SubnetHyperparams> } = {},
): Promise<TestNet> {
  await cryptoReady();
  const dir = mkdtempSync(join(tmpdir(), "cmesh-validator-e2e-"));
  const chain = await LocalChain.open({ dbPath: join(dir, "chain.sqlite"), blockTimeMs: 0, create: true });
  const owner = keypairFromUri(`//Owner-${randomUUID()}`);
  await chain.faucet(owner.address, 10_000n * TAO);
  const netuid = await chain.createSubnet(owner, {
    tempo: opts.tempo ?? 10,
    burn: TAO,
    weightsRateLimit: opts.weightsRateLimit ?? 1,
    maxAllowedValidators: 2,
    ...opts.params,
  });
  await chain.advanceBlocks(1);
  return {
    dir,
    chain,
    netuid,
    owner,
    cleanup: async () => {
      await chain.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Registers a hotkey (its own funded coldkey) and optionally stakes to it. */
export async function register(
  net: TestNet,
  name: string,
  stakeTao = 0n,
): Promise<{ hotkey: KeyringPair; coldkey: KeyringPair }> {
  const hotkey = keypairFromUri(`//${name}`);
  const coldkey = keypairFromUri(`//${name}-cold`);
  await net.chain.faucet(coldkey.address, (stakeTao + 10n) * TAO);
  const client = net.chain.client();
  await client.burnedRegister(net.netuid, hotkey.address, coldkey);
  if (stakeTao > 0n) await client.addStake(net.netuid, hotkey.address, stakeTao * TAO, coldkey);
  return { hotkey, coldkey };
}

/** Machine specs as the miner reports them, for `count` GPUs of `model` (nvidia-smi name). */
export function specsFor(model: string, count: number, uuidPrefix: string): MachineSpecs {
  const m = findGpu(model);
  const mib = Math.round((m?.vramGiB ?? 24) * 1024);
  return {
    gpu: {
      count,
      absent_reason: count === 0 ? "no GPU" : null,
      details: Array.from({ length: count }, (_, i) => ({
        index: i,
        name: model,
        uuid: `GPU-${uuidPrefix}-${i}`,
        memory_total_mib: mib,
        driver_version: "550.54.15",
        cuda_version: "12.4",
        power_limit_w: 450,
        pci_bus_id: `00000000:0${i}:00.0`,
        pcie_link_gen_max: 4,
        pcie_link_width_max: 16,
      })),
    },
    cpu: { model: "Test CPU", count: 16, physical_cores: 8 },
    ram: { total: 64 * 1024 ** 3, available: 60 * 1024 ** 3 },
    hard_disk: { path: "/", total: 500 * 1024 ** 3, free: 400 * 1024 ** 3 },
    os: { platform: "linux", release: "6.1", distro: "Debian 12", arch: "x64" },
    docker: { available: true, server_version: "24.0", nvidia_runtime: true },
    miner_version: "0.1.0",
    pricing: { currency: "USD", per_gpu_hour: 1.5 },
    collected_at: new Date().toISOString(),
  };
}

/** Answers Allocate/Deallocate/AllocationStatus from memory: a test stand-in for the container runtime. */
export class InMemoryRentalsForTests {
  readonly allocations = new Map<string, AllocationInfo>();
  /** When set, AllocationStatus says the allocation is gone (a dead container). */
  containersDead = false;

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
          host_public_key: "ssh-ed25519 AAAAtest",
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

export interface TestMiner {
  hotkey: KeyringPair;
  axon: Axon;
  rentals: InMemoryRentalsForTests;
  stop(): Promise<void>;
}

/**
 * A miner on 127.0.0.1: registered, axon announced on chain, answering Specs (the given machine), proof-of-GPU
 * from `backend` (default the simulated GPU of the local network) and receipts.
 */
export async function startTestMiner(
  net: TestNet,
  name: string,
  opts: {
    model: string;
    count: number;
    backend?: PogBackend;
    uuidPrefix?: string;
    claim?: { model: string; count: number };
  },
): Promise<TestMiner> {
  const { hotkey } = await register(net, name);
  const specs = specsFor(opts.model, opts.count, opts.uuidPrefix ?? name.replace(/\W/g, ""));
  const axon = new Axon({ hotkey, port: 0, host: "127.0.0.1" });
  axon.attach(Specs, async () => ({ specs: { ...specs, collected_at: new Date().toISOString() } }));
  attachPogResponder(axon, {
    backend: opts.backend ?? new SimulatedGpuBackend(),
    gpus: { model: opts.model, count: opts.count, uuids: specs.gpu.details.map((g) => g.uuid) },
  });
  attachReceiptResponder(axon, {
    hotkey,
    network: "local",
    netuid: net.netuid,
    logPath: join(net.dir, `${name}-receipts.jsonl`),
  });
  const rentals = new InMemoryRentalsForTests();
  rentals.attach(axon);
  await axon.start();
  await net.chain.client().serveAxon(net.netuid, { ip: "127.0.0.1", port: axon.port }, hotkey);
  let stopped = false;
  return {
    hotkey,
    axon,
    rentals,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await axon.stop();
    },
  };
}
