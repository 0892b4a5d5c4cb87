// `cmesh wallet` end to end: real processes, real keyfiles in a temporary wallets directory.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PHRASE = "old leopard transfer rib spatial phone calm indicate online fire caution review";
const ADDRESS = "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX";
const CMESH = join(import.meta.dirname, "../../bin/cmesh.js");

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "cmesh-wallet-cli-"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

function cmesh(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CMESH, ...args],
      { env: { ...process.env, CMESH_WALLET_PASSWORD: "", ...env }, timeout: 120_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}

describe("cmesh wallet", () => {
  it("regen-coldkey encrypts with the password from CMESH_WALLET_PASSWORD (real Argon2i)", async () => {
    const r = await cmesh(["wallet", "regen-coldkey", "--wallet.path", root, "--mnemonic", PHRASE], {
      CMESH_WALLET_PASSWORD: "correct horse",
    });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(ADDRESS);
    expect(r.stdout).not.toContain(PHRASE);
    expect((await readFile(join(root, "default/coldkey"))).subarray(0, 5).toString()).toBe("$NACL");
    expect(JSON.parse(await readFile(join(root, "default/coldkeypub.txt"), "utf8")).ss58Address).toBe(
      ADDRESS,
    );
  }, 120_000);

  it("new-hotkey writes an unencrypted hotkey and prints its mnemonic once", async () => {
    const r = await cmesh([
      "wallet",
      "new-hotkey",
      "--wallet.path",
      root,
      "--wallet.hotkey",
      "miner1",
      "--n-words",
      "15",
    ]);
    expect(r.code).toBe(0);
    const data = JSON.parse(await readFile(join(root, "default/hotkeys/miner1"), "utf8"));
    expect(data.secretPhrase.split(" ")).toHaveLength(15);
    expect(r.stdout).toContain(data.secretPhrase);
    expect(r.stdout).toContain(data.ss58Address);
  });

  it("list and show print SS58 addresses without a password", async () => {
    const list = await cmesh(["wallet", "list", "--wallet.path", root, "--json"]);
    expect(list.code).toBe(0);
    const parsed = JSON.parse(list.stdout);
    expect(parsed.wallets).toEqual([
      {
        name: "default",
        coldkey: ADDRESS,
        hotkeys: [{ name: "miner1", address: expect.stringMatching(/^5/) }],
      },
    ]);
    const show = await cmesh(["wallet", "show", "--wallet.path", root, "--wallet.hotkey", "miner1"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`coldkey\\s+${ADDRESS}`));
    expect(show.stdout).toContain(parsed.wallets[0].hotkeys[0].address);
  });

  it("refuses to overwrite without --overwrite, and says what to do", async () => {
    const r = await cmesh([
      "wallet",
      "regen-hotkey",
      "--wallet.path",
      root,
      "--wallet.hotkey",
      "miner1",
      "--mnemonic",
      PHRASE,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/WALLET_KEY_EXISTS/);
    expect(r.stderr).toMatch(/--overwrite/);
    const ok = await cmesh([
      "wallet",
      "regen-hotkey",
      "--wallet.path",
      root,
      "--wallet.hotkey",
      "miner1",
      "--mnemonic",
      PHRASE,
      "--overwrite",
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(ADDRESS);
  });

  it("fails clearly without a password source, with a bad mnemonic, or for a missing wallet", async () => {
    const noPw = await cmesh(["wallet", "new-coldkey", "--wallet.path", root, "--wallet.name", "other"]);
    expect(noPw.code).not.toBe(0);
    expect(noPw.stderr).toMatch(/WALLET_PASSWORD_REQUIRED/);
    expect(noPw.stderr).toMatch(/CMESH_WALLET_PASSWORD/);
    const bad = await cmesh([
      "wallet",
      "regen-coldkey",
      "--wallet.path",
      root,
      "--wallet.name",
      "x",
      "--no-password",
      "--mnemonic",
      "not a phrase",
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/INVALID_MNEMONIC/);
    const missing = await cmesh(["wallet", "show", "--wallet.path", root, "--wallet.name", "ghost"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/WALLET_NOT_FOUND/);
    const noMnemonic = await cmesh(["wallet", "regen-coldkey", "--wallet.path", root]);
    expect(noMnemonic.code).not.toBe(0);
    expect(noMnemonic.stderr).toMatch(/--mnemonic/);
  });

  it("--no-password writes a plain coldkey", async () => {
    const r = await cmesh([
      "wallet",
      "new-coldkey",
      "--wallet.path",
      root,
      "--wallet.name",
      "plain",
      "--no-password",
    ]);
    expect(r.code).toBe(0);
    const data = JSON.parse(await readFile(join(root, "plain/coldkey"), "utf8"));
    expect(data.ss58Address).toMatch(/^5/);
  });
});
