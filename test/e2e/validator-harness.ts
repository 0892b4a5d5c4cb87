// Shared setup of the validator end-to-end tests: a LocalChain with a subnet, validators with stake and permits,
// and miners serving real axons on 127.0.0.1 (Specs, proof-of-GPU with the SIMULATED backend the local network
// uses, receipts). The only stand-in is the GPU itself (no GPU exists here), and rentals in
// `InMemoryRentals` (shared with `cmesh sim network`), which answers the allocation synapses without creating a container.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalChain, type SubnetHyperparams } from "@computemesh/chain";
import { attachReceiptResponder } from "@computemesh/miner";
import { allowSimulatedPog, attachPogResponder, type PogBackend, SimulatedGpuBackend } from "@computemesh/pog";
import {
  Axon,
  type BlacklistHook,
  cryptoReady,
  type KeyringPair,
  keypairFromUri,
  type MachineSpecs,
  Specs,
} from "@computemesh/protocol";
import type { ValidatorConfig } from "@computemesh/validator";
import { InMemoryRentals, simulatedMachineSpecs } from "../../packages/cli/src/sim/miners.ts";

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
  return simulatedMachineSpecs(
    model,
    Array.from({ length: count }, (_, i) => `GPU-${uuidPrefix}-${i}`),
  );
}

export interface TestMiner {
  hotkey: KeyringPair;
  axon: Axon;
  rentals: InMemoryRentals;
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
    /** The axon's blacklist hook (it may also hold a request: it runs before the handler). */
    blacklist?: BlacklistHook;
  },
): Promise<TestMiner> {
  const { hotkey } = await register(net, name);
  const specs = specsFor(opts.model, opts.count, opts.uuidPrefix ?? name.replace(/\W/g, ""));
  const axon = new Axon({ hotkey, port: 0, host: "127.0.0.1", blacklist: opts.blacklist });
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
  const rentals = new InMemoryRentals();
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

/**
 * The validator the e2e tests run against a TestNet: simulated proof-of-GPU (loopback miners only), a first proof
 * at once and no second one within the test, fast health checks, an epoch every 2 blocks, no jobs, no retry delay.
 * `overrides` replace whole top-level options (pass all of `health` to change one of its fields).
 */
export function testValidatorConfig(
  net: TestNet,
  hotkey: KeyringPair,
  overrides: Partial<ValidatorConfig> = {},
): ValidatorConfig {
  return {
    chain: net.chain.client(),
    hotkey,
    netuid: net.netuid,
    db: join(net.dir, "validator.sqlite"),
    epochBlocks: 2,
    jobs: false,
    metricsPort: 0,
    pogSimulation: allowSimulatedPog({ network: "local", chainEndpoint: "embedded" }),
    pog: { initialDelayMaxSec: 0, meanIntervalSec: 3600 },
    health: { intervalMs: 200, timeoutMs: 1000, maxFailures: 2 },
    specsTimeoutMs: 2000,
    weights: { retryBaseMs: 0 },
    ...overrides,
  };
}
