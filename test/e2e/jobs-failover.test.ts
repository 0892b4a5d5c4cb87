// Dockerized jobs when things die: a miner lost mid-job (retried elsewhere or failed with the reason), a miner
// process restarted under a running job, a validator restarted while its jobs run. All on 127.0.0.1.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerUsable, JobsHarness } from "./jobs-harness.ts";

const usable = await dockerUsable();

describe.skipIf(!usable)("jobs failover (validator → axon → Docker)", () => {
  const h = new JobsHarness();
  const spec = (command: string, more = {}) => h.spec(command, more);
  beforeAll(() => h.setup());
  afterAll(() => h.teardown());

  it("retries a job on another miner when its miner dies, and fails it with the reason when none is left", async () => {
    const dying = await h.startMiner("//JobsMinerE");
    const healthy = await h.startMiner("//JobsMinerF");
    const service = await h.startService([dying.candidate], { minerDeadAfterMs: 800, queueTimeoutMs: 1000 });
    const job = await service.submitJob(spec("sleep 3; echo finished"));
    await h.waitRunning(service, job.jobId);
    // The only candidate dies: the job fails with the reason.
    await dying.stop();
    const lost = await h.waitEnded(service, job.jobId);
    expect(lost.state).toBe("failed");
    expect(lost.reason).toContain(`miner ${dying.candidate.hotkey} lost the job`);

    const dying2 = await h.startMiner("//JobsMinerG");
    const candidates = [dying2.candidate];
    const service2 = await h.startService(candidates, { minerDeadAfterMs: 800 });
    const job2 = await service2.submitJob(spec("sleep 2; echo finished"));
    await h.waitRunning(service2, job2.jobId);
    candidates.push(healthy.candidate);
    await dying2.stop();
    const moved = await h.waitEnded(service2, job2.jobId);
    expect(moved).toMatchObject({ state: "completed", minerHotkey: healthy.candidate.hotkey });
    expect(moved.reason).toContain("retried on another miner");
    expect((await service2.jobLogs(job2.jobId)).stdout).toBe("finished\n");
  });

  it("a restarted validator resumes its jobs from its store", async () => {
    const miner = await h.startMiner("//JobsMinerI");
    const dir = h.tempDir("cmesh-e2e-vjobs-");
    const sqlitePath = join(dir, "jobs.sqlite");
    const first = await h.startService([miner.candidate], { sqlitePath });
    const job = await first.submitJob(spec("sleep 1; echo survived"));
    await h.waitRunning(first, job.jobId);
    await first.close();
    const second = await h.startService([miner.candidate], { sqlitePath });
    const done = await h.waitEnded(second, job.jobId);
    expect(done.state).toBe("completed");
    expect((await second.jobLogs(job.jobId)).stdout).toBe("survived\n");
  });

  it("a restarted miner process reports the true end of a job whose container kept running", async () => {
    const miner = await h.startMiner("//JobsMinerJ");
    const candidates = [miner.candidate];
    const service = await h.startService(candidates, { minerDeadAfterMs: 10_000 });
    const job = await service.submitJob(spec("echo one; sleep 2; echo two; exit 5"));
    await h.waitRunning(service, job.jobId);
    await miner.stop({ killJobs: false }); // the miner process dies; Docker keeps the container
    const again = await h.startMiner("//JobsMinerJ", miner.dataDir);
    candidates[0] = again.candidate; // same hotkey, new port (as the metagraph would show)
    const done = await h.waitEnded(service, job.jobId);
    expect(done).toMatchObject({ state: "failed", exitCode: 5, minerHotkey: miner.candidate.hotkey });
    expect((await service.jobLogs(job.jobId)).stdout).toBe("one\ntwo\n");
    expect(await service.jobReceipt(job.jobId)).toBeDefined();
  });
});
