// The whole job path a renter sees: API key → renter API → REAL Validator (local chain, proof-of-GPU on the local
// network's SIMULATED GPU backend since no GPU exists here) → dendrite → miner axon → job runner → real Docker
// container with no network → logs over SSE, outputs, receipt. Everything on 127.0.0.1.
import { join } from "node:path";
import { attachPogResponder, allowSimulatedPog, SimulatedGpuBackend } from "@computemesh/pog";
import { Axon, Specs } from "@computemesh/protocol";
import { Validator } from "@computemesh/validator";
import Docker from "dockerode";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, createAccount, startApiServer } from "../../packages/api/src/index.ts";
import { attachJobRunner, type JobRunner } from "../../packages/miner/src/jobs/index.ts";
import {
  dockerUsable,
  ensureJobTestImage,
  removeJobContainers,
} from "../../packages/miner/src/jobs/testing/docker-test-env.ts";
import { callApi } from "../../packages/api/src/testing/harness.ts";
import { register, specsFor, type TestNet, testNet } from "./validator-harness.ts";
import { until } from "./chaos-helpers/processes.ts";

const usable = await dockerUsable();

describe.skipIf(!usable)("a renter runs a job through the API on a real miner", () => {
  const docker = new Docker();
  let net: TestNet;
  let axon: Axon;
  let runner: JobRunner;
  let v: Validator;
  let api: ApiServer;
  let key: string;
  let image: string;
  let minerHotkey: string;

  const call = (method: string, path: string, body?: unknown) => callApi(api.url, key, method, path, body);

  beforeAll(async () => {
    image = await ensureJobTestImage(docker);
    net = await testNet();
    const validatorKeys = await register(net, "JobsApi-V", 1000n);
    const { hotkey } = await register(net, "JobsApi-M");
    minerHotkey = hotkey.address;
    const specs = specsFor("NVIDIA GeForce RTX 4090", 1, "jobsapi");
    axon = new Axon({ hotkey, port: 0, host: "127.0.0.1" });
    axon.attach(Specs, async () => ({ specs: { ...specs, collected_at: new Date().toISOString() } }));
    attachPogResponder(axon, {
      backend: new SimulatedGpuBackend(),
      gpus: { model: "NVIDIA GeForce RTX 4090", count: 1, uuids: specs.gpu.details.map((g) => g.uuid) },
    });
    runner = await attachJobRunner(axon, {
      docker,
      dataDir: join(net.dir, "miner"),
      logger: pino({ level: "silent" }),
      hotkey,
      allowPull: false,
    });
    await axon.start();
    await net.chain.client().serveAxon(net.netuid, { ip: "127.0.0.1", port: axon.port }, hotkey);
    await net.chain.advanceBlocks(11);
    v = await Validator.start({
      chain: net.chain.client(),
      hotkey: validatorKeys.hotkey,
      netuid: net.netuid,
      db: join(net.dir, "validator.sqlite"),
      epochBlocks: 2,
      pogSimulation: allowSimulatedPog({ network: "local", chainEndpoint: "embedded" }),
      pog: { initialDelayMaxSec: 0, meanIntervalSec: 3600 },
      specsTimeoutMs: 2000,
      weights: { retryBaseMs: 0 },
    });
    await net.chain.advanceBlocks(1);
    await until("the miner is proven", async () => (await v.listMachines()).some((m) => m.verified));
    api = await startApiServer({
      backend: v,
      db: v.store.db as never,
      logger: pino({ level: "silent" }),
      web: false,
      rateLimit: false,
    });
    key = (await createAccount(api.db, { name: "renter", initialCredits: 50 })).apiKey;
  }, 90_000);

  afterAll(async () => {
    await api?.close();
    await v?.stop();
    await axon?.stop();
    await runner?.close({ killRunning: true });
    if (runner) await removeJobContainers(docker, [runner.runnerId]);
    await net?.cleanup();
  });

  it("submits with inputs, follows the logs, downloads the outputs; a failing job shows its exit code", async () => {
    const submit = await call("POST", "/v1/jobs", {
      image,
      command: ["sh", "-c", "cat /volume/in.txt; ls /sys/class/net; cat /volume/in.txt > /output/copy.txt"],
      inputs: [{ path: "in.txt", contentBase64: Buffer.from("from the renter\n").toString("base64") }],
      outputPaths: ["copy.txt"],
      limits: { executionSec: 30 },
    });
    expect(submit.status).toBe(201);
    const jobId = submit.body.jobId;
    // Server-sent events while the job runs: stdout chunks, then `end` with the job.
    const sse = await (
      await fetch(`${api.url}/v1/jobs/${jobId}/logs?follow=1`, {
        headers: { authorization: `Bearer ${key}` },
      })
    ).text();
    const events = sse
      .split("\n\n")
      .filter((b) => b.trim())
      .map((b) => ({
        event: /^event: (.*)$/m.exec(b)?.[1],
        data: JSON.parse(/^data: (.*)$/m.exec(b)?.[1] ?? "null"),
      }));
    expect(
      events
        .filter((e) => e.event === "stdout")
        .map((e) => e.data)
        .join(""),
    ).toBe("from the renter\nlo\n");
    expect(events.at(-1)).toMatchObject({ event: "end", data: { state: "completed" } });
    const job = await until("the job ends", async () => {
      const j = await call("GET", `/v1/jobs/${jobId}`);
      return ["completed", "failed", "timed_out", "cancelled"].includes(j.body.state) ? j.body : undefined;
    });
    expect(job).toMatchObject({ state: "completed", exitCode: 0, minerHotkey });

    const logs = await call("GET", `/v1/jobs/${jobId}/logs`);
    expect(logs.body).toMatchObject({ stdout: "from the renter\nlo\n", done: true });
    const outputs = await call("GET", `/v1/jobs/${jobId}/outputs`);
    expect(outputs.body.outputs).toEqual([
      { path: "copy.txt", contentBase64: Buffer.from("from the renter\n").toString("base64") },
    ]);

    const failing = await call("POST", "/v1/jobs", { image, command: ["sh", "-c", "echo nope >&2; exit 9"] });
    const failed = await until("the failing job ends", async () => {
      const j = await call("GET", `/v1/jobs/${failing.body.jobId}`);
      return j.body.state === "failed" ? j.body : undefined;
    });
    expect(failed.exitCode).toBe(9);
    expect((await call("GET", `/v1/jobs/${failing.body.jobId}/logs`)).body.stderr).toBe("nope\n");
  });
});
