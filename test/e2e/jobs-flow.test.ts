// Dockerized jobs end to end: a real validator JobService → real dendrite → real axon → miner job runner →
// real Docker containers with no network. Everything talks over 127.0.0.1.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attachJobRunner } from "../../packages/miner/src/jobs/index.ts";
import {
  dockerUsable,
  ensureJobTestImage,
  removeJobContainers,
} from "../../packages/miner/src/jobs/testing/docker-test-env.ts";
import {
  Axon,
  cryptoReady,
  Dendrite,
  type JobSpec,
  JOB_LIMITS,
  JobStatus,
  keypairFromUri,
  verifyJobReceipt,
} from "@computemesh/protocol";
import { type JobMinerCandidate, JobService } from "../../packages/validator/src/jobs/index.ts";
import Docker from "dockerode";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const usable = await dockerUsable();
const docker = new Docker();
const logger = pino({ level: "silent" });
const b64 = (s: string) => Buffer.from(s).toString("base64");

interface MinerUnderTest {
  axon: Axon;
  runner: Awaited<ReturnType<typeof attachJobRunner>>;
  candidate: JobMinerCandidate;
  stop: () => Promise<void>;
}

describe.skipIf(!usable)("jobs end to end (validator → axon → Docker)", () => {
  let image = "";
  const dirs: string[] = [];
  const miners: MinerUnderTest[] = [];
  const services: JobService[] = [];
  let validatorPair: ReturnType<typeof keypairFromUri>;

  const startMiner = async (uri: string): Promise<MinerUnderTest> => {
    const hotkey = keypairFromUri(uri);
    const dataDir = mkdtempSync(join(tmpdir(), "cmesh-e2e-jobs-"));
    dirs.push(dataDir);
    const axon = new Axon({ hotkey, port: 0, host: "127.0.0.1" });
    const runner = await attachJobRunner(axon, {
      docker,
      dataDir,
      logger,
      hotkey,
      allowPull: false,
      maxConcurrentJobs: 3,
    });
    await axon.start();
    let stopped = false;
    const m: MinerUnderTest = {
      axon,
      runner,
      candidate: {
        hotkey: hotkey.address,
        axon: { ip: "127.0.0.1", port: axon.port },
        verified: true,
        allocated: false,
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await axon.stop();
        await runner.close({ killRunning: true });
      },
    };
    miners.push(m);
    return m;
  };

  const startService = async (
    candidates: JobMinerCandidate[],
    extra: { minerDeadAfterMs?: number; queueTimeoutMs?: number; sqlitePath?: string } = {},
  ) => {
    const service = await JobService.open({
      dendrite: new Dendrite({ hotkey: validatorPair }),
      hotkey: validatorPair,
      candidates: async () => candidates,
      logger,
      pollIntervalMs: 100,
      minerDeadAfterMs: extra.minerDeadAfterMs ?? 5000,
      queueTimeoutMs: extra.queueTimeoutMs ?? 5000,
      sqlitePath: extra.sqlitePath,
    });
    services.push(service);
    return service;
  };

  const waitEnded = async (service: JobService, jobId: string) => {
    for (;;) {
      const v = await service.job(jobId);
      if (v && ["completed", "failed", "timed_out", "cancelled"].includes(v.state)) {
        // The view turns terminal together with the stored logs and outputs; the receipt follows.
        for (let i = 0; i < 50 && !(await service.jobReceipt(jobId)) && v.minerHotkey; i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        return v;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const spec = (command: string, more: Partial<JobSpec> = {}): JobSpec => ({
    image,
    command: ["sh", "-c", command],
    ...more,
  });

  beforeAll(async () => {
    await cryptoReady();
    validatorPair = keypairFromUri("//JobsValidator");
    image = await ensureJobTestImage(docker);
  });

  afterAll(async () => {
    for (const s of services) await s.close().catch(() => undefined);
    for (const m of miners) await m.stop().catch(() => undefined);
    await removeJobContainers(docker);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("a job that succeeds returns stdout, outputs and a receipt signed by validator and miner", async () => {
    const miner = await startMiner("//JobsMinerA");
    const service = await startService([miner.candidate]);
    const queued = await service.submitJob(
      spec("tr a-z A-Z < /volume/in.txt; echo note >&2; tr a-z A-Z < /volume/in.txt > /output/result.txt", {
        inputs: [{ path: "in.txt", contentBase64: b64("hello job\n") }],
        outputPaths: ["result.txt"],
      }),
    );
    expect(queued.state).toBe("queued");
    const done = await waitEnded(service, queued.jobId);
    expect(done).toMatchObject({ state: "completed", exitCode: 0, minerHotkey: miner.candidate.hotkey });
    const logs = await service.jobLogs(queued.jobId);
    expect(logs).toMatchObject({ stdout: "HELLO JOB\n", stderr: "note\n", done: true });
    const outputs = await service.jobOutputs(queued.jobId);
    expect(outputs.map((o) => [o.path, Buffer.from(o.contentBase64, "base64").toString()])).toEqual([
      ["result.txt", "HELLO JOB\n"],
    ]);
    const receipt = await service.jobReceipt(queued.jobId);
    expect(receipt).toBeDefined();
    expect(verifyJobReceipt(receipt!)).toEqual({ ok: true });
    expect(receipt!.payload).toMatchObject({
      state: "completed",
      exitCode: 0,
      minerHotkey: miner.candidate.hotkey,
    });
    // A tampered receipt no longer verifies.
    expect(verifyJobReceipt({ ...receipt!, payload: { ...receipt!.payload, exitCode: 1 } }).ok).toBe(false);
  });

  it("a failing job returns its exit code and logs; one over its limit is timed_out; cancel kills", async () => {
    const miner = await startMiner("//JobsMinerB");
    const service = await startService([miner.candidate]);
    const failing = await service.submitJob(spec("echo out; echo bad >&2; exit 42"));
    const slow = await service.submitJob(spec("echo slow; sleep 60", { limits: { executionSec: 1 } }));
    const cancelled = await service.submitJob(spec("sleep 60"));

    for (;;) {
      const v = await service.job(cancelled.jobId);
      if (v?.state === "running") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const c = await service.cancelJob(cancelled.jobId, "changed my mind");
    expect(c).toMatchObject({ state: "cancelled", reason: "changed my mind" });

    const f = await waitEnded(service, failing.jobId);
    expect(f).toMatchObject({ state: "failed", exitCode: 42 });
    expect(f.reason).toContain("exited with code 42");
    expect(await service.jobLogs(failing.jobId)).toMatchObject({
      stdout: "out\n",
      stderr: "bad\n",
      done: true,
    });

    const t = await waitEnded(service, slow.jobId);
    expect(t.state).toBe("timed_out");
    expect((await service.jobLogs(slow.jobId)).stdout).toBe("slow\n");
  });

  it("the job has no network: only lo exists inside the container", async () => {
    const miner = await startMiner("//JobsMinerC");
    const service = await startService([miner.candidate]);
    const job = await service.submitJob(spec("ls /sys/class/net; ls /sys/class/net | wc -l"));
    const done = await waitEnded(service, job.jobId);
    expect(done.state).toBe("completed");
    expect((await service.jobLogs(job.jobId)).stdout).toBe("lo\n1\n");
  });

  it("rejects oversized or unsafe specs with a reason naming the field, and caps logs", async () => {
    const miner = await startMiner("//JobsMinerD");
    const service = await startService([miner.candidate]);
    const big = Buffer.alloc(JOB_LIMITS.maxInputBytes + 1).toString("base64");
    await expect(
      service.submitJob(spec("true", { inputs: [{ path: "big.bin", contentBase64: big }] })),
    ).rejects.toMatchObject({
      code: "JOB_SPEC_INVALID",
      message: expect.stringContaining("inputs"),
    });
    await expect(
      service.submitJob(spec("true", { inputs: [{ path: "../etc/passwd", contentBase64: b64("x") }] })),
    ).rejects.toMatchObject({ code: "JOB_SPEC_INVALID", message: expect.stringContaining("inputs.0.path") });
    await expect(service.submitJob(spec("true", { outputPaths: ["/etc"] }))).rejects.toMatchObject({
      code: "JOB_SPEC_INVALID",
    });
    await expect(service.submitJob({ ...spec("true"), image: "Not An Image" })).rejects.toMatchObject({
      code: "JOB_SPEC_INVALID",
      message: expect.stringContaining("image"),
    });
    await expect(service.submitJob(spec("true"), { minerHotkey: "5NoSuchMiner" })).rejects.toMatchObject({
      code: "MINER_UNAVAILABLE",
    });

    // 2 MiB of output: the miner keeps the first JOB_LIMITS.maxLogBytes and says it truncated.
    const job = await service.submitJob(spec("yes abcdefghi | head -c 2097152"));
    const done = await waitEnded(service, job.jobId);
    expect(done).toMatchObject({ state: "completed", stdoutBytes: JOB_LIMITS.maxLogBytes });
    const logs = await service.jobLogs(job.jobId);
    expect(Buffer.byteLength(logs.stdout)).toBe(JOB_LIMITS.maxLogBytes);
    const onMiner = miner.runner.status(job.jobId)!;
    expect(onMiner.stdoutTruncated).toBe(true);
  });

  it("retries a job on another miner when its miner dies, and fails it with the reason when none is left", async () => {
    const dying = await startMiner("//JobsMinerE");
    const healthy = await startMiner("//JobsMinerF");
    const service = await startService([dying.candidate], { minerDeadAfterMs: 800, queueTimeoutMs: 1000 });
    const job = await service.submitJob(spec("sleep 3; echo finished"));
    for (;;) {
      const v = await service.job(job.jobId);
      if (v?.state === "running") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // The only candidate dies: the job fails with the reason.
    await dying.stop();
    const lost = await waitEnded(service, job.jobId);
    expect(lost.state).toBe("failed");
    expect(lost.reason).toContain(`miner ${dying.candidate.hotkey} lost the job`);

    const dying2 = await startMiner("//JobsMinerG");
    const candidates = [dying2.candidate];
    const service2 = await startService(candidates, { minerDeadAfterMs: 800 });
    const job2 = await service2.submitJob(spec("sleep 2; echo finished"));
    for (;;) {
      const v = await service2.job(job2.jobId);
      if (v?.state === "running") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    candidates.push(healthy.candidate);
    await dying2.stop();
    const moved = await waitEnded(service2, job2.jobId);
    expect(moved).toMatchObject({ state: "completed", minerHotkey: healthy.candidate.hotkey });
    expect(moved.reason).toContain("retried on another miner");
    expect((await service2.jobLogs(job2.jobId)).stdout).toBe("finished\n");
  });

  it("a restarted validator resumes its jobs from its store", async () => {
    const miner = await startMiner("//JobsMinerI");
    const dir = mkdtempSync(join(tmpdir(), "cmesh-e2e-vjobs-"));
    dirs.push(dir);
    const sqlitePath = join(dir, "jobs.sqlite");
    const first = await startService([miner.candidate], { sqlitePath });
    const job = await first.submitJob(spec("sleep 1; echo survived"));
    for (;;) {
      const v = await first.job(job.jobId);
      if (v?.state === "running") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await first.close();
    const second = await startService([miner.candidate], { sqlitePath });
    const done = await waitEnded(second, job.jobId);
    expect(done.state).toBe("completed");
    expect((await second.jobLogs(job.jobId)).stdout).toBe("survived\n");
  });

  it("miners reject malformed or foreign job synapses", async () => {
    const miner = await startMiner("//JobsMinerH");
    const target = { ip: "127.0.0.1", port: miner.axon.port, hotkey: miner.candidate.hotkey };
    const dendrite = new Dendrite({ hotkey: validatorPair });
    const stranger = new Dendrite({ hotkey: keypairFromUri("//Stranger") });
    const service = await startService([miner.candidate]);
    const job = await service.submitJob(spec("echo mine"));
    await waitEnded(service, job.jobId);

    // Another validator cannot read someone else's job.
    const foreign = await stranger.query(target, JobStatus, { jobId: job.jobId });
    expect(foreign).toMatchObject({ ok: false, status: 403 });
    const unknown = await dendrite.query(target, JobStatus, { jobId: "no-such-job-0000" });
    expect(unknown).toMatchObject({ ok: false, status: 404 });

    // A spec changed after signing (body no longer matches specSha256) is refused.
    const prepared = dendrite.prepare(
      target,
      (await import("@computemesh/protocol")).JobSubmit,
      {
        jobId: "tampered-job-0001",
        spec: spec("echo honest"),
        specSha256: (await import("@computemesh/protocol")).jobSpecDigest(spec("echo honest")),
      },
      10,
    );
    const body = JSON.parse(prepared.body);
    body.spec.command = ["sh", "-c", "echo evil"];
    const tampered = await fetch(prepared.url, {
      method: "POST",
      headers: prepared.headers,
      body: JSON.stringify(body),
    });
    expect(tampered.status).toBe(400);
    expect(miner.runner.get("tampered-job-0001")).toBeUndefined();

    // A syntactically invalid request (input path escaping the directory) is refused by the schema.
    const bad = dendrite.prepare(
      target,
      (await import("@computemesh/protocol")).JobSubmit,
      { jobId: "badpath-job-0001", spec: spec("true"), specSha256: "0".repeat(64) },
      10,
    );
    const badBody = JSON.parse(bad.body);
    badBody.spec.inputs = [{ path: "../../x", contentBase64: "eA==" }];
    const refused = await fetch(bad.url, {
      method: "POST",
      headers: bad.headers,
      body: JSON.stringify(badBody),
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);

    // Unsigned requests never reach the handler.
    const unsigned = await fetch(`http://127.0.0.1:${miner.axon.port}/JobStatus`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jobId: job.jobId }),
    });
    expect(unsigned.status).toBeGreaterThanOrEqual(400);
    expect(unsigned.status).toBeLessThan(500);
  });
});
