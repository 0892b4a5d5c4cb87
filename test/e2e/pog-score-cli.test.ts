// `cmesh score` end to end: the real CLI binary, the number on stdout, unknown names listed on stderr.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../bin/cmesh.js", import.meta.url));
const run = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, "score", ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe("cmesh score", () => {
  it("prints the seed examples: 8× H200 unallocated → 50, 2× RTX 4090 allocated → 4.25", async () => {
    expect(await run("--gpu", "NVIDIA H200", "--count", "8")).toMatchObject({ code: 0, stdout: "50\n" });
    expect(await run("--gpu", "NVIDIA RTX 4090", "--count", "2", "--allocated")).toMatchObject({
      code: 0,
      stdout: "4.25\n",
    });
  });

  it("accepts the nvidia-smi name, caps the count at 8 and says so", async () => {
    const r = await run("--gpu", "NVIDIA GeForce RTX 4090", "--count", "12", "--allocated");
    expect(r).toMatchObject({ code: 0, stdout: "17\n" });
    expect(r.stderr).toContain("only 8 GPUs count");
    expect(await run("--gpu", "nvidia l40s", "--count", "1")).toMatchObject({ stdout: "1.71875\n" });
  });

  it("exits non-zero for an unknown GPU and lists the supported models; rejects a bad count", async () => {
    const r = await run("--gpu", "NVIDIA RTX 9999", "--count", "1");
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("UNKNOWN_GPU");
    expect(r.stderr).toContain("NVIDIA H100 80GB HBM3");
    expect(r.stderr).toContain("NVIDIA GeForce RTX 4090");
    const bad = await run("--gpu", "NVIDIA L4", "--count", "two");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("whole number");
    expect((await run()).code).not.toBe(0);
  });
});
