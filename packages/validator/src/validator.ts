// The validator: metagraph sync every block; per epoch the specs of every serving miner, receipts, proof-of-GPU
// rounds that are due, scores and weights; allocation health checks on their own short interval; the market
// contract (listMachines, rent, release, allocation, events; jobs delegated to the jobs service).
import type { ChainClient, Metagraph, NeuronInfo, SubnetHyperparams } from "@computemesh/chain";
import { CmeshError, findGpu } from "@computemesh/core";
import { UuidRegistry } from "@computemesh/pog";
import {
  type AxonTarget,
  Dendrite,
  type KeyringPair,
  type MachineSpecs,
  MachineSpecsSchema,
  Specs,
} from "@computemesh/protocol";
import { type Logger, pino } from "pino";
import {
  type AllocationEvent,
  AllocationManager,
  type AllocationView,
  type RentableMiner,
  type RentRequest,
} from "./allocations.ts";
import { type ValidatorConfig, type ValidatorOptions, ValidatorOptionsSchema } from "./config.ts";
import { classifyMiners, type Exclusion } from "./filters.ts";
import { type JobLogsChunk, JobService, type JobView } from "./jobs/index.ts";
import { ValidatorMetrics } from "./metrics.ts";
import { INCONCLUSIVE_POG_REASONS, type ProofRunnerDeps, runProof } from "./proofs.ts";
import { ReceiptBook } from "./receipt-book.ts";
import { firstPogAt, isPogDue, type PogScheduleOptions } from "./schedule.ts";
import { type MinerScore, scoreMiner, weightsFromScores } from "./scoring.ts";
import { type MetricsServer, startMetricsServer } from "./server.ts";
import { buildStatus, type StatusRow } from "./status.ts";
import { type MinerRow, type PogResultRow, ValidatorStore } from "./store/store.ts";
import { cryptoRandom, GiB, mapLimit } from "./util.ts";
import { WeightSubmitter } from "./weights.ts";

export interface MachineView {
  minerHotkey: string;
  uid: number;
  axon: { ip: string; port: number } | null;
  /** PROVEN model (catalog canonical name), null if not proven. */
  gpuModel: string | null;
  claimedGpuModel: string | null;
  gpuCount: number;
  /** Memory of one GPU, GiB. */
  vramGiB: number;
  measuredTops: number | null;
  simulated: boolean;
  pricePerGpuHour: number;
  reliability: number;
  verified: boolean;
  lastProofAt: string | null;
  allocated: boolean;
  /** The miner can start this machine's rental containers: Docker, with NVIDIA's runtime when it has GPUs. */
  runsContainers: boolean;
  score: number;
  cpuCores: number;
  ramGiB: number;
  diskGiB: number;
}

/** The chain's figures per neuron at one of this validator's epochs (stake and emission in TAO). */
export interface ChainEpochView {
  epoch: number;
  block: number;
  neurons: { uid: number; hotkey: string; stake: number; incentive: number; dividends: number; emission: number }[];
}

export interface JobSpecInput {
  image: string;
  command: string[];
  env?: Record<string, string>;
  inputs?: { path: string; contentBase64: string }[];
  outputPaths?: string[];
  limits?: {
    downloadSec?: number;
    executionSec?: number;
    uploadSec?: number;
    memoryMiB?: number;
    cpus?: number;
  };
}

/** The outcome of one epoch (returned by {@link Validator.runEpoch}). */
export interface EpochReport {
  epoch: number;
  block: number;
  /** false when the epoch had already been scored (a restart): only its pending weights were retried. */
  scored: boolean;
  scores: MinerScore[];
  u16: number[];
  weightsStatus: "ok" | "pending" | "failed" | "skipped";
  proofsRun: number;
  specsOk: number;
  specsFailed: number;
  durationMs: number;
}

interface EpochMinerState {
  online: boolean;
  specs: MachineSpecs | null;
}

export class Validator {
  readonly hotkey: string;
  readonly store: ValidatorStore;
  readonly metrics: ValidatorMetrics;
  readonly options: ValidatorOptions;
  /** Dockerized jobs; undefined when started with `jobs: false`. */
  jobs: JobService | undefined;

  private readonly chain: ChainClient;
  private readonly pair: KeyringPair;
  private readonly dendrite: Dendrite;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly receipts: ReceiptBook;
  private readonly weights: WeightSubmitter;
  private readonly allocations: AllocationManager;
  private readonly uuidRegistry = new UuidRegistry();
  private readonly proofDeps: ProofRunnerDeps;
  private readonly schedule: PogScheduleOptions;
  private metagraph: Metagraph | null = null;
  private hyper: SubnetHyperparams;
  private epochBlocks: number;
  private lastScores = new Map<string, MinerScore>();
  private epochInFlight: Promise<EpochReport> | null = null;
  private tickInFlight: Promise<void> | null = null;
  private healthInFlight: Promise<unknown> | null = null;
  private tickAgain = false;
  private unsubscribeBlocks: (() => void) | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private server: MetricsServer | null = null;
  private stopped = false;

  private constructor(
    config: ValidatorConfig,
    options: ValidatorOptions,
    store: ValidatorStore,
    hyper: SubnetHyperparams,
  ) {
    this.options = options;
    this.store = store;
    this.hyper = hyper;
    this.chain = config.chain;
    this.pair = config.hotkey;
    this.hotkey = config.hotkey.address;
    this.log = (config.logger ?? pino({ level: "silent" })).child({
      component: "validator",
      hotkey: this.hotkey,
    });
    this.dendrite = config.dendrite ?? new Dendrite({ hotkey: config.hotkey, logger: this.log });
    this.now = config.now ?? (() => new Date());
    this.random = config.random ?? cryptoRandom;
    this.metrics = new ValidatorMetrics({ defaultMetrics: options.metricsPort !== undefined });
    this.epochBlocks = options.epochBlocks ?? Math.max(1, hyper.weightsRateLimit);
    this.schedule = {
      meanIntervalMs: options.pog.meanIntervalSec * 1000,
      jitter: options.pog.jitter,
      initialDelayMaxMs: options.pog.initialDelayMaxSec * 1000,
      retryAfterMs: options.pog.retryAfterSec * 1000,
    };
    this.receipts = new ReceiptBook({
      store,
      dendrite: this.dendrite,
      hotkey: this.pair,
      network: options.network,
      netuid: options.netuid,
      log: this.log,
      metrics: this.metrics,
      now: this.now,
      timeoutMs: options.specsTimeoutMs,
    });
    this.weights = new WeightSubmitter({
      chain: this.chain,
      netuid: options.netuid,
      hotkey: this.pair,
      store,
      log: this.log,
      metrics: this.metrics,
      now: this.now,
      maxAttempts: options.weights.maxAttempts,
      retryBaseMs: options.weights.retryBaseMs,
    });
    this.proofDeps = {
      store,
      dendrite: this.dendrite,
      uuidRegistry: this.uuidRegistry,
      schedule: this.schedule,
      random: this.random,
      now: this.now,
      log: this.log,
      metrics: this.metrics,
      simulation: config.pogSimulation,
      workload: options.pog.workload,
      samples: options.pog.samples,
      vram: options.pog.vram,
    };
    this.allocations = new AllocationManager({
      store,
      dendrite: this.dendrite,
      receipts: this.receipts,
      validatorHotkey: this.hotkey,
      log: this.log,
      metrics: this.metrics,
      now: this.now,
      health: { timeoutMs: options.health.timeoutMs, maxFailures: options.health.maxFailures },
      miner: (hotkey) => this.rentable(hotkey),
      rentedElsewhere: async (hotkey) =>
        (await this.receipts.rentedMiners(this.trustedValidators())).has(hotkey),
      targetOf: (hotkey) => this.targetOf(hotkey),
    });
  }

  /**
   * Opens the store, reads the subnet's hyperparameters and metagraph, and (unless `autoRun: false`) starts the
   * block-driven loop and the allocation health checks.
   */
  static async start(config: ValidatorConfig): Promise<Validator> {
    const parsed = ValidatorOptionsSchema.safeParse(config);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CmeshError(
        "VALIDATOR_CONFIG_INVALID",
        `${issue?.path.join(".") || "config"}: ${issue?.message}`,
      );
    }
    const options = parsed.data;
    const store = await ValidatorStore.open(options.db, { pgSchema: options.pgSchema });
    let v: Validator;
    try {
      const hyper = await config.chain.getHyperparams(options.netuid);
      v = new Validator(config, options, store, hyper);
      await v.syncMetagraph();
      await v.restoreUuidClaims();
      if (config.jobs !== false) {
        v.jobs = await JobService.open({
          dendrite: v.dendrite,
          hotkey: v.pair,
          db: store.db,
          logger: v.log,
          candidates: async () =>
            (await v.listMachines()).map((m) => ({
              hotkey: m.minerHotkey,
              axon: m.axon,
              verified: m.verified,
              allocated: m.allocated,
              reliability: m.reliability,
            })),
        });
      }
      if (options.metricsPort !== undefined) {
        v.server = await startMetricsServer({
          host: options.metricsHost,
          port: options.metricsPort,
          metrics: v.metrics,
          status: () => v.status(),
        });
      }
    } catch (err) {
      await store.close().catch(() => {});
      throw err;
    }
    if (config.autoRun !== false) await v.startLoops();
    v.log.info(
      { netuid: options.netuid, epochBlocks: v.epochBlocks, uid: v.ownUid(), metrics: v.server?.url ?? null },
      "validator started",
    );
    return v;
  }

  /** Where /metrics and /status are served (when `metricsPort` was given). */
  get metricsUrl(): string | null {
    return this.server?.url ?? null;
  }

  get blocksPerEpoch(): number {
    return this.epochBlocks;
  }

  private async startLoops(): Promise<void> {
    this.unsubscribeBlocks = await this.chain.subscribeBlocks((block) => this.onBlock(block));
    this.healthTimer = setInterval(() => {
      if (this.stopped) return;
      if (this.healthInFlight) return;
      this.healthInFlight = Promise.all([
        this.allocations.checkAll().catch((err) => this.log.error({ err }, "allocation health round failed")),
        this.receipts
          .retryPending((h) => this.targetOf(h))
          .catch((err) => this.log.warn({ err }, "receipt retry failed")),
      ]).finally(() => {
        this.healthInFlight = null;
      });
    }, this.options.health.intervalMs);
    this.healthTimer.unref();
    this.onBlock(await this.chain.getBlock());
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribeBlocks?.();
    if (this.healthTimer) clearInterval(this.healthTimer);
    await Promise.allSettled([this.epochInFlight, this.tickInFlight, this.healthInFlight]);
    await this.jobs?.close().catch((err) => this.log.warn({ err }, "closing the job service failed"));
    await this.server?.close();
    await this.store.close();
    this.log.info("validator stopped");
  }

  // ------------------------------------------------------------------ the loop

  private onBlock(block: number): void {
    if (this.stopped) return;
    this.metrics.lastBlock.set(block);
    if (this.tickInFlight) {
      this.tickAgain = true;
      return;
    }
    this.tickInFlight = this.tick(block)
      .catch((err) => this.log.error({ err, block }, "validator tick failed"))
      .finally(() => {
        this.tickInFlight = null;
        if (this.tickAgain && !this.stopped) {
          this.tickAgain = false;
          this.chain.getBlock().then(
            (b) => this.onBlock(b),
            (err) => this.log.warn({ err }, "reading the block failed"),
          );
        }
      });
  }

  private async tick(block: number): Promise<void> {
    await this.syncMetagraph();
    const epoch = Math.floor(block / this.epochBlocks);
    const ws = await this.store.weightSet(epoch);
    if (!ws && !this.epochInFlight) {
      // The epoch runs in the background: blocks keep syncing the metagraph while specs and proofs are in flight.
      this.runEpoch(epoch).catch((err) => this.log.error({ err, epoch }, "epoch failed"));
      return;
    }
    await this.submitPendingWeights(block);
  }

  /** Refreshes the metagraph and the miners table. */
  async syncMetagraph(): Promise<Metagraph> {
    const mg = await this.chain.getMetagraph(this.options.netuid);
    this.metagraph = mg;
    this.metrics.minersSeen.set(mg.neurons.length);
    const { removed } = await this.store.syncMiners(
      mg.neurons.map((n) => ({
        uid: n.uid,
        hotkey: n.hotkey,
        coldkey: n.coldkey,
        ip: n.axon ? n.axon.ip : null,
        port: n.axon ? n.axon.port : null,
      })),
      this.now().toISOString(),
    );
    for (const hotkey of removed) this.uuidRegistry.release(hotkey);
    return mg;
  }

  private async restoreUuidClaims(): Promise<void> {
    for (const m of await this.store.listMiners()) {
      const last = await this.store.latestConclusivePog(m.hotkey, INCONCLUSIVE_POG_REASONS);
      if (last?.passed) this.uuidRegistry.claim(m.hotkey, JSON.parse(last.uuids_json) as string[]);
    }
  }

  private neuron(hotkey: string): NeuronInfo | undefined {
    return this.metagraph?.neurons.find((n) => n.hotkey === hotkey);
  }

  private ownUid(): number | null {
    return this.neuron(this.hotkey)?.uid ?? null;
  }

  private targetOf(hotkey: string): AxonTarget | null {
    const n = this.neuron(hotkey);
    if (!n?.axon || n.axon.port <= 0 || !n.axon.ip || n.axon.ip === "0.0.0.0") return null;
    return { ip: n.axon.ip, port: n.axon.port, hotkey };
  }

  /**
   * Validators whose receipts count: validator permit holders other than a miner vouching for itself (checked
   * per receipt in rentedMiners through the different-hotkey rule), plus this validator.
   */
  private trustedValidators(): Set<string> {
    const set = new Set<string>([this.hotkey]);
    if (!this.options.receipts.requireValidatorPermit) {
      for (const n of this.metagraph?.neurons ?? []) set.add(n.hotkey);
    } else {
      for (const n of this.metagraph?.neurons ?? []) if (n.validatorPermit) set.add(n.hotkey);
    }
    return set;
  }

  /** Hotkeys rented now: by this validator (its store) or by any trusted validator (receipts). */
  private async rentedNow(): Promise<Set<string>> {
    const rented = await this.receipts.rentedMiners(this.trustedValidators());
    for (const a of await this.store.activeAllocations()) rented.add(a.miner_hotkey);
    return rented;
  }

  private async submitPendingWeights(block: number): Promise<void> {
    const pending = await this.store.weightSets({ status: "pending" });
    if (pending.length === 0) return;
    const [latest, ...older] = pending;
    for (const ws of older) {
      await this.store.recordWeightAttempt(
        ws.epoch,
        { ok: false, error: `superseded by epoch ${latest?.epoch} before it could be sent`, final: true },
        this.now().toISOString(),
      );
      this.metrics.weightTx.inc({ result: "failed" });
      this.log.warn(
        { epoch: ws.epoch, supersededBy: latest?.epoch },
        "weights of an older epoch were never sent",
      );
    }
    if (!latest) return;
    const me = this.neuron(this.hotkey);
    if (!me) {
      this.log.warn(
        { epoch: latest.epoch },
        "this hotkey holds no UID on the subnet; weights wait until it does",
      );
      return;
    }
    await this.weights.attempt(latest, block, me.lastUpdate, this.hyper);
  }

  /**
   * One scoring epoch: metagraph, specs (bounded concurrency, timeouts), receipts, due proofs, scores and
   * weights. Idempotent per epoch: an epoch already stored only has its pending weights retried. Runs alone
   * (a second call waits for the first).
   */
  async runEpoch(epoch?: number): Promise<EpochReport> {
    while (this.epochInFlight) await this.epochInFlight.catch(() => {});
    const run = this.doEpoch(epoch);
    this.epochInFlight = run;
    try {
      return await run;
    } finally {
      if (this.epochInFlight === run) this.epochInFlight = null;
    }
  }

  private async doEpoch(requested?: number): Promise<EpochReport> {
    const started = performance.now();
    const endTimer = this.metrics.epochDuration.startTimer();
    const block = await this.chain.getBlock();
    const epoch = requested ?? Math.floor(block / this.epochBlocks);
    const log = this.log.child({ epoch });
    const existing = await this.store.weightSet(epoch);
    if (existing) {
      await this.syncMetagraph();
      await this.submitPendingWeights(block);
      const after = await this.store.weightSet(epoch);
      endTimer();
      return {
        epoch,
        block,
        scored: false,
        scores: [],
        u16: JSON.parse(existing.weights_json),
        weightsStatus: after?.status ?? existing.status,
        proofsRun: 0,
        specsOk: 0,
        specsFailed: 0,
        durationMs: performance.now() - started,
      };
    }
    log.info({ block }, "epoch started");
    this.hyper = await this.chain.getHyperparams(this.options.netuid);
    const mg = await this.syncMetagraph();
    await this.store.recordMetagraph(epoch, mg.block, mg.neurons.map(neuronFigures));
    const miners = await this.store.listMiners();
    const byHotkey = new Map(miners.map((m) => [m.hotkey, m]));
    const serving = mg.neurons.filter((n) => n.hotkey !== this.hotkey && this.targetOf(n.hotkey) !== null);

    // 1. specs (or, without hardware queries, only for miners never queried) and receipts: both prove liveness.
    const state = new Map<string, EpochMinerState>();
    let specsOk = 0;
    let specsFailed = 0;
    await mapLimit(serving, this.options.specsBatchSize, async (n) => {
      const target = this.targetOf(n.hotkey) as AxonTarget;
      const row = byHotkey.get(n.hotkey);
      let specs: MachineSpecs | null = parseSpecs(row?.specs_json ?? null);
      let online: boolean;
      if (this.options.performHardwareQuery || !specs) {
        const res = await this.dendrite.query(target, Specs, {}, { timeoutMs: this.options.specsTimeoutMs });
        const at = this.now().toISOString();
        if (res.ok) {
          specs = res.response.specs;
          specsOk++;
          this.metrics.specsQueries.inc({ result: "ok" });
          await this.store.recordSpecs(n.hotkey, { ok: true, specs, version: specs.miner_version }, at);
        } else {
          specsFailed++;
          this.metrics.specsQueries.inc({ result: res.kind });
          await this.store.recordSpecs(
            n.hotkey,
            { ok: false, error: `${res.kind}: ${res.message}`.slice(0, 500) },
            at,
          );
        }
        online = res.ok;
        const receiptsOk = await this.receipts.fetchFrom(target);
        if (!this.options.performHardwareQuery) online = online || receiptsOk;
      } else {
        online = await this.receipts.fetchFrom(target);
      }
      state.set(n.hotkey, { online, specs: online ? specs : null });
    });
    await this.receipts.retryPending((h) => this.targetOf(h));

    // 2. who is excluded, who is rented
    const refreshed = new Map((await this.store.listMiners()).map((m) => [m.hotkey, m]));
    const exclusions = classifyMiners(
      [...refreshed.values()].map((m) => ({
        hotkey: m.hotkey,
        coldkey: m.coldkey,
        version: m.miner_version,
      })),
      this.options,
    );
    const rentedForBonus = await this.receipts.rentedMiners(this.trustedValidators());
    const rentedAny = await this.rentedNow();

    // 3. proof-of-GPU for the miners whose randomized time has come (never a rented machine)
    const now = this.now();
    const due: { target: AxonTarget; specs: MachineSpecs; slot: string }[] = [];
    for (const n of serving) {
      const st = state.get(n.hotkey);
      const row = refreshed.get(n.hotkey);
      if (!st?.online || !st.specs || !row || exclusions.get(n.hotkey)) continue;
      let slot = row.next_pog_at;
      if (slot === null) {
        slot = firstPogAt(now, this.schedule, this.random).toISOString();
        await this.store.setNextPog(n.hotkey, slot);
      }
      if (isPogDue(slot, now, rentedAny.has(n.hotkey))) {
        due.push({ target: this.targetOf(n.hotkey) as AxonTarget, specs: st.specs, slot });
      }
    }
    const verdicts = await mapLimit(due, this.options.pog.concurrency, (d) => runProof(this.proofDeps, d));

    // 4. scores over every UID, weights, stored together
    const scoreNow = this.now();
    const scores: MinerScore[] = [];
    let verified = 0;
    for (const n of mg.neurons) {
      const row = refreshed.get(n.hotkey);
      const proof = row
        ? await this.store.latestConclusivePog(n.hotkey, INCONCLUSIVE_POG_REASONS)
        : undefined;
      const s = scoreMiner(
        {
          uid: n.uid,
          hotkey: n.hotkey,
          serving: this.targetOf(n.hotkey) !== null,
          online: state.get(n.hotkey)?.online ?? false,
          exclusion: (exclusions.get(n.hotkey) ?? null) as Exclusion | null,
          latestProof: proof ? proofSummary(proof) : null,
          allocated: rentedForBonus.has(n.hotkey),
          isValidator: n.hotkey === this.hotkey,
        },
        scoreNow,
        this.options.pog.ttlSec * 1000,
      );
      if (s.reason === "ok") verified++;
      scores.push(s);
    }
    const w = weightsFromScores(scores, mg.neurons.length);
    const { weightSet } = await this.store.saveEpoch(
      epoch,
      scores.map((s) => ({
        uid: s.uid,
        hotkey: s.hotkey,
        score: s.score,
        provenModel: s.provenModel,
        gpuCount: s.gpuCount,
        allocated: s.allocated,
      })),
      { uids: w.uids, weights: w.u16, versionKey: this.options.weights.versionKey },
      scoreNow.toISOString(),
    );
    this.lastScores = new Map(scores.map((s) => [s.hotkey, s]));
    this.metrics.minersServing.set([...state.values()].filter((s) => s.online).length);
    this.metrics.minersVerified.set(verified);
    let status = weightSet.status;
    if (w.allZero) {
      await this.store.skipWeightSet(epoch, "every score is 0: nothing to set", this.now().toISOString());
      this.metrics.weightTx.inc({ result: "skipped" });
      status = "skipped";
      log.info("every score is 0; no weights set this epoch");
    } else {
      await this.submitPendingWeights(await this.chain.getBlock());
      status = (await this.store.weightSet(epoch))?.status ?? status;
    }
    endTimer();
    this.metrics.epochs.inc();
    const report: EpochReport = {
      epoch,
      block,
      scored: true,
      scores,
      u16: w.u16,
      weightsStatus: status,
      proofsRun: verdicts.filter((v) => v !== null).length,
      specsOk,
      specsFailed,
      durationMs: performance.now() - started,
    };
    log.info(
      {
        block,
        miners: mg.neurons.length,
        specsOk,
        specsFailed,
        proofs: report.proofsRun,
        verified,
        weights: status,
        ms: Math.round(report.durationMs),
      },
      "epoch done",
    );
    return report;
  }

  // ------------------------------------------------------------------ market contract

  private async rentable(hotkey: string): Promise<RentableMiner | undefined> {
    const target = this.targetOf(hotkey);
    const row = await this.store.getMiner(hotkey);
    const specs = parseSpecs(row?.specs_json ?? null);
    if (!target || !row || !specs) return undefined;
    const view = await this.machineView(row, await this.rentedNow());
    const exclusion =
      this.options.blacklist.hotkeys.includes(hotkey) ||
      this.options.blacklist.coldkeys.includes(row.coldkey);
    return {
      target,
      specs,
      verified: view.verified,
      provenModel: view.gpuModel,
      provenCount: view.gpuCount,
      excluded: exclusion,
    };
  }

  private async machineView(row: MinerRow, rented: Set<string>): Promise<MachineView> {
    const specs = parseSpecs(row.specs_json);
    const proof = await this.store.latestConclusivePog(row.hotkey, INCONCLUSIVE_POG_REASONS);
    const allocated = rented.has(row.hotkey);
    const fresh =
      proof !== undefined &&
      this.now().getTime() - Date.parse(proof.finished_at) <= this.options.pog.ttlSec * 1000;
    const verified = proof?.passed === 1 && proof.proven_model !== null && (fresh || allocated);
    const since = new Date(this.now().getTime() - this.options.reliabilityWindowSec * 1000).toISOString();
    const perGpuMiB = specs ? Math.max(0, ...specs.gpu.details.map((g) => g.memory_total_mib)) : 0;
    const claimed = specs?.gpu.details[0]?.name ?? null;
    return {
      minerHotkey: row.hotkey,
      uid: row.uid,
      axon: row.ip && row.port ? { ip: row.ip, port: row.port } : null,
      gpuModel: verified ? (findGpu(proof.proven_model as string)?.name ?? proof.proven_model) : null,
      claimedGpuModel: claimed ? (findGpu(claimed)?.name ?? claimed) : null,
      gpuCount: verified ? proof.gpu_count : (specs?.gpu.count ?? 0),
      vramGiB: perGpuMiB / 1024,
      measuredTops: proof?.passed === 1 ? proof.measured_tops : null,
      simulated: proof?.simulated === 1,
      pricePerGpuHour: specs?.pricing.per_gpu_hour ?? 0,
      reliability: await this.store.reliability(row.hotkey, since),
      verified,
      lastProofAt: proof?.finished_at ?? null,
      allocated,
      runsContainers:
        specs !== null && specs.docker.available && (specs.gpu.count === 0 || specs.docker.nvidia_runtime),
      score: this.lastScores.get(row.hotkey)?.score ?? 0,
      cpuCores: specs?.cpu.count ?? 0,
      ramGiB: specs ? specs.ram.total / GiB : 0,
      diskGiB: specs ? specs.hard_disk.free / GiB : 0,
    };
  }

  /** Every miner that reported specs, with what is proven about it. */
  async listMachines(): Promise<MachineView[]> {
    const rented = await this.rentedNow();
    const rows = (await this.store.listMiners()).filter(
      (m) => m.specs_json !== null && m.hotkey !== this.hotkey,
    );
    if (this.lastScores.size === 0) await this.loadLastScores();
    return Promise.all(rows.map((r) => this.machineView(r, rented)));
  }

  private async loadLastScores(): Promise<void> {
    const epoch = await this.store.latestScoredEpoch();
    if (epoch === undefined) return;
    for (const s of await this.store.scoresForEpoch(epoch)) {
      this.lastScores.set(s.hotkey, {
        uid: s.uid,
        hotkey: s.hotkey,
        score: s.score,
        reason: "ok",
        provenModel: s.proven_model,
        gpuCount: s.gpu_count,
        allocated: s.allocated === 1,
      });
    }
  }

  rent(req: RentRequest): Promise<AllocationView> {
    return this.allocations.rent(req);
  }

  release(allocationId: string, reason: string): Promise<AllocationView> {
    return this.allocations.release(allocationId, reason);
  }

  renew(allocationId: string, extraSec: number): Promise<AllocationView> {
    return this.allocations.renew(allocationId, extraSec);
  }

  allocation(allocationId: string): Promise<AllocationView | undefined> {
    return this.allocations.allocation(allocationId);
  }

  /** The allocation made for the caller's rental id (`RentRequest.clientRef`), if any. */
  allocationByClientRef(clientRef: string): Promise<AllocationView | undefined> {
    return this.allocations.allocationByClientRef(clientRef);
  }

  onAllocationEvent(cb: (e: AllocationEvent) => void): () => void {
    return this.allocations.onEvent(cb);
  }

  /** One round of allocation health checks now (the loop runs them every `health.intervalMs`). */
  checkAllocations(): Promise<void> {
    return this.allocations.checkAll();
  }

  private requireJobs(): JobService {
    if (!this.jobs) {
      throw new CmeshError("JOBS_UNAVAILABLE", "this validator runs without the job service", {
        hint: "start it without `jobs: false`",
      });
    }
    return this.jobs;
  }

  submitJob(spec: JobSpecInput, opts?: { minerHotkey?: string }): Promise<JobView> {
    return this.requireJobs().submitJob(spec as Parameters<JobService["submitJob"]>[0], opts);
  }

  job(jobId: string): Promise<JobView | undefined> {
    return this.requireJobs().job(jobId);
  }

  async jobLogs(jobId: string, fromOffset?: { stdout: number; stderr: number }): Promise<JobLogsChunk> {
    return this.requireJobs().jobLogs(jobId, fromOffset);
  }

  jobOutputs(jobId: string): Promise<{ path: string; contentBase64: string }[]> {
    return this.requireJobs().jobOutputs(jobId);
  }

  cancelJob(jobId: string): Promise<JobView> {
    return this.requireJobs().cancelJob(jobId);
  }

  /** The metagraph as the network page shows it (stake and emission in TAO), and this validator's scores per epoch. */
  async network(): Promise<{
    netuid: number;
    block: number;
    epoch: number;
    neurons: {
      uid: number;
      hotkey: string;
      coldkey: string;
      stake: number;
      incentive: number;
      dividends: number;
      emission: number;
      trust: number;
      validatorPermit: boolean;
      isValidator: boolean;
    }[];
    history: { epoch: number; totalScore: number; meanScore: number; neurons: number }[];
    chain: ChainEpochView[];
  }> {
    const mg = this.metagraph ?? (await this.syncMetagraph());
    const totals = await this.store.scoreTotalsByEpoch(50);
    const chain = await this.store.metagraphHistory(50);
    return {
      netuid: mg.netuid,
      block: mg.block,
      epoch: Math.floor(mg.block / this.epochBlocks),
      neurons: mg.neurons.map((n) => ({
        ...neuronFigures(n),
        coldkey: n.coldkey,
        validatorPermit: n.validatorPermit,
        isValidator: n.validatorPermit && n.dividends > 0,
      })),
      history: totals.map((t) => ({
        epoch: t.epoch,
        totalScore: t.total,
        meanScore: t.count ? t.total / t.count : 0,
        neurons: t.count,
      })),
      chain: chain.map((e) => ({
        epoch: e.epoch,
        block: e.block,
        neurons: e.neurons.map(({ uid, hotkey, stake, incentive, dividends, emission }) => ({
          uid,
          hotkey,
          stake,
          incentive,
          dividends,
          emission,
        })),
      })),
    };
  }

  /**
   * A machine's proof-of-GPU rounds and per-epoch scores, newest first. Each score carries the machine's uptime
   * then: the share of passed probes among the last UPTIME_WINDOW probes up to that time.
   */
  async machineHistory(minerHotkey: string): Promise<{
    proofs: {
      at: string;
      passed: boolean;
      model: string | null;
      measuredTops: number | null;
      reason?: string;
    }[];
    scores: { at: string; score: number; epoch: number; allocated: boolean; reliability?: number }[];
  }> {
    const proofs = await this.store.pogResults(minerHotkey, 100);
    const scores = await this.store.scoresForHotkey(minerHotkey, 200);
    const probes = await this.store.probesFor(minerHotkey, 500);
    return {
      proofs: proofs.map((p) => ({
        at: p.finished_at,
        passed: p.passed === 1,
        model: p.passed === 1 ? p.proven_model : p.claimed_model,
        measuredTops: p.measured_tops,
        ...(p.reason ? { reason: p.reason } : {}),
      })),
      scores: scores.map((s) => {
        const reliability = uptimeAt(probes, s.computed_at);
        return {
          at: s.computed_at,
          score: s.score,
          epoch: s.epoch,
          allocated: s.allocated === 1,
          ...(reliability === undefined ? {} : { reliability }),
        };
      }),
    };
  }

  /** The signed receipt of a finished job (validator signature and miner countersignature). */
  async jobReceipt(jobId: string): Promise<
    | {
        jobId: string;
        payload: Record<string, unknown>;
        validatorSignature?: string;
        minerSignature?: string;
      }
    | undefined
  > {
    const r = await this.requireJobs().jobReceipt(jobId);
    if (!r) return undefined;
    return {
      jobId,
      payload: r.payload as unknown as Record<string, unknown>,
      validatorSignature: r.validatorSignature,
      minerSignature: r.minerSignature,
    };
  }

  // ------------------------------------------------------------------ observability

  /** The current table of miners (what `cmesh validator status` prints). */
  status(): Promise<StatusRow[]> {
    return buildStatus(this.store, { ttlMs: this.options.pog.ttlSec * 1000, now: this.now() });
  }
}

/** A neuron's chain figures as the network page shows them (stake and emission in TAO). */
function neuronFigures(n: Metagraph["neurons"][number]) {
  return {
    uid: n.uid,
    hotkey: n.hotkey,
    stake: Number(n.stake) / 1e9,
    incentive: n.incentive,
    dividends: n.dividends,
    emission: Number(n.emission) / 1e9,
    trust: n.trust,
  };
}

/** Probes that make up the uptime of a score sample. */
const UPTIME_WINDOW = 20;

/** Share of passed probes among the last UPTIME_WINDOW probes at or before `at` (probes oldest first). */
export function uptimeAt(probes: readonly { at: string; ok: boolean }[], at: string): number | undefined {
  const window = probes.filter((p) => p.at <= at).slice(-UPTIME_WINDOW);
  return window.length ? window.filter((p) => p.ok).length / window.length : undefined;
}

function parseSpecs(json: string | null): MachineSpecs | null {
  if (!json) return null;
  const parsed = MachineSpecsSchema.safeParse(JSON.parse(json));
  return parsed.success ? parsed.data : null;
}

function proofSummary(p: PogResultRow) {
  return {
    passed: p.passed === 1,
    provenModel: p.proven_model,
    gpuCount: p.gpu_count,
    finishedAt: p.finished_at,
  };
}
