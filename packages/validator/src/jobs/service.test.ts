// JobService paths that need no miner: validation, named-miner checks, queue timeout, unreachable miners,
// cancelling a queued job. (Runs against real miners are in test/e2e/jobs-*.test.ts.)
import { cryptoReady, Dendrite, keypairFromUri } from "@computemesh/protocol";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JobEvent, type JobMinerCandidate, JobService } from "./service.ts";

const spec = { image: "local/x:1", command: ["true"] };
let services: JobService[] = [];

async function open(
  candidates: JobMinerCandidate[],
  queueTimeoutMs = 300,
  registry?: Registry,
): Promise<JobService> {
  const hotkey = keypairFromUri("//JobServiceTest");
  const s = await JobService.open({
    dendrite: new Dendrite({ hotkey }),
    hotkey,
    candidates: async () => candidates,
    pollIntervalMs: 20,
    queueTimeoutMs,
    registry,
  });
  services.push(s);
  return s;
}

async function ended(s: JobService, jobId: string) {
  for (;;) {
    const v = await s.job(jobId);
    if (v && ["completed", "failed", "timed_out", "cancelled"].includes(v.state)) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(() => cryptoReady());
afterAll(async () => {
  for (const s of services) await s.close();
  services = [];
});

describe("JobService without miners", () => {
  it("rejects an invalid spec naming the field", async () => {
    const s = await open([]);
    await expect(s.submitJob({ ...spec, command: [] })).rejects.toMatchObject({
      code: "JOB_SPEC_INVALID",
      message: expect.stringContaining("command"),
    });
    await expect(s.submitJob({ ...spec, extra: 1 } as never)).rejects.toMatchObject({
      code: "JOB_SPEC_INVALID",
    });
  });

  it("refuses a named miner that is unknown, unverified, rented or without an axon", async () => {
    const base = { axon: { ip: "127.0.0.1", port: 1 }, verified: true, allocated: false };
    const s = await open([
      { ...base, hotkey: "5Unverified", verified: false },
      { ...base, hotkey: "5Rented", allocated: true },
      { ...base, hotkey: "5NoAxon", axon: null },
    ]);
    for (const [hk, why] of [
      ["5Unknown", "is not known"],
      ["5Unverified", "is not verified"],
      ["5Rented", "is rented"],
      ["5NoAxon", "does not serve an axon"],
    ]) {
      await expect(s.submitJob(spec, { minerHotkey: hk })).rejects.toMatchObject({
        code: "MINER_UNAVAILABLE",
        message: expect.stringContaining(why),
      });
    }
  });

  it("fails a job no miner takes, with the reason per miner tried", async () => {
    const registry = new Registry();
    const s = await open(
      [
        { hotkey: "5Closed", axon: { ip: "127.0.0.1", port: 1 }, verified: true, allocated: false },
        { hotkey: "5Rented", axon: { ip: "127.0.0.1", port: 1 }, verified: true, allocated: true },
      ],
      300,
      registry,
    );
    const events: JobEvent[] = [];
    s.onJobEvent((e) => events.push(e));
    const v = await s.submitJob(spec);
    expect(v).toMatchObject({ state: "queued", minerHotkey: null, stdoutBytes: 0 });
    const done = await ended(s, v.jobId);
    expect(done.state).toBe("failed");
    expect(done.reason).toContain("no miner took the job");
    expect(done.reason).toContain("5Closed: unreachable");
    expect(done.reason).not.toContain("5Rented");
    expect(events.map((e) => e.state)).toEqual(["queued", "failed"]);
    const metrics = await registry.metrics();
    expect(metrics).toContain("cmesh_validator_jobs_submitted_total 1");
    expect(metrics).toContain('cmesh_validator_jobs_ended_total{state="failed"} 1');
    expect(await s.jobOutputs(v.jobId)).toEqual([]);
    expect(await s.jobLogs(v.jobId)).toMatchObject({ stdout: "", stderr: "", done: true });
  });

  it("cancels a queued job at once and leaves an ended job unchanged", async () => {
    const s = await open([], 60_000);
    const v = await s.submitJob(spec);
    await expect(s.jobOutputs(v.jobId)).rejects.toMatchObject({ code: "JOB_NOT_FINISHED" });
    expect(await s.cancelJob(v.jobId, "not needed")).toMatchObject({
      state: "cancelled",
      reason: "not needed",
    });
    expect(await s.cancelJob(v.jobId, "again")).toMatchObject({ state: "cancelled", reason: "not needed" });
    await expect(s.jobLogs("no-such-job")).rejects.toMatchObject({ code: "JOB_NOT_FOUND" });
    expect(await s.job("no-such-job")).toBeUndefined();
  });
});
