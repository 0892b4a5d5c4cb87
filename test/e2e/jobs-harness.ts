// Shared setup of the jobs end-to-end tests: miners (real axon + job runner + Docker) and validator JobServices
// (real dendrite), all on 127.0.0.1.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Axon,
  cryptoReady,
  Dendrite,
  type JobSpec,
  type KeyringPair,
  keypairFromUri,
} from "@computemesh/protocol";
import Docker from "dockerode";
import { pino } from "pino";
import { attachJobRunner, type JobRunner } from "../../packages/miner/src/jobs/index.ts";
import {
  ensureJobTestImage,
  removeJobContainers,
} from "../../packages/miner/src/jobs/testing/docker-test-env.ts";
import { type JobMinerCandidate, JobService, type JobView } from "../../packages/validator/src/jobs/index.ts";

export { dockerUsable } from "../../packages/miner/src/jobs/testing/docker-test-env.ts";

const TERMINAL = ["completed", "failed", "timed_out", "cancelled"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface MinerUnderTest {
  axon: Axon;
  runner: JobRunner;
  dataDir: string;
  candidate: JobMinerCandidate;
  /** Stops the axon; `killJobs: false` leaves the containers running, as a crashed miner would. */
  stop: (opts?: { killJobs?: boolean }) => Promise<void>;
}

export class JobsHarness {
  readonly docker = new Docker();
  readonly logger = pino({ level: "silent" });
  image = "";
  validatorPair!: KeyringPair;
  private readonly dirs: string[] = [];
  private readonly miners: MinerUnderTest[] = [];
  private readonly services: JobService[] = [];

  async setup(): Promise<void> {
    await cryptoReady();
    this.validatorPair = keypairFromUri("//JobsValidator");
    this.image = await ensureJobTestImage(this.docker);
  }

  async teardown(): Promise<void> {
    for (const s of this.services) await s.close().catch(() => undefined);
    for (const m of this.miners) await m.stop().catch(() => undefined);
    await removeJobContainers(
      this.docker,
      this.miners.map((m) => m.runner.runnerId),
    );
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }

  tempDir(prefix: string): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  async startMiner(uri: string, dataDir = this.tempDir("cmesh-e2e-jobs-")): Promise<MinerUnderTest> {
    const hotkey = keypairFromUri(uri);
    const axon = new Axon({ hotkey, port: 0, host: "127.0.0.1" });
    const runner = await attachJobRunner(axon, {
      docker: this.docker,
      dataDir,
      logger: this.logger,
      hotkey,
      allowPull: false,
      maxConcurrentJobs: 3,
    });
    await axon.start();
    let stopped = false;
    const m: MinerUnderTest = {
      axon,
      runner,
      dataDir,
      candidate: {
        hotkey: hotkey.address,
        axon: { ip: "127.0.0.1", port: axon.port },
        verified: true,
        allocated: false,
      },
      stop: async (opts = {}) => {
        if (stopped) return;
        stopped = true;
        await axon.stop();
        await runner.close({ killRunning: opts.killJobs ?? true });
      },
    };
    this.miners.push(m);
    return m;
  }

  async startService(
    candidates: JobMinerCandidate[],
    extra: { minerDeadAfterMs?: number; queueTimeoutMs?: number; sqlitePath?: string } = {},
  ): Promise<JobService> {
    const service = await JobService.open({
      dendrite: new Dendrite({ hotkey: this.validatorPair }),
      hotkey: this.validatorPair,
      candidates: async () => candidates,
      logger: this.logger,
      pollIntervalMs: 500,
      minerDeadAfterMs: extra.minerDeadAfterMs ?? 5000,
      queueTimeoutMs: extra.queueTimeoutMs ?? 5000,
      sqlitePath: extra.sqlitePath,
    });
    this.services.push(service);
    return service;
  }

  spec(command: string, more: Partial<JobSpec> = {}): JobSpec {
    return { image: this.image, command: ["sh", "-c", command], ...more };
  }

  /** Waits for the job to end (and, when it ran on a miner, for its receipt exchange to settle). */
  async waitEnded(service: JobService, jobId: string): Promise<JobView> {
    for (;;) {
      const v = await service.job(jobId);
      if (v && TERMINAL.includes(v.state)) {
        for (let i = 0; i < 50 && v.minerHotkey && !(await service.jobReceipt(jobId)); i++) await sleep(50);
        return v;
      }
      await sleep(50);
    }
  }

  async waitRunning(service: JobService, jobId: string): Promise<JobView> {
    for (;;) {
      const v = await service.job(jobId);
      if (v?.state === "running") return v;
      if (v && TERMINAL.includes(v.state))
        throw new Error(`job ended (${v.state}: ${v.reason}) before running`);
      await sleep(50);
    }
  }
}
