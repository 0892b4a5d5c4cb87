// The miner process: wallet → Docker check → store + reconciliation → chain registration → axon with the market
// synapses (plus proof-of-GPU and jobs) → axon announced on chain → /metrics → expiry and metagraph loops.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import type { ChainClient, NeuronInfo } from "@computemesh/chain";
import { CmeshError, isCmeshError } from "@computemesh/core";
import { CpuBackend, type PogBackend, attachPogResponder } from "@computemesh/pog";
import {
  Allocate,
  type AllocationInfo,
  AllocationStatus,
  Axon,
  Deallocate,
  type MachineSpecs,
  PROTOCOL_VERSION,
  Specs,
  SynapseError,
  Wallet,
} from "@computemesh/protocol";
import { type Logger, pino } from "pino";
import { type AllocateInput, AllocationManager, type ReconcileReport } from "../allocations/manager.ts";
import { attachJobRunner } from "../jobs/index.ts";
import type { JobRunner } from "../jobs/runner.ts";
import { attachReceiptResponder } from "../receipt-responder.ts";
import { DockerRuntime } from "../runtime/docker.ts";
import { NoContainerRuntime } from "../runtime/none.ts";
import { openMinerStore } from "../store/store.ts";
import { collectSpecs, freeDiskBytes } from "../specs/collect.ts";
import { accessRefusal } from "./access.ts";
import { type MinerConfig, type MinerConfigInput, MinerConfigSchema } from "./config.ts";
import { MinerMetrics, serverPort } from "./metrics.ts";

/** Axon priorities: allocation work above proof-of-GPU (5–10) above jobs (1–2) and specs. */
export const PRIORITY = { allocate: 30, deallocate: 30, allocationStatus: 20, specs: 1 } as const;

const STATUS_OF_CODE: Record<string, number> = {
  INVALID_SSH_KEY: 400,
  INVALID_RESOURCES: 400,
  INVALID_DURATION: 400,
  UNKNOWN_IMAGE: 400,
  IMPOSSIBLE_RESOURCES: 422,
  MACHINE_BUSY: 409,
  ALLOCATION_NOT_FOUND: 404,
  NOT_YOUR_ALLOCATION: 403,
  ALLOCATION_ENDED: 410,
  NO_FREE_PORT: 503,
  DOCKER_UNAVAILABLE: 503,
  RUNTIME_UNREACHABLE: 503,
  SSH_NOT_READY: 502,
  CONTAINER_CREATE_FAILED: 502,
};

/** A CmeshError from the allocation layer as the status and message the validator sees. */
export function toSynapseError(err: unknown): unknown {
  if (!isCmeshError(err)) return err;
  const status = STATUS_OF_CODE[err.code] ?? 500;
  return new SynapseError(status, `${err.code}: ${err.message}${err.hint ? ` (${err.hint})` : ""}`);
}

export interface MinerDeps {
  /** A connected chain client (the CLI connects from `--chain`). */
  chain: ChainClient;
  runtime?: DockerRuntime | NoContainerRuntime;
  logger?: Logger;
  pogBackend?: PogBackend;
}

/** The allocation operations as plain functions (for tests, the CLI and the jobs feature). */
export interface MinerAllocations {
  allocate(input: AllocateInput, validatorHotkey: string): Promise<AllocationInfo>;
  deallocate(allocationId: string, callerHotkey: string | null): Promise<AllocationInfo>;
  status(allocationId: string): Promise<AllocationInfo | null>;
  list(filter?: { validatorHotkey?: string; liveOnly?: boolean }): Promise<AllocationInfo[]>;
}

export interface MinerHandle {
  config: MinerConfig;
  hotkey: string;
  uid: number;
  axon: Axon;
  manager: AllocationManager;
  allocations: MinerAllocations;
  reconcileReport: ReconcileReport;
  metricsPort: number;
  specs(): Promise<MachineSpecs>;
  stop(): Promise<void>;
}

function invalidConfig(message: string): CmeshError {
  return new CmeshError("INVALID_MINER_CONFIG", message, { hint: "run `cmesh miner --help`" });
}

/** One miner per data directory: a pid file whose owner is still alive blocks a second one. */
function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, "miner.pid");
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    if (pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        throw new CmeshError("MINER_ALREADY_RUNNING", `another miner (pid ${pid}) uses ${dataDir}`, {
          hint: "stop it, or give this one another --data-dir",
        });
      } catch (e) {
        if (isCmeshError(e)) throw e; // ESRCH: a stale file from a crashed miner, taken over below
      }
    }
  } catch (e) {
    if (isCmeshError(e)) throw e;
  }
  writeFileSync(path, `${process.pid}\n`);
  return () => {
    try {
      if (readFileSync(path, "utf8").trim() === String(process.pid)) rmSync(path);
    } catch {
      // already gone
    }
  };
}

export async function startMiner(input: MinerConfigInput, deps: MinerDeps): Promise<MinerHandle> {
  const parsed = MinerConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw invalidConfig(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  }
  const config = parsed.data;
  if (config.ssh.portRange[0] > config.ssh.portRange[1]) throw invalidConfig("ssh port range is empty");
  const log = (deps.logger ?? pino({ level: config.logLevel, name: "cmesh-miner" })).child({
    component: "miner",
  });
  const metrics = new MinerMetrics();
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        log.warn({ err: e }, "cleanup step failed");
      }
    }
    cleanups.length = 0;
  };

  try {
    mkdirSync(config.dataDir, { recursive: true });
    cleanups.push(lockDataDir(config.dataDir));

    const wallet = new Wallet({
      name: config.wallet.name,
      hotkey: config.wallet.hotkey,
      path: config.wallet.path,
    });
    const hotkey = await wallet.loadHotkey();
    log.info({ hotkey: hotkey.address }, "hotkey loaded");

    const runtime =
      deps.runtime ??
      (config.docker ? new DockerRuntime({ socketPath: config.dockerSocket }) : new NoContainerRuntime());
    const facts = await runtime.check();
    if (runtime.kind === "none") log.warn("running without Docker: proven and scored, but rents nothing and runs no jobs");
    else log.info({ docker: facts.serverVersion, nvidia: facts.nvidiaRuntime }, "docker answers");
    for (const image of config.images.allowed) {
      if (!(await runtime.hasImage(image)))
        log.warn({ image }, "offered image is not present; Allocate will refuse it");
    }

    const specsOf = () =>
      collectSpecs({
        dataDir: config.dataDir,
        pricing: config.pricing,
        nvidiaSmi: config.nvidiaSmi,
        docker: () => runtime.facts(),
      });
    let specs = await specsOf();
    let specsAt = Date.now();
    log.info(
      {
        gpus: specs.gpu.count,
        gpuAbsent: specs.gpu.absent_reason,
        cpus: specs.cpu.count,
        ram: specs.ram.total,
      },
      "specs collected",
    );

    // ---- chain: metagraph, registration ---------------------------------------------------------------------
    const chain = deps.chain;
    let neurons: NeuronInfo[] = [];
    let metagraphAt = 0;
    const refreshMetagraph = async () => {
      const mg = await chain.getMetagraph(config.netuid);
      neurons = mg.neurons;
      metagraphAt = Date.now();
      metrics.metagraphAge.set(mg.block);
    };
    await refreshMetagraph();
    let me = neurons.find((n) => n.hotkey === hotkey.address);
    if (!me) {
      if (!config.register) {
        throw new CmeshError(
          "MINER_NOT_REGISTERED",
          `hotkey ${hotkey.address} is not registered on subnet ${config.netuid}`,
          {
            hint: "register it (cmesh wallet / btcli), or start without --no-register",
          },
        );
      }
      const coldkey = await wallet.loadColdkey(config.coldkeyPassword);
      const reg = await chain.burnedRegister(config.netuid, hotkey.address, coldkey);
      log.info({ uid: reg.uid, block: reg.block }, "registered on chain");
      await refreshMetagraph();
      me = neurons.find((n) => n.hotkey === hotkey.address);
    }
    const uid = me?.uid ?? -1;

    // ---- store + allocations --------------------------------------------------------------------------------
    const db = await openMinerStore(config.storePath);
    cleanups.push(() => db.destroy());
    const externalIp =
      config.axon.externalIp ?? (config.axon.host === "0.0.0.0" ? "127.0.0.1" : config.axon.host);
    const advertisedHost =
      config.ssh.advertisedHost ?? (config.ssh.bindHost === "0.0.0.0" ? externalIp : config.ssh.bindHost);
    let liveCount = 0;
    const manager = new AllocationManager({
      db,
      runtime,
      minerHotkey: hotkey.address,
      capacity: {
        gpus: specs.gpu.details,
        nvidiaRuntime: facts.nvidiaRuntime,
        cpuCount: specs.cpu.count,
        ramBytes: specs.ram.total,
        diskFreeBytes: () => freeDiskBytes(config.dataDir),
      },
      images: config.images,
      ssh: { bindHost: config.ssh.bindHost, advertisedHost, portRange: config.ssh.portRange },
      pidsLimit: config.pidsLimit,
      reservedRamBytes: config.reservedRamBytes,
      logger: log.child({ component: "allocations" }),
      onEvent: (event) => {
        metrics.allocationEvents.inc({ event });
        liveCount += event === "active" ? 1 : -1;
        metrics.liveAllocations.set(Math.max(0, liveCount));
      },
    });
    const reconcileReport = await manager.reconcile();
    liveCount = (await manager.list({ liveOnly: true })).length;
    metrics.liveAllocations.set(liveCount);
    for (const id of reconcileReport.lost) {
      log.error({ allocation: id }, "allocation lost while the miner was down: its container is gone");
    }
    log.info(reconcileReport, "reconciled allocations with Docker");
    if (runtime.kind === "docker") metrics.dockerUp.set(1);

    // ---- axon -----------------------------------------------------------------------------------------------
    const access = { ...config.access, netuid: config.netuid };
    const axon = new Axon({
      hotkey,
      port: config.axon.port,
      host: config.axon.host,
      externalIp,
      logger: log,
      blacklist: async (caller, synapseName) => {
        let reason = accessRefusal(caller.hotkey, neurons, access);
        if (reason && Date.now() - metagraphAt > 2000) {
          await refreshMetagraph().catch((e) => log.warn({ err: e }, "metagraph refresh failed"));
          reason = accessRefusal(caller.hotkey, neurons, access);
        }
        if (reason) {
          metrics.refused.inc({ synapse: synapseName });
          log.info({ caller: caller.hotkey, ip: caller.ip, synapse: synapseName, reason }, "refused");
        }
        return reason;
      },
    });
    const served = <T>(synapse: string, fn: () => Promise<T>): Promise<T> =>
      fn().then(
        (res) => {
          metrics.requests.inc({ synapse, outcome: "ok" });
          return res;
        },
        (err) => {
          metrics.requests.inc({ synapse, outcome: isCmeshError(err) ? err.code : "error" });
          throw toSynapseError(err);
        },
      );

    axon.attach(
      Allocate,
      (req, caller) =>
        served("Allocate", async () => {
          const end = metrics.allocateSeconds.startTimer();
          const allocation = await manager.allocate(req, caller.hotkey);
          end();
          return { allocation };
        }),
      { priority: PRIORITY.allocate },
    );
    axon.attach(
      Deallocate,
      (req, caller) =>
        served("Deallocate", async () => ({
          allocation: await manager.deallocate(req.allocation_id, caller.hotkey),
        })),
      { priority: PRIORITY.deallocate },
    );
    axon.attach(
      AllocationStatus,
      (req, caller) =>
        served("AllocationStatus", async () => {
          if (req.allocation_id !== "") {
            const one = await manager.get(req.allocation_id);
            if (!one)
              throw new CmeshError(
                "ALLOCATION_NOT_FOUND",
                `no allocation ${req.allocation_id} on this miner`,
              );
            if (one.validator_hotkey !== caller.hotkey) {
              throw new CmeshError(
                "NOT_YOUR_ALLOCATION",
                `allocation ${req.allocation_id} was made by another validator`,
              );
            }
            // the answer is what Docker has now, not only what the store remembers
            if (one.state === "active") {
              await manager.verify([one.allocation_id]);
              return { allocations: [(await manager.get(one.allocation_id)) ?? one] };
            }
            return { allocations: [one] };
          }
          await manager.verify(
            (await manager.list({ validatorHotkey: caller.hotkey, liveOnly: true }))
              .filter((a) => a.state === "active")
              .map((a) => a.allocation_id),
          );
          const mine = await manager.list({ validatorHotkey: caller.hotkey });
          return {
            allocations: mine.filter(
              (a) => a.state === "active" || a.state === "creating" || a.state === "lost",
            ),
          };
        }),
      { priority: PRIORITY.allocationStatus },
    );
    axon.attach(
      Specs,
      () =>
        served("Specs", async () => {
          if (Date.now() - specsAt > 30_000) {
            specs = await specsOf();
            specsAt = Date.now();
          }
          return { specs };
        }),
      { priority: PRIORITY.specs },
    );

    const gpuModel = specs.gpu.details[0]?.name ?? "CPU";
    attachPogResponder(axon, {
      backend: deps.pogBackend ?? new CpuBackend(),
      gpus: {
        model: gpuModel,
        count: Math.max(1, specs.gpu.count),
        uuids: specs.gpu.details.map((g) => g.uuid),
      },
      logger: log,
    });

    // Allocation receipts: countersign only what matches this miner's own store; a renewal moves the end here too.
    attachReceiptResponder(axon, {
      hotkey,
      network: config.network,
      netuid: config.netuid,
      logPath: join(config.dataDir, "receipts.jsonl"),
      logger: log,
      check: async (p, callerHotkey) => {
        const a = await manager.get(p.allocation_id);
        if (!a) return `no allocation ${p.allocation_id} on this miner`;
        if (a.validator_hotkey !== callerHotkey)
          return `allocation ${p.allocation_id} was made by another validator`;
        if (p.kind === "allocation_started") {
          if (a.state !== "active") return `allocation ${p.allocation_id} is ${a.state}`;
          if (p.gpu_count !== a.resources.gpu.count) {
            return `allocation ${p.allocation_id} holds ${a.resources.gpu.count} GPUs, not ${p.gpu_count}`;
          }
        }
        if (p.kind === "allocation_renewed") {
          try {
            await manager.extend(p.allocation_id, callerHotkey, Date.parse(p.expires_at));
          } catch (e) {
            return isCmeshError(e) ? e.message : String(e);
          }
        }
        return null;
      },
    });

    let jobs: JobRunner | undefined;
    if (config.jobs && runtime instanceof DockerRuntime) {
      jobs = await attachJobRunner(axon, {
        docker: runtime.docker,
        dataDir: config.dataDir,
        logger: log.child({ component: "jobs" }),
        hotkey,
        busyReason: () => (liveCount > 0 ? "the machine is rented (an allocation holds it)" : null),
      });
      const runner = jobs;
      cleanups.push(() => runner.close());
    }

    await axon.start();
    cleanups.push(() => axon.stop());
    log.info({ port: axon.port, host: config.axon.host, externalIp }, "axon serving");
    await chain.serveAxon(
      config.netuid,
      { ip: externalIp, port: axon.port, version: PROTOCOL_VERSION, protocol: 4 },
      hotkey,
    );
    log.info({ ip: externalIp, port: axon.port, netuid: config.netuid }, "axon announced on chain");

    const metricsServer: Server = await metrics.serve(config.metrics.host, config.metrics.port);
    cleanups.push(() => new Promise<void>((r) => metricsServer.close(() => r())));
    const metricsPort = serverPort(metricsServer);
    log.info({ url: `http://${config.metrics.host}:${metricsPort}/metrics` }, "metrics serving");

    // ---- loops ----------------------------------------------------------------------------------------------
    // Expiry, then the same agreement with Docker as at start-up (containers Docker lost or restarted, orphans)
    let sweepFailing = false;
    let passRunning = false;
    const expiry = setInterval(() => {
      if (passRunning) return; // a slow Docker must not pile passes up
      passRunning = true;
      void (async () => {
        await manager.expireDue().catch((e) => log.error({ err: e }, "expiry pass failed"));
        if (runtime.kind !== "docker") return;
        try {
          const r = await manager.sweep();
          metrics.dockerUp.set(1);
          metrics.realigned.inc({ action: "restarted" }, r.restarted.length);
          metrics.realigned.inc({ action: "orphan_removed" }, r.orphansRemoved.length);
          if (sweepFailing) log.info("Docker answers again; rentals checked");
          sweepFailing = false;
          if (r.lost.length + r.restarted.length + r.orphansRemoved.length > 0) {
            log.warn({ ...r, kept: r.kept.length }, "rentals re-aligned with Docker");
          }
        } catch (e) {
          if (!sweepFailing) log.error({ err: e }, "could not check rentals against Docker");
          sweepFailing = true;
          metrics.dockerUp.set(isCmeshError(e, "RUNTIME_UNREACHABLE") ? 0 : 1);
        }
      })().finally(() => {
        passRunning = false;
      });
    }, config.expiryCheckMs);
    const metagraphLoop = setInterval(() => {
      refreshMetagraph().catch((e) => log.warn({ err: e }, "metagraph refresh failed"));
    }, config.metagraphRefreshMs);
    cleanups.push(() => {
      clearInterval(expiry);
      clearInterval(metagraphLoop);
    });

    let stopped = false;
    return {
      config,
      hotkey: hotkey.address,
      uid,
      axon,
      manager,
      reconcileReport,
      metricsPort,
      allocations: {
        allocate: (i, v) => manager.allocate(i, v),
        deallocate: (id, c) => manager.deallocate(id, c),
        status: (id) => manager.get(id),
        list: (f) => manager.list(f),
      },
      specs: async () => specs,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        log.info("miner stopping (allocations keep running; the next start reconciles them)");
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
