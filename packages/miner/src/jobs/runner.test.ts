import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobSpec } from "@computemesh/protocol";
import Docker from "dockerode";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { JobRunner, type JobRunnerOptions } from "./runner.ts";
import { dockerUsable, ensureJobTestImage, removeJobContainers } from "./testing/docker-test-env.ts";

const usable = await dockerUsable();
const docker = new Docker();
const logger = pino({ level: "silent" });
const b64 = (s: string) => Buffer.from(s).toString("base64");
let image = "";
let n = 0;
const newId = () => `jobtest-${process.pid}-${Date.now()}-${n++}`;

describe.skipIf(!usable)("JobRunner with real Docker", () => {
  const dirs: string[] = [];
  const runners: JobRunner[] = [];
  const runnerIds = new Set<string>();

  const open = async (extra: Partial<JobRunnerOptions> = {}, dataDir?: string) => {
    const dir = dataDir ?? mkdtempSync(join(tmpdir(), "cmesh-jobs-"));
    if (!dataDir) dirs.push(dir);
    const r = await JobRunner.open({
      docker,
      dataDir: dir,
      logger,
      allowPull: false,
      maxConcurrentJobs: 4,
      ...extra,
    });
    runners.push(r);
    runnerIds.add(r.runnerId);
    return { runner: r, dir };
  };
  const spec = (command: string, more: Partial<JobSpec> = {}): JobSpec => ({
    image,
    command: ["sh", "-c", command],
    ...more,
  });
  const text = (runner: JobRunner, jobId: string) => {
    const logs = runner.readLogs(jobId, 0, 0, 1 << 20);
    return { stdout: logs.stdout.toString("utf8"), stderr: logs.stderr.toString("utf8"), done: logs.done };
  };

  beforeAll(async () => {
    image = await ensureJobTestImage(docker);
  });
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.close({ killRunning: true }).catch(() => undefined);
  });
  afterAll(async () => {
    await removeJobContainers(docker, [...runnerIds]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("runs a job to completion: inputs mounted, stdout/stderr captured, outputs collected", async () => {
    const { runner } = await open();
    const jobId = newId();
    const accepted = await runner.submit(
      jobId,
      spec(
        "cat /volume/data/in.txt; echo to-stderr >&2; mkdir -p /output/res; echo A > /output/res/a.txt; echo B > /output/b.txt; echo $GREETING",
        {
          env: { GREETING: "hello-env" },
          inputs: [{ path: "data/in.txt", contentBase64: b64("input-content\n") }],
          outputPaths: ["res", "b.txt", "missing.txt"],
        },
      ),
      "validator-1",
    );
    expect(accepted.state).toBe("accepted");
    const done = await runner.waitFor(jobId);
    expect(done).toMatchObject({ state: "completed", exitCode: 0, reason: null, stdoutTruncated: false });
    const logs = text(runner, jobId);
    expect(logs.stdout).toBe("input-content\nhello-env\n");
    expect(logs.stderr).toBe("to-stderr\n");
    expect(logs.done).toBe(true);
    expect(done.stdoutBytes).toBe(Buffer.byteLength(logs.stdout));
    const outputs = await runner.outputs(jobId);
    const files = Object.fromEntries(
      outputs.files.map((f) => [f.path, Buffer.from(f.contentBase64, "base64").toString()]),
    );
    expect(files).toEqual({ "res/a.txt": "A\n", "b.txt": "B\n" });
    expect(outputs.skipped).toEqual([{ path: "missing.txt", reason: "not found" }]);
    // The container is gone once the job is collected.
    const left = await docker.listContainers({ all: true, filters: { label: [`computemesh.job=${jobId}`] } });
    expect(left).toEqual([]);
  });

  it("reports a failing job's exit code and its logs (and counts it in the metrics)", async () => {
    const registry = new Registry();
    const { runner } = await open({ registry });
    const jobId = newId();
    await runner.submit(jobId, spec("echo partial; echo boom >&2; exit 7"), "v");
    const done = await runner.waitFor(jobId);
    expect(done).toMatchObject({ state: "failed", exitCode: 7, reason: "exited with code 7" });
    expect(text(runner, jobId)).toMatchObject({ stdout: "partial\n", stderr: "boom\n" });
    const metrics = await registry.metrics();
    expect(metrics).toContain('cmesh_miner_jobs_ended_total{state="failed"} 1');
    expect(metrics).toContain("cmesh_miner_jobs_active 0");
  });

  it("kills a job over its execution limit and reports timed_out", async () => {
    const { runner } = await open();
    const jobId = newId();
    await runner.submit(jobId, spec("echo started; sleep 60", { limits: { executionSec: 1 } }), "v");
    const done = await runner.waitFor(jobId);
    expect(done.state).toBe("timed_out");
    expect(done.reason).toContain("1s limit");
    expect(text(runner, jobId).stdout).toBe("started\n");
  });

  it("cancels a running job", async () => {
    const { runner } = await open();
    const jobId = newId();
    await runner.submit(jobId, spec("echo up; sleep 60"), "v");
    for (let i = 0; i < 100 && runner.status(jobId)?.state !== "running"; i++)
      await new Promise((r) => setTimeout(r, 50));
    const s = await runner.cancel(jobId, "renter asked");
    expect(s).toMatchObject({ state: "cancelled", reason: "renter asked" });
    // Cancelling again changes nothing.
    expect((await runner.cancel(jobId, "again")).reason).toBe("renter asked");
  });

  it("gives the job no network at all (only lo) and enforces the container limits", async () => {
    const { runner } = await open();
    const jobId = newId();
    await runner.submit(
      jobId,
      spec("ls /sys/class/net; if command -v ip >/dev/null; then ip -o link | wc -l; fi; sleep 2", {
        limits: { memoryMiB: 64, cpus: 0.5 },
      }),
      "v",
    );
    for (let i = 0; i < 100 && runner.status(jobId)?.state !== "running"; i++)
      await new Promise((r) => setTimeout(r, 50));
    const info = await docker.getContainer(`cmesh-job-${jobId}`).inspect();
    expect(info.HostConfig.NetworkMode).toBe("none");
    expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(5e8);
    expect(info.HostConfig.PidsLimit).toBe(256);
    expect(info.HostConfig.Init).toBe(true);
    expect(info.Config.Labels).toMatchObject({ "computemesh.managed": "true", "computemesh.job": jobId });
    expect(info.Mounts.find((m) => m.Destination === "/volume")?.RW).toBe(false);
    const done = await runner.waitFor(jobId);
    expect(done.state).toBe("completed");
    const lines = text(runner, jobId).stdout.trim().split("\n");
    expect(lines[0]).toBe("lo");
    if (lines.length > 1) expect(lines[1]).toBe("1"); // `ip -o link` lists exactly one interface
  });

  it("reports a job killed for exceeding its memory limit", async () => {
    const { runner } = await open();
    const jobId = newId();
    await runner.submit(
      jobId,
      spec("head -c 200000000 /dev/zero | tail >/dev/null", { limits: { memoryMiB: 32 } }),
      "v",
    );
    const done = await runner.waitFor(jobId);
    expect(done.state).toBe("failed");
    expect(done.exitCode).not.toBe(0);
    expect(done.reason).toBe("killed: out of memory (limit 32 MiB)");
  });

  it("kills a job that floods its output directory", async () => {
    const { runner } = await open({ maxOutputDiskBytes: 1_000_000 });
    const jobId = newId();
    await runner.submit(
      jobId,
      spec("dd if=/dev/zero of=/output/big bs=100000 count=50 2>/dev/null; sleep 30"),
      "v",
    );
    const done = await runner.waitFor(jobId);
    expect(done.state).toBe("failed");
    expect(done.reason).toBe("the job wrote more than 1000000 bytes to /output and was killed");
  });

  it("caps captured logs and says they were truncated", async () => {
    const { runner } = await open({ maxLogBytes: 10_000 });
    const jobId = newId();
    await runner.submit(jobId, spec("yes 0123456789 | head -c 200000"), "v");
    const done = await runner.waitFor(jobId);
    expect(done).toMatchObject({ state: "completed", stdoutBytes: 10_000, stdoutTruncated: true });
    // Chunked reads return exactly the kept bytes.
    let offset = 0;
    let all = "";
    for (;;) {
      const c = runner.readLogs(jobId, offset, 0, 3000);
      all += c.stdout.toString();
      offset = c.nextStdoutOffset;
      if (c.done) break;
    }
    expect(all.length).toBe(10_000);
    expect(all.startsWith("0123456789\n0123456789\n")).toBe(true);
  });

  it("never follows a symlink out of the output directory", async () => {
    const { runner } = await open();
    const jobId = newId();
    await runner.submit(
      jobId,
      spec("ln -s /etc/passwd /output/leak; echo ok > /output/fine", { outputPaths: ["leak", "fine"] }),
      "v",
    );
    await runner.waitFor(jobId);
    const outputs = await runner.outputs(jobId);
    expect(outputs.files.map((f) => f.path)).toEqual(["fine"]);
    expect(outputs.skipped).toEqual([{ path: "leak", reason: "symbolic link (not followed)" }]);
  });

  it("fails a job whose image is missing, with the reason", async () => {
    const { runner } = await open();
    const jobId = newId();
    await runner.submit(jobId, { image: "local/cmesh-no-such-image:1", command: ["true"] }, "v");
    const done = await runner.waitFor(jobId);
    expect(done.state).toBe("failed");
    expect(done.reason).toContain("local/cmesh-no-such-image:1");
  });

  it("declines jobs past its concurrency, limits over its ceilings, and a reused id with another spec", async () => {
    const { runner } = await open({ maxConcurrentJobs: 1 });
    const first = newId();
    await runner.submit(first, spec("sleep 30"), "v");
    await expect(runner.submit(newId(), spec("true"), "v")).rejects.toMatchObject({ code: "MINER_BUSY" });
    await expect(runner.submit(first, spec("true"), "v")).rejects.toMatchObject({ code: "JOB_EXISTS" });
    expect((await runner.submit(first, spec("sleep 30"), "v")).jobId).toBe(first); // idempotent resubmit
    await runner.cancel(first, "done");
    await expect(
      runner.submit(newId(), spec("true", { limits: { memoryMiB: 999_999 } }), "v"),
    ).rejects.toMatchObject({
      code: "JOB_REJECTED",
    });
  });

  it("after a restart, collects a job whose container kept running and fails one whose container is gone", async () => {
    const { runner: first, dir } = await open();
    const survivor = newId();
    const lost = newId();
    await first.submit(survivor, spec("echo before; sleep 2; echo after; exit 3"), "v");
    await first.submit(lost, spec("sleep 30"), "v");
    for (
      let i = 0;
      i < 100 && (first.status(survivor)?.state !== "running" || first.status(lost)?.state !== "running");
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
    await first.close(); // the runner dies; containers keep running
    await docker.getContainer(`cmesh-job-${lost}`).remove({ force: true });

    const { runner: second } = await open({}, dir);
    const lostStatus = second.status(lost)!;
    expect(lostStatus.state).toBe("failed");
    expect(lostStatus.reason).toContain("container lost");
    const done = await second.waitFor(survivor);
    expect(done).toMatchObject({ state: "failed", exitCode: 3 });
    expect(text(second, survivor).stdout).toBe("before\nafter\n");
  });
});
