// Chaos: `kill -9` a `cmesh miner` process (real dockerd, jobs enabled) while a dockerized job runs, restart it on
// the same data dir, and check with the validator's JobService (real dendrite, staked validator hotkey): the job's
// true end is reported (exit code, the whole log), it ran once (its log holds each line once; at most one container for the job id), a receipt
// is signed, and no container of the runner is left running afterwards (`computemesh.managed=true`).
import { realpathSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Dendrite } from "@computemesh/protocol";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureJobTestImage } from "../../packages/miner/src/jobs/testing/docker-test-env.ts";
import { requireDockerOrSkip } from "../../packages/miner/src/testing/docker-gate.ts";
import { JobService, type JobView } from "../../packages/validator/src/jobs/index.ts";
import { MinerNet, type MinerSlot } from "./chaos-helpers/miner-net.ts";
import { until } from "./chaos-helpers/processes.ts";

const dockerOk = await requireDockerOrSkip("chaos: kill -9 of the miner during a job");
const TERMINAL = ["completed", "failed", "timed_out", "cancelled"];

describe.skipIf(!dockerOk)("kill -9 of cmesh miner during a job", () => {
  const mn = new MinerNet();
  let slot: MinerSlot;
  let service: JobService;
  let image: string;
  let runnerId: string;

  beforeAll(async () => {
    await mn.open("chj");
    image = await ensureJobTestImage(mn.docker);
    slot = await mn.addMiner(42680);
    await mn.start(slot);
    runnerId = createHash("sha256").update(realpathSync(slot.dataDir)).digest("hex").slice(0, 16);
    service = await JobService.open({
      dendrite: new Dendrite({ hotkey: mn.net.validator }),
      hotkey: mn.net.validator,
      candidates: async () => [
        { hotkey: slot.hotkey, axon: { ip: "127.0.0.1", port: slot.axonPort }, verified: true, allocated: false },
      ],
      logger: pino({ level: "silent" }),
      pollIntervalMs: 300,
      // Longer than a restart: the miner comes back before the validator gives the job up.
      minerDeadAfterMs: 30_000,
      queueTimeoutMs: 20_000,
      sqlitePath: join(mn.dir, "validator-jobs.sqlite"),
    });
  }, 120_000);
  afterAll(async () => {
    await service?.close();
    const all = await mn.docker.listContainers({ all: true, filters: { label: [`computemesh.job-runner=${runnerId}`] } });
    for (const c of all)
      await mn.docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
    await mn.close();
  }, 120_000);

  const jobContainers = (jobId?: string) =>
    mn.docker.listContainers({
      all: true,
      filters: {
        label: [
          "computemesh.managed=true",
          `computemesh.job-runner=${runnerId}`,
          ...(jobId ? [`computemesh.job=${jobId}`] : []),
        ],
      },
    });

  async function ended(jobId: string): Promise<JobView> {
    return until(
      "the job ends",
      async () => {
        const v = await service.job(jobId);
        return v && TERMINAL.includes(v.state) ? v : undefined;
      },
      90_000,
      100,
    );
  }

  it("killed while the job runs, restarted while it still runs: completes once, whole log, receipt", async () => {
    const job = await service.submitJob({
      image,
      command: ["sh", "-c", "echo one; sleep 4; echo two"],
    });
    await until("running", async () => (await service.job(job.jobId))?.state === "running", 60_000);
    await slot.proc!.kill9();
    // Docker keeps the job running without its miner.
    const during = await jobContainers(job.jobId);
    expect(during.map((c) => c.State)).toEqual(["running"]);
    await mn.start(slot);
    const done = await ended(job.jobId);
    expect(done).toMatchObject({ state: "completed", exitCode: 0 });
    expect((await service.jobLogs(job.jobId)).stdout).toBe("one\ntwo\n");
    await until("receipt", async () => service.jobReceipt(job.jobId), 30_000);
    expect((await jobContainers(job.jobId)).length).toBeLessThanOrEqual(1);
    expect((await jobContainers()).filter((c) => c.State === "running")).toEqual([]);
  }, 150_000);

  it("killed while the job runs, restarted after it ended: the true exit code is reported", async () => {
    const job = await service.submitJob({ image, command: ["sh", "-c", "echo before; sleep 1; exit 3"] });
    await until("running", async () => (await service.job(job.jobId))?.state === "running", 60_000);
    await slot.proc!.kill9();
    await until("the container exits while the miner is down", async () => {
      const c = await jobContainers(job.jobId);
      return c.length === 1 && c[0].State === "exited";
    });
    await mn.start(slot);
    const done = await ended(job.jobId);
    expect(done).toMatchObject({ state: "failed", exitCode: 3 });
    expect((await service.jobLogs(job.jobId)).stdout).toBe("before\n");
    expect((await jobContainers(job.jobId)).length).toBeLessThanOrEqual(1);
    expect((await jobContainers()).filter((c) => c.State === "running")).toEqual([]);
  }, 150_000);
});
