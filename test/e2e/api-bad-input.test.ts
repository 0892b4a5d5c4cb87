import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, sampleSshPublicKey, startHarness } from "../../packages/api/src/testing/harness.ts";

let h: Harness;
let rentalId: string;
let jobId: string;
beforeAll(async () => {
  h = await startHarness({ jobBodyLimitBytes: 256 * 1024, maxJobInputBytes: 1024 });
  const m = (await h.call("GET", "/v1/machines")).body.machines[0];
  rentalId = (
    await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { minerHotkey: m.minerHotkey, sshPublicKey: sampleSshPublicKey() },
    })
  ).body.id;
  jobId = (
    await h.call("POST", "/v1/jobs", { key: h.alice, body: { image: "alpine", command: ["echo", "x"] } })
  ).body.jobId;
});
afterAll(() => h.close());

const key = sampleSshPublicKey();
const big = "x".repeat(300 * 1024);

type Case = [
  name: string,
  method: string,
  path: () => string,
  body: unknown | { raw: string },
  status: number,
  field: string,
];

/** Every endpoint × malformed JSON, wrong types, missing fields, unknown fields, oversize bodies, bad query. */
const cases: Case[] = [
  ["accounts: missing name", "POST", () => "/v1/accounts", {}, 400, "name"],
  ["accounts: wrong type", "POST", () => "/v1/accounts", { name: 5 }, 400, "name"],
  ["accounts: unknown field", "POST", () => "/v1/accounts", { name: "x", admin: true }, 400, "admin"],
  ["accounts: malformed JSON", "POST", () => "/v1/accounts", { raw: '{"name":' }, 400, "body"],
  ["accounts: oversize", "POST", () => "/v1/accounts", { name: big }, 413, "body"],
  ["deposit: negative", "POST", () => "/v1/account/deposits", { credits: -5 }, 400, "credits"],
  ["deposit: string", "POST", () => "/v1/account/deposits", { credits: "5" }, 400, "credits"],
  ["keys: unknown field", "POST", () => "/v1/account/keys", { label: "a", scope: "all" }, 400, "scope"],
  ["keys: label type", "POST", () => "/v1/account/keys", { label: 3 }, 400, "label"],
  ["ledger: bad limit", "GET", () => "/v1/account/ledger?limit=abc", undefined, 400, "limit"],
  ["ledger: unknown param", "GET", () => "/v1/account/ledger?since=1", undefined, 400, "since"],
  ["search: unknown field", "GET", () => "/v1/machines?q=gpu%3DH100%20colour%3Dred", undefined, 400, "q"],
  ["search: bad operator", "GET", () => "/v1/machines?q=count%3D%3E2", undefined, 400, "q"],
  ["search: unknown param", "GET", () => "/v1/machines?gpu=H100", undefined, 400, "gpu"],
  ["search: bad limit", "GET", () => "/v1/machines?limit=0", undefined, 400, "limit"],
  ["json search: bad op", "POST", () => "/v1/machines/search", { where: { count: { approx: 1 } } }, 400, "q"],
  ["json search: unknown key", "POST", () => "/v1/machines/search", { filter: {} }, 400, "filter"],
  ["json search: limit type", "POST", () => "/v1/machines/search", { limit: "10" }, 400, "limit"],
  ["rent: missing ssh key", "POST", () => "/v1/rentals", { minerHotkey: "5X" }, 400, "sshPublicKey"],
  [
    "rent: bad ssh key",
    "POST",
    () => "/v1/rentals",
    { minerHotkey: "5X", sshPublicKey: "hello" },
    400,
    "sshPublicKey",
  ],
  ["rent: neither target", "POST", () => "/v1/rentals", { sshPublicKey: key }, 400, "minerHotkey"],
  [
    "rent: both targets",
    "POST",
    () => "/v1/rentals",
    { sshPublicKey: key, minerHotkey: "5X", query: "gpu=H100" },
    400,
    "minerHotkey",
  ],
  [
    "rent: duration type",
    "POST",
    () => "/v1/rentals",
    { sshPublicKey: key, minerHotkey: "5X", durationSec: "1h" },
    400,
    "durationSec",
  ],
  [
    "rent: duration too short",
    "POST",
    () => "/v1/rentals",
    { sshPublicKey: key, minerHotkey: "5X", durationSec: 1 },
    400,
    "durationSec",
  ],
  ["rent: bad query", "POST", () => "/v1/rentals", { sshPublicKey: key, query: "vram>>1" }, 400, "q"],
  [
    "rent: unknown field",
    "POST",
    () => "/v1/rentals",
    { sshPublicKey: key, minerHotkey: "5X", gpus: 2 },
    400,
    "gpus",
  ],
  ["rent: malformed JSON", "POST", () => "/v1/rentals", { raw: "{nope" }, 400, "body"],
  ["rent: oversize", "POST", () => "/v1/rentals", { sshPublicKey: big, minerHotkey: "5X" }, 413, "body"],
  ["rentals: bad state", "GET", () => "/v1/rentals?state=dead", undefined, 400, "state"],
  ["release: unknown field", "POST", () => `/v1/rentals/${rentalId}/release`, { now: true }, 400, "now"],
  ["release: reason type", "POST", () => `/v1/rentals/${rentalId}/release`, { reason: 1 }, 400, "reason"],
  ["job: missing image", "POST", () => "/v1/jobs", { command: ["echo"] }, 400, "image"],
  ["job: command not array", "POST", () => "/v1/jobs", { image: "a", command: "echo hi" }, 400, "command"],
  ["job: empty command", "POST", () => "/v1/jobs", { image: "a", command: [] }, 400, "command"],
  [
    "job: bad env name",
    "POST",
    () => "/v1/jobs",
    { image: "a", command: ["x"], env: { "A-B": "1" } },
    400,
    "env.A-B",
  ],
  [
    "job: input path escape",
    "POST",
    () => "/v1/jobs",
    { image: "a", command: ["x"], inputs: [{ path: "../etc/passwd", contentBase64: "" }] },
    400,
    "inputs[0].path",
  ],
  [
    "job: input not base64",
    "POST",
    () => "/v1/jobs",
    { image: "a", command: ["x"], inputs: [{ path: "a", contentBase64: "***" }] },
    400,
    "inputs[0].contentBase64",
  ],
  [
    "job: inputs over the limit",
    "POST",
    () => "/v1/jobs",
    {
      image: "a",
      command: ["x"],
      inputs: [{ path: "a", contentBase64: Buffer.alloc(2048).toString("base64") }],
    },
    413,
    "inputs",
  ],
  [
    "job: oversize body",
    "POST",
    () => "/v1/jobs",
    { image: "a", command: ["x"], env: { A: big } },
    413,
    "body",
  ],
  [
    "job: limit type",
    "POST",
    () => "/v1/jobs",
    { image: "a", command: ["x"], limits: { executionSec: "10" } },
    400,
    "limits.executionSec",
  ],
  [
    "job: unknown limit",
    "POST",
    () => "/v1/jobs",
    { image: "a", command: ["x"], limits: { gpuSec: 10 } },
    400,
    "limits.gpuSec",
  ],
  [
    "job: output path escape",
    "POST",
    () => "/v1/jobs",
    { image: "a", command: ["x"], outputPaths: ["/etc"] },
    400,
    "outputPaths[0]",
  ],
  ["logs: bad offset", "GET", () => `/v1/jobs/${jobId}/logs?stdoutOffset=-1`, undefined, 400, "stdoutOffset"],
  ["logs: bad follow", "GET", () => `/v1/jobs/${jobId}/logs?follow=yes`, undefined, 400, "follow"],
  ["cancel: unknown field", "POST", () => `/v1/jobs/${jobId}/cancel`, { force: true }, 400, "force"],
  ["webhook: missing url", "POST", () => "/v1/webhooks", {}, 400, "url"],
  ["webhook: not a url", "POST", () => "/v1/webhooks", { url: "ftp:/x" }, 400, "url"],
  [
    "webhook: unknown event",
    "POST",
    () => "/v1/webhooks",
    { url: "http://127.0.0.1/x", events: ["rental.exploded"] },
    400,
    "events[0]",
  ],
  [
    "idempotency key too long",
    "POST",
    () => "/v1/account/keys",
    { label: "a", _idem: "k".repeat(300) },
    400,
    "Idempotency-Key",
  ],
];

describe("bad-input matrix: every endpoint answers 4xx naming the field", () => {
  it.each(cases)("%s", async (_name, method, path, body, status, field) => {
    let opts: Parameters<Harness["call"]>[2] = { key: h.alice };
    if (body && typeof body === "object" && "raw" in body)
      opts = { ...opts, raw: (body as { raw: string }).raw };
    else if (body && typeof body === "object" && "_idem" in body) {
      const { _idem, ...rest } = body as { _idem: string };
      opts = { ...opts, body: rest, headers: { "idempotency-key": _idem } };
    } else if (body !== undefined) opts = { ...opts, body };
    const res = await h.call(method, path(), opts);
    expect(res.status).toBe(status);
    expect(res.body.error.field).toBe(field);
    expect(res.body.error.message.length).toBeGreaterThan(5);
    if (field !== "body" && field !== "q" && status === 400)
      expect(res.body.error.message).toContain(field.split(/[.[]/)[0]);
  });

  it("non-JSON content types are refused with 415", async () => {
    const res = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      raw: "a=b",
      headers: { "content-type": "text/plain" },
    });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("unknown routes are 404 in words", async () => {
    const res = await h.call("GET", "/v1/nothing-here");
    expect(res.status).toBe(404);
    expect(res.body.error.message).toContain("/v1/nothing-here");
  });
});
