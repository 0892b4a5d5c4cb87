import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { cryptoReady, keypairFromUri } from "./crypto.ts";
import {
  base64DecodedLength,
  countersignJobReceipt,
  JOB_LIMITS,
  JobLogs,
  type JobReceiptPayload,
  JobSpecSchema,
  JobSubmit,
  jobOutputsDigest,
  jobSpecDigest,
  sha256Hex,
  signJobReceipt,
  verifyJobReceipt,
} from "./synapses-jobs.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const base = { image: "local/cmesh-jobtest:1", command: ["sh", "-c", "true"] };

function firstIssue(input: unknown): string {
  const r = JobSpecSchema.safeParse(input);
  if (r.success) return "ok";
  const i = r.error.issues[0];
  return `${i.path.join(".")}: ${i.message}`;
}

describe("JobSpecSchema", () => {
  it("accepts a complete spec", () => {
    expect(
      firstIssue({
        ...base,
        env: { A_B: "1" },
        inputs: [{ path: "dir/in.txt", contentBase64: b64("hi") }],
        outputPaths: ["out", "res/x.json"],
        limits: { downloadSec: 10, executionSec: 5, uploadSec: 10, memoryMiB: 64, cpus: 0.5 },
      }),
    ).toBe("ok");
  });

  it.each([
    [{ ...base, inputs: [{ path: "../x", contentBase64: "" }] }, "inputs.0.path"],
    [{ ...base, inputs: [{ path: "/etc/passwd", contentBase64: "" }] }, "inputs.0.path"],
    [{ ...base, inputs: [{ path: "a/./b", contentBase64: "" }] }, "inputs.0.path"],
    [{ ...base, inputs: [{ path: "a", contentBase64: "not base64!" }] }, "inputs.0.contentBase64"],
    [
      {
        ...base,
        inputs: [
          { path: "a", contentBase64: "" },
          { path: "a", contentBase64: "" },
        ],
      },
      "inputs.1.path",
    ],
    [{ ...base, outputPaths: [".."] }, "outputPaths.0"],
    [{ ...base, image: "UPPER/case" }, "image"],
    [{ ...base, image: "img; rm -rf /" }, "image"],
    [{ ...base, command: [] }, "command"],
    [{ ...base, env: { "BAD-NAME": "x" } }, "env.BAD-NAME"],
    [{ ...base, limits: { executionSec: 0 } }, "limits.executionSec"],
    [{ ...base, limits: { memoryMiB: 1.5 } }, "limits.memoryMiB"],
    [{ ...base, privileged: true }, ""],
  ])("rejects %j at %s", (spec, path) => {
    expect(firstIssue(spec).startsWith(`${path}:`)).toBe(true);
  });

  it("caps the total decoded input size", () => {
    const half = Buffer.alloc(JOB_LIMITS.maxInputBytes / 2 + 1).toString("base64");
    const issue = firstIssue({
      ...base,
      inputs: [
        { path: "a", contentBase64: half },
        { path: "b", contentBase64: half },
      ],
    });
    expect(issue).toContain("inputs:");
    expect(issue).toContain("over the cap");
  });

  it("computes decoded base64 lengths exactly", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(base64DecodedLength(Buffer.from(bytes).toString("base64"))).toBe(bytes.length);
      }),
    );
  });

  it("digests specs independently of key order and undefined members", () => {
    const a = jobSpecDigest({ image: "x", command: ["a"], env: { B: "2", A: "1" } });
    const b = jobSpecDigest({ env: { A: "1", B: "2" }, command: ["a"], image: "x", limits: undefined });
    expect(a).toBe(b);
    expect(jobSpecDigest({ image: "x", command: ["b"] })).not.toBe(a);
  });
});

describe("job synapse definitions", () => {
  it("hash only string fields, which cover the spec through its digest", () => {
    expect(JobSubmit.hashFields).toEqual(["jobId", "specSha256"]);
    expect(JobSubmit.maxBodyBytes).toBeGreaterThan((JOB_LIMITS.maxInputBytes * 4) / 3);
  });

  it("bound log requests", () => {
    const ok = JobLogs.request.safeParse({
      jobId: "job-00000001",
      stdoutOffset: 0,
      stderrOffset: 0,
      maxBytes: 1024,
    });
    expect(ok.success).toBe(true);
    const tooBig = JobLogs.request.safeParse({
      jobId: "job-00000001",
      stdoutOffset: 0,
      stderrOffset: 0,
      maxBytes: JOB_LIMITS.maxLogChunkBytes + 1,
    });
    expect(tooBig.success).toBe(false);
    expect(
      JobLogs.request.safeParse({ jobId: "../../etc", stdoutOffset: 0, stderrOffset: 0, maxBytes: 1 })
        .success,
    ).toBe(false);
  });
});

describe("job receipts", () => {
  let validator: ReturnType<typeof keypairFromUri>;
  let miner: ReturnType<typeof keypairFromUri>;
  let payload: JobReceiptPayload;

  beforeAll(async () => {
    await cryptoReady();
    validator = keypairFromUri("//Alice");
    miner = keypairFromUri("//Bob");
    payload = {
      kind: "computemesh.job-finished.v1",
      jobId: "job-00000001",
      minerHotkey: miner.address,
      validatorHotkey: validator.address,
      state: "completed",
      exitCode: 0,
      startedAt: "2026-01-01T00:00:00.000Z",
      endedAt: "2026-01-01T00:00:01.000Z",
      stdoutSha256: sha256Hex("out"),
      stderrSha256: sha256Hex(""),
      outputsSha256: jobOutputsDigest([]),
      issuedAt: "2026-01-01T00:00:02.000Z",
    };
  });

  it("verifies when signed by the named validator and countersigned by the named miner", () => {
    const validatorSignature = signJobReceipt(payload, validator);
    const minerSignature = countersignJobReceipt(payload, validatorSignature, miner);
    expect(verifyJobReceipt({ payload, validatorSignature, minerSignature })).toEqual({ ok: true });
  });

  it("fails for a changed payload, swapped signatures, or the wrong signer", () => {
    const validatorSignature = signJobReceipt(payload, validator);
    const minerSignature = countersignJobReceipt(payload, validatorSignature, miner);
    expect(
      verifyJobReceipt({ payload: { ...payload, exitCode: 1 }, validatorSignature, minerSignature }).ok,
    ).toBe(false);
    expect(
      verifyJobReceipt({ payload, validatorSignature: minerSignature, minerSignature: validatorSignature })
        .ok,
    ).toBe(false);
    expect(() => signJobReceipt(payload, miner)).toThrow();
    expect(() => countersignJobReceipt(payload, validatorSignature, validator)).toThrow();
    const forged = countersignJobReceipt(
      { ...payload, minerHotkey: validator.address },
      validatorSignature,
      validator,
    );
    expect(verifyJobReceipt({ payload, validatorSignature, minerSignature: forged }).ok).toBe(false);
  });

  it("digests outputs independently of order", () => {
    const files = [
      { path: "a", contentBase64: b64("1") },
      { path: "b", contentBase64: b64("2") },
    ];
    expect(jobOutputsDigest(files)).toBe(jobOutputsDigest([...files].reverse()));
    expect(jobOutputsDigest(files)).not.toBe(
      jobOutputsDigest([{ ...files[0], contentBase64: b64("x") }, files[1]]),
    );
  });
});
