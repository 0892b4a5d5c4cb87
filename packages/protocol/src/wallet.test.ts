import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { cryptoReady } from "./crypto.ts";
import { Wallet } from "./wallet.ts";

const PHRASE = "old leopard transfer rib spatial phone calm indicate online fire caution review";
const ADDRESS = "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX";
const FAST = { opslimit: 3, memlimit: 8192 };

let root: string;
beforeAll(() => cryptoReady());
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "cmesh-wallet-"));
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe("Wallet", () => {
  it("uses btcli defaults and layout", () => {
    const w = new Wallet();
    expect(w.name).toBe("default");
    expect(w.hotkeyName).toBe("default");
    expect(w.path).toBe(join(homedir(), ".bittensor/wallets"));
    expect(w.coldkeyFile).toBe(join(homedir(), ".bittensor/wallets/default/coldkey"));
    expect(w.coldkeypubFile).toBe(join(homedir(), ".bittensor/wallets/default/coldkeypub.txt"));
    expect(w.hotkeyFile).toBe(join(homedir(), ".bittensor/wallets/default/hotkeys/default"));
  });

  it("regenerates an encrypted coldkey from the §2.6 mnemonic and reads addresses without a password", async () => {
    const w = new Wallet({ path: root, name: "cold", kdf: FAST });
    const r = await w.createColdkey({ mnemonic: PHRASE, password: "pw" });
    expect(r).toEqual({ mnemonic: PHRASE, address: ADDRESS });
    expect((await readFile(w.coldkeyFile)).subarray(0, 5).toString()).toBe("$NACL");
    const pub = JSON.parse(await readFile(w.coldkeypubFile, "utf8"));
    expect(pub).toEqual({
      publicKey: "0xe4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446",
      accountId: "0xe4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446",
      ss58Address: ADDRESS,
    });
    expect((await stat(w.coldkeyFile)).mode & 0o777).toBe(0o600);
    expect(await w.coldkeyAddress()).toBe(ADDRESS);
    expect((await w.loadColdkey("pw")).address).toBe(ADDRESS);
    await expect(w.loadColdkey("bad")).rejects.toMatchObject({ code: "WALLET_WRONG_PASSWORD" });
    await expect(w.loadColdkey()).rejects.toMatchObject({ code: "WALLET_PASSWORD_REQUIRED" });
  });

  it("writes hotkeys unencrypted by default, with a pub file", async () => {
    const w = new Wallet({ path: root, name: "w", hotkey: "h1" });
    const r = await w.createHotkey({ words: 24 });
    expect(r.mnemonic.split(" ")).toHaveLength(24);
    const data = JSON.parse(await readFile(w.hotkeyFile, "utf8"));
    expect(data.secretPhrase).toBe(r.mnemonic);
    expect(data.ss58Address).toBe(r.address);
    expect((await w.loadHotkey()).address).toBe(r.address);
    expect(await w.hotkeyAddress()).toBe(r.address);
    expect(await w.hotkeyNames()).toEqual(["h1"]);
  });

  it("encrypts a hotkey when given a password", async () => {
    const w = new Wallet({ path: root, hotkey: "enc", kdf: FAST });
    const r = await w.createHotkey({ password: "pw" });
    expect(await w.isEncrypted("hotkey")).toBe(true);
    expect((await w.loadHotkey("pw")).address).toBe(r.address);
    expect(await w.hotkeyAddress()).toBe(r.address);
  });

  it("never overwrites a key without overwrite: true", async () => {
    const w = new Wallet({ path: root });
    const first = await w.createColdkey({ password: null });
    await expect(w.createColdkey({ password: null })).rejects.toMatchObject({ code: "WALLET_KEY_EXISTS" });
    expect(await w.coldkeyAddress()).toBe(first.address);
    const second = await w.createColdkey({ password: null, overwrite: true, mnemonic: PHRASE });
    expect(second.address).toBe(ADDRESS);
    expect((await w.loadColdkey()).address).toBe(ADDRESS);
  });

  it("requires an explicit choice of password for coldkeys", async () => {
    await expect(new Wallet({ path: root }).createColdkey()).rejects.toMatchObject({
      code: "WALLET_PASSWORD_REQUIRED",
    });
  });

  it("reports missing keys, bad names and bad mnemonics with codes", async () => {
    const w = new Wallet({ path: root, name: "none" });
    await expect(w.loadHotkey()).rejects.toMatchObject({ code: "WALLET_NOT_FOUND" });
    await expect(w.coldkeyAddress()).rejects.toMatchObject({ code: "WALLET_NOT_FOUND" });
    expect(() => new Wallet({ name: "../x" })).toThrow(/not a valid file name/);
    await expect(w.createHotkey({ mnemonic: "abandon abandon" })).rejects.toMatchObject({
      code: "INVALID_MNEMONIC",
    });
  });

  it("reads a plain legacy keyfile holding only secretSeed and a corrupt keyfile fails clearly", async () => {
    const w = new Wallet({ path: root });
    await w.createHotkey({ mnemonic: PHRASE });
    const data = JSON.parse(await readFile(w.hotkeyFile, "utf8"));
    await writeFile(
      w.hotkeyFile,
      JSON.stringify({ secretSeed: data.secretSeed, ss58Address: data.ss58Address }),
    );
    expect((await w.loadHotkey()).address).toBe(ADDRESS);
    await writeFile(w.hotkeyFile, "garbage");
    await expect(w.loadHotkey()).rejects.toMatchObject({ code: "KEYFILE_CORRUPT" });
  });
});
