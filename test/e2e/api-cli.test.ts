import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runCli } from "../../packages/cli/src/program.ts";
import { type Harness, sampleSshPublicKey, startHarness } from "../../packages/api/src/testing/harness.ts";

let h: Harness;

/** Runs `cmesh …` in this process (the real command tree), capturing what it prints. */
async function cmesh(args: string[], apiKey?: string) {
  process.env.CMESH_API_URL = h.api.url;
  process.env.CMESH_API_KEY = apiKey ?? "";
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => {
    stdout += String(c);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((c: string | Uint8Array) => {
    stderr += String(c);
    return true;
  });
  try {
    const code = await runCli(["node", "cmesh", ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

beforeAll(async () => {
  h = await startHarness({ selfDeposit: true });
});
afterAll(() => h.close());

describe("cmesh rent / jobs / account over the typed client", () => {
  it("account create, deposit, balance, keys", async () => {
    const created = await cmesh(["account", "create", "--name", "cli-user", "--json"]);
    expect(created.code).toBe(0);
    const { apiKey } = JSON.parse(created.stdout);
    expect(apiKey).toMatch(/^cmk_/);
    const dep = await cmesh(["account", "deposit", "--credits", "3.5"], apiKey);
    expect(dep.stdout).toContain("balance 3.5 cr");
    const bal = await cmesh(["account", "balance", "--json"], apiKey);
    expect(JSON.parse(bal.stdout).account.balanceMicro).toBe(3_500_000);
    const keys = await cmesh(["account", "keys", "list", "--json"], apiKey);
    expect(JSON.parse(keys.stdout)).toHaveLength(1);
    const nokey = await cmesh(["account", "balance"]);
    expect(nokey.code).toBe(1);
    expect(nokey.stderr).toContain("API_KEY_MISSING");
  });

  it("rent search, create, list, release; errors name the token", async () => {
    const search = await cmesh(["rent", "search", "count>=2", "--sort", "price", "--limit", "3", "--json"]);
    const hits = JSON.parse(search.stdout);
    expect(hits.machines).toHaveLength(3);
    const bad = await cmesh(["rent", "search", "colour=red"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown field "colour"');
    const dir = mkdtempSync(join(tmpdir(), "cmesh-cli-"));
    const keyPath = join(dir, "id.pub");
    writeFileSync(keyPath, `${sampleSshPublicKey()}\n`);
    const created = await cmesh(
      [
        "rent",
        "create",
        "--machine",
        hits.machines[0].minerHotkey,
        "--ssh-key",
        keyPath,
        "--duration",
        "30m",
      ],
      h.alice,
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/ssh -p \d+ root@127\.0\.0\.1/);
    const id = /rental (rnt_\w+)/.exec(created.stdout)?.[1] as string;
    const list = await cmesh(["rent", "list", "--json"], h.alice);
    expect(JSON.parse(list.stdout).map((r: { id: string }) => r.id)).toContain(id);
    const rel = await cmesh(["rent", "release", id], h.alice);
    expect(rel.stdout).toContain("released");
  });

  it("jobs submit --wait streams logs; outputs are written to disk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cmesh-cli-"));
    writeFileSync(join(dir, "in.txt"), "payload");
    const sub = await cmesh(
      [
        "jobs",
        "submit",
        "--image",
        "alpine",
        "--input",
        `${join(dir, "in.txt")}:in.txt`,
        "--output",
        "out.txt",
        "--wait",
        "--",
        "cat-inputs",
      ],
      h.alice,
    );
    expect(sub.code).toBe(0);
    expect(sub.stdout).toBe("payload");
    expect(sub.stderr).toMatch(/completed/);
    const jobId = /job (job-[\w-]+)/.exec(sub.stderr)?.[1] as string;
    const out = await cmesh(["jobs", "outputs", jobId, "--dir", dir], h.alice);
    expect(out.code).toBe(0);
    expect(readFileSync(join(dir, "out.txt"), "utf8")).toBe("payload");
    const failed = await cmesh(["jobs", "submit", "--image", "alpine", "--wait", "--", "exit", "4"], h.alice);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("exit code 4");
  });
});
