// Dockerized jobs end to end: a real validator JobService → real dendrite → real axon → miner job runner →
// real Docker containers with no network. Everything talks over 127.0.0.1.
import {
  Dendrite,
  JOB_LIMITS,
  JobStatus,
  JobSubmit,
  jobSpecDigest,
  keypairFromUri,
  verifyJobReceipt,
} from "@computemesh/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerUsable, JobsHarness } from "./jobs-harness.ts";

const usable = await dockerUsable();
const b64 = (s: string) => Buffer.from(s).toString("base64");

describe.skipIf(!usable)("jobs end to end (validator → axon → Docker)", () => {
  const h = new JobsHarness();
  const spec = (command: string, more = {}) => h.spec(command, more);
  beforeAll(() => h.setup());
  afterAll(() => h.teardown());

  it("a job that succeeds returns stdout, outputs and a receipt signed by validator and miner", async () => {
    const miner = await h.startMiner("//JobsMinerA");
    const service = await h.startService([miner.candidate]);
    const queued = await service.submitJob(
      spec("tr a-z A-Z < /volume/in.txt; echo note >&2; tr a-z A-Z < /volume/in.txt > /output/result.txt", {
        inputs: [{ path: "in.txt", contentBase64: b64("hello job\n") }],
        outputPaths: ["result.txt"],
      }),
    );
    expect(queued.state).toBe("queued");
    const done = await h.waitEnded(service, queued.jobId);
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
    const miner = await h.startMiner("//JobsMinerB");
    const service = await h.startService([miner.candidate]);
    const failing = await service.submitJob(spec("echo out; echo bad >&2; exit 42"));
    const slow = await service.submitJob(spec("echo slow; sleep 60", { limits: { executionSec: 1 } }));
    const cancelled = await service.submitJob(spec("sleep 60"));

    await h.waitRunning(service, cancelled.jobId);
    const c = await service.cancelJob(cancelled.jobId, "changed my mind");
    expect(c).toMatchObject({ state: "cancelled", reason: "changed my mind" });

    const f = await h.waitEnded(service, failing.jobId);
    expect(f).toMatchObject({ state: "failed", exitCode: 42 });
    expect(f.reason).toContain("exited with code 42");
    expect(await service.jobLogs(failing.jobId)).toMatchObject({
      stdout: "out\n",
      stderr: "bad\n",
      done: true,
    });

    const t = await h.waitEnded(service, slow.jobId);
    expect(t.state).toBe("timed_out");
    expect((await service.jobLogs(slow.jobId)).stdout).toBe("slow\n");
  });

  it("the job has no network: only lo exists inside the container", async () => {
    const miner = await h.startMiner("//JobsMinerC");
    const service = await h.startService([miner.candidate]);
    const job = await service.submitJob(spec("ls /sys/class/net; ls /sys/class/net | wc -l"));
    const done = await h.waitEnded(service, job.jobId);
    expect(done.state).toBe("completed");
    expect((await service.jobLogs(job.jobId)).stdout).toBe("lo\n1\n");
  });

  it("rejects oversized or unsafe specs with a reason naming the field, and caps logs", async () => {
    const miner = await h.startMiner("//JobsMinerD");
    const service = await h.startService([miner.candidate]);
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
    const done = await h.waitEnded(service, job.jobId);
    expect(done).toMatchObject({ state: "completed", stdoutBytes: JOB_LIMITS.maxLogBytes });
    const logs = await service.jobLogs(job.jobId);
    expect(Buffer.byteLength(logs.stdout)).toBe(JOB_LIMITS.maxLogBytes);
    const onMiner = miner.runner.status(job.jobId)!;
    expect(onMiner.stdoutTruncated).toBe(true);
  });

  it("miners reject malformed or foreign job synapses", async () => {
    const miner = await h.startMiner("//JobsMinerH");
    const target = { ip: "127.0.0.1", port: miner.axon.port, hotkey: miner.candidate.hotkey };
    const dendrite = new Dendrite({ hotkey: h.validatorPair });
    const stranger = new Dendrite({ hotkey: keypairFromUri("//Stranger") });
    const service = await h.startService([miner.candidate]);
    const job = await service.submitJob(spec("echo mine"));
    await h.waitEnded(service, job.jobId);

    // Another validator cannot read someone else's job.
    const foreign = await stranger.query(target, JobStatus, { jobId: job.jobId });
    expect(foreign).toMatchObject({ ok: false, status: 403 });
    const unknown = await dendrite.query(target, JobStatus, { jobId: "no-such-job-0000" });
    expect(unknown).toMatchObject({ ok: false, status: 404 });

    // A spec changed after signing (body no longer matches specSha256) is refused.
    const prepared = dendrite.prepare(
      target,
      JobSubmit,
      {
        jobId: "tampered-job-0001",
        spec: spec("echo honest"),
        specSha256: jobSpecDigest(spec("echo honest")),
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
      JobSubmit,
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
