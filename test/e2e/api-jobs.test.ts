import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../../packages/api/src/testing/harness.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

async function waitForState(harness: Harness, jobId: string, states: string[]) {
  for (let i = 0; i < 200; i++) {
    const j = await harness.call("GET", `/v1/jobs/${jobId}`, { key: harness.alice });
    if (states.includes(j.body.state)) return j.body;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`job ${jobId} never reached ${states.join("|")}`);
}

/** Reads a server-sent event stream to its end. */
async function readSse(url: string, apiKey: string) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } });
  expect(res.headers.get("content-type")).toBe("text/event-stream");
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((b) => b.trim())
    .map((b) => {
      const event = /^event: (.*)$/m.exec(b)?.[1];
      const data = JSON.parse(/^data: (.*)$/m.exec(b)?.[1] ?? "null");
      return { event, data };
    });
}

describe("jobs through the API", () => {
  it("submits with inputs, streams logs over SSE, returns outputs", async () => {
    h = await startHarness();
    const submit = await h.call("POST", "/v1/jobs", {
      key: h.alice,
      body: {
        image: "alpine:3",
        command: ["cat-inputs"],
        inputs: [{ path: "data/in.txt", contentBase64: Buffer.from("hello job").toString("base64") }],
        outputPaths: ["out.txt"],
        limits: { executionSec: 30 },
      },
      headers: { "idempotency-key": "job-1" },
    });
    expect(submit.status).toBe(201);
    expect(["queued", "accepted", "running"]).toContain(submit.body.state);
    const events = await readSse(`${h.api.url}/v1/jobs/${submit.body.jobId}/logs?follow=1`, h.alice);
    expect(
      events
        .filter((e) => e.event === "stdout")
        .map((e) => e.data)
        .join(""),
    ).toBe("hello job");
    const end = events.at(-1);
    expect(end?.event).toBe("end");
    expect(end?.data.state).toBe("completed");
    const outputs = await h.call("GET", `/v1/jobs/${submit.body.jobId}/outputs`, { key: h.alice });
    expect(outputs.body.outputs).toEqual([
      { path: "out.txt", contentBase64: Buffer.from("hello job").toString("base64") },
    ]);
    const list = await h.call("GET", "/v1/jobs", { key: h.alice });
    expect(list.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([submit.body.jobId]);
  });

  it("a finished job is charged once: run seconds × the machine's hourly price, as a ledger row", async () => {
    h = await startHarness();
    const miner = h.backend.machines[0];
    const submit = await h.call("POST", "/v1/jobs", {
      key: h.alice,
      body: { image: "alpine", command: ["sleep", "1.2"], minerHotkey: miner.minerHotkey },
    });
    const job = await waitForState(h, submit.body.jobId, ["completed"]);
    const seconds = Math.floor((Date.parse(job.endedAt) - Date.parse(job.startedAt)) / 1000);
    const rate = Math.round(miner.pricePerGpuHour * 1e6) * miner.gpuCount;
    const expected = Math.floor((rate * seconds) / 3600);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(job.costMicro).toBe(expected);
    await h.api.meterTick();
    const again = await h.call("GET", `/v1/jobs/${submit.body.jobId}`, { key: h.alice });
    expect(again.body.costMicro).toBe(expected);
    const ledger = await h.call("GET", "/v1/account/ledger", { key: h.alice });
    const rows = ledger.body.entries.filter((e: { memo: string }) => e.memo.includes(submit.body.jobId));
    expect(rows.map((r: { amountMicro: number }) => r.amountMicro)).toEqual([-expected]);
    const acc = await h.call("GET", "/v1/account", { key: h.alice });
    expect(acc.body.balanceMicro).toBe(100_000_000 - expected);
  });

  it("a failing job reports its exit code and logs", async () => {
    h = await startHarness();
    const submit = await h.call("POST", "/v1/jobs", {
      key: h.alice,
      body: { image: "alpine", command: ["exit", "3"] },
    });
    const job = await waitForState(h, submit.body.jobId, ["failed"]);
    expect(job.exitCode).toBe(3);
    const logs = await h.call("GET", `/v1/jobs/${submit.body.jobId}/logs`, { key: h.alice });
    expect(logs.body).toEqual({ stdout: "", stderr: "exit 3\n", done: true });
  });

  it("a job over its time limit is reported timed_out", async () => {
    h = await startHarness();
    const submit = await h.call("POST", "/v1/jobs", {
      key: h.alice,
      body: { image: "alpine", command: ["sleep", "5"], limits: { executionSec: 1 } },
    });
    const job = await waitForState(h, submit.body.jobId, ["timed_out", "completed"]);
    expect(job.state).toBe("timed_out");
  });

  it("cancels a running job", async () => {
    h = await startHarness();
    const submit = await h.call("POST", "/v1/jobs", {
      key: h.alice,
      body: { image: "alpine", command: ["sleep", "60"] },
    });
    await waitForState(h, submit.body.jobId, ["running"]);
    const c = await h.call("POST", `/v1/jobs/${submit.body.jobId}/cancel`, { key: h.alice, body: {} });
    expect(c.status).toBe(200);
    expect(c.body.state).toBe("cancelled");
  });

  it("maps a backend refusal (unknown miner) to a 404 naming it", async () => {
    h = await startHarness();
    const r = await h.call("POST", "/v1/jobs", {
      key: h.alice,
      body: { image: "alpine", command: ["echo"], minerHotkey: "5Nope" },
    });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("MINER_NOT_FOUND");
  });
});
