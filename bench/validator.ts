// `npm run bench -- validator`: one full validator epoch (metagraph, Specs of every miner, receipts, a
// proof-of-GPU round for every miner at the local network's small size on the CPU-computing simulated-GPU
// backend, scores, weights on the LocalChain) over 256 miners served on 127.0.0.1 by child processes, so the
// validator's CPU time is its own. Baseline in the same run: a bare Specs sweep of the same 256 axons
// (dendrite.queryMany, same concurrency), the network floor of an epoch.
// Prints one JSON object: wall and CPU seconds of the epoch, the baseline, and the ratio.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalChain } from "@computemesh/chain";
import { attachReceiptResponder } from "@computemesh/miner";
import { allowSimulatedPog, attachPogResponder, SimulatedGpuBackend } from "@computemesh/pog";
import { Axon, cryptoReady, Dendrite, keypairFromUri, type MachineSpecs, Specs } from "@computemesh/protocol";
import { Validator } from "@computemesh/validator";

const MINERS = Number(process.env.CMESH_BENCH_MINERS ?? 256);
const HOSTS = 4;
const BATCH = 64;
const TAO = 1_000_000_000n;
const MODELS: [string, number][] = [
  ["NVIDIA H200", 8],
  ["NVIDIA H100 80GB HBM3", 4],
  ["NVIDIA A100-SXM4-80GB", 2],
  ["NVIDIA GeForce RTX 4090", 1],
];

function specsFor(model: string, count: number, tag: string): MachineSpecs {
  return {
    gpu: {
      count,
      absent_reason: null,
      details: Array.from({ length: count }, (_, i) => ({
        index: i,
        name: model,
        uuid: `GPU-${tag}-${i}`,
        memory_total_mib: 81_559,
        driver_version: "550.54.15",
        cuda_version: "12.4",
        power_limit_w: 700,
        pci_bus_id: null,
        pcie_link_gen_max: null,
        pcie_link_width_max: null,
      })),
    },
    cpu: { model: "bench", count: 32, physical_cores: 16 },
    ram: { total: 256 * 1024 ** 3, available: 200 * 1024 ** 3 },
    hard_disk: { path: "/", total: 2 * 1024 ** 4, free: 1024 ** 4 },
    os: { platform: "linux", release: "6.1", distro: null, arch: "x64" },
    docker: { available: true, server_version: "24.0", nvidia_runtime: true },
    miner_version: "0.1.0",
    pricing: { currency: "USD", per_gpu_hour: 2 },
    collected_at: new Date().toISOString(),
  };
}

interface HostRequest {
  netuid: number;
  dir: string;
  miners: { index: number; uri: string }[];
}

/** Child role: serve a share of the miners' axons and report their ports. */
async function minerHost(): Promise<void> {
  await cryptoReady();
  const req = await new Promise<HostRequest>((resolve) =>
    process.once("message", (m) => resolve(m as HostRequest)),
  );
  const ports: { index: number; port: number }[] = [];
  for (const m of req.miners) {
    const [model, count] = MODELS[m.index % MODELS.length] as [string, number];
    const hotkey = keypairFromUri(m.uri);
    const specs = specsFor(model, count, `b${m.index}`);
    const axon = new Axon({ hotkey, port: 0, host: "127.0.0.1" });
    axon.attach(Specs, async () => ({ specs }));
    attachPogResponder(axon, {
      backend: new SimulatedGpuBackend(),
      gpus: { model, count, uuids: specs.gpu.details.map((g) => g.uuid) },
    });
    attachReceiptResponder(axon, {
      hotkey,
      network: "local",
      netuid: req.netuid,
      logPath: join(req.dir, `receipts-${m.index}.jsonl`),
    });
    await axon.start();
    ports.push({ index: m.index, port: axon.port });
  }
  process.send?.({ ports });
  await new Promise(() => {}); // serve until the parent kills us
}

async function main(): Promise<void> {
  const progress = (msg: string) => process.stderr.write(`[bench validator] ${msg}\n`);
  await cryptoReady();
  const dir = mkdtempSync(join(tmpdir(), "cmesh-bench-validator-"));
  const chain = await LocalChain.open({ dbPath: join(dir, "chain.sqlite"), blockTimeMs: 0, create: true });
  const client = chain.client();
  const owner = keypairFromUri("//BenchOwner");
  await chain.faucet(owner.address, 1000n * TAO);
  const netuid = await chain.createSubnet(owner, {
    tempo: 10,
    burn: TAO,
    weightsRateLimit: 1,
    maxAllowedUids: MINERS + 8,
    maxAllowedValidators: 1,
  });
  await chain.advanceBlocks(1);
  const vHot = keypairFromUri("//BenchValidator");
  const vCold = keypairFromUri("//BenchValidator-cold");
  await chain.faucet(vCold.address, 2000n * TAO);
  await client.burnedRegister(netuid, vHot.address, vCold);
  await client.addStake(netuid, vHot.address, 1000n * TAO, vCold);

  progress(`registering ${MINERS} miners`);
  const minerCold = keypairFromUri("//BenchMiners-cold");
  await chain.faucet(minerCold.address, BigInt(MINERS + 10) * 10n * TAO);
  const miners = Array.from({ length: MINERS }, (_, index) => ({ index, uri: `//BenchMiner-${index}` }));
  for (const m of miners) await client.burnedRegister(netuid, keypairFromUri(m.uri).address, minerCold);

  progress(`starting ${MINERS} axons in ${HOSTS} child processes`);
  const self = fileURLToPath(import.meta.url);
  const children = Array.from({ length: HOSTS }, () =>
    fork(self, [], {
      env: { ...process.env, CMESH_BENCH_ROLE: "miners" },
      execArgv: ["--import", "tsx"],
      stdio: "inherit",
    }),
  );
  try {
    const shares = await Promise.all(
      children.map(
        (child, h) =>
          new Promise<{ index: number; port: number }[]>((resolve, reject) => {
            child.once("message", (m) => resolve((m as { ports: { index: number; port: number }[] }).ports));
            child.once("exit", (code) => reject(new Error(`miner host exited with ${code}`)));
            child.send({
              netuid,
              dir,
              miners: miners.filter((m) => m.index % HOSTS === h),
            } satisfies HostRequest);
          }),
      ),
    );
    const targets: { ip: string; port: number; hotkey: string }[] = [];
    for (const { index, port } of shares.flat()) {
      const hotkey = keypairFromUri(miners[index]?.uri as string);
      await client.serveAxon(netuid, { ip: "127.0.0.1", port }, hotkey);
      targets.push({ ip: "127.0.0.1", port, hotkey: hotkey.address });
    }
    await chain.advanceBlocks(11); // permit for the validator

    // Baseline: a bare Specs sweep of the same axons.
    const dendrite = new Dendrite({ hotkey: vHot });
    await dendrite.queryMany(targets.slice(0, 8), Specs, {}, { concurrency: BATCH }); // warm up connections and JIT
    const b0 = performance.now();
    const sweep = await dendrite.queryMany(targets, Specs, {}, { concurrency: BATCH, timeoutMs: 30_000 });
    const baselineWall = (performance.now() - b0) / 1000;
    const sweepOk = sweep.filter((r) => r.ok).length;

    const validator = await Validator.start({
      chain: client,
      hotkey: vHot,
      netuid,
      db: join(dir, "validator.db"),
      epochBlocks: 2,
      autoRun: false,
      jobs: false,
      specsBatchSize: BATCH,
      specsTimeoutMs: 30_000,
      pogSimulation: allowSimulatedPog({ network: "local", chainEndpoint: "embedded" }),
      pog: { initialDelayMaxSec: 0, meanIntervalSec: 3600, concurrency: 16 },
      weights: { retryBaseMs: 0 },
    });
    try {
      await chain.advanceBlocks(2);
      progress("running one epoch");
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const report = await validator.runEpoch();
      const wall = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      const passed = report.scores.filter((s) => s.reason === "ok").length;
      const failedReasons: Record<string, number> = {};
      for (const r of await validator.store.db
        .selectFrom("pog_results")
        .select(["reason", "claimed_model"])
        .where("passed", "=", 0)
        .execute()) {
        const key = `${r.claimed_model}: ${r.reason}`;
        failedReasons[key] = (failedReasons[key] ?? 0) + 1;
      }
      process.stdout.write(
        `${JSON.stringify({
          bench: "validator",
          miners: MINERS,
          epoch: {
            wallSeconds: Number(wall.toFixed(3)),
            cpuSeconds: Number(cpuSeconds.toFixed(3)),
            specsOk: report.specsOk,
            proofsRun: report.proofsRun,
            proofsPassed: passed,
            proofsFailed: failedReasons,
            weights: report.weightsStatus,
          },
          unit: "seconds",
          baseline: {
            what: `bare Specs sweep of the same ${MINERS} axons (dendrite.queryMany, concurrency ${BATCH})`,
            wallSeconds: Number(baselineWall.toFixed(3)),
            ok: sweepOk,
          },
          ratio: Number((wall / baselineWall).toFixed(2)),
          settings: {
            specsBatchSize: BATCH,
            pogConcurrency: 16,
            pog: "simulated-GPU backend (exact CPU int8 GEMM), n=64 m=4, VRAM challenge at the local size",
            store: "SQLite",
            minerHosts: HOSTS,
          },
        })}\n`,
      );
    } finally {
      await validator.stop();
    }
  } finally {
    for (const c of children) c.kill("SIGKILL");
    await chain.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.CMESH_BENCH_ROLE === "miners") await minerHost();
else await main();
