import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { devKey } from "../testing/keys.ts";
import { weightsCommitHash } from "../weights.ts";
import { LocalChain } from "./chain.ts";
import { signTx } from "./tx.ts";

const TAO = 1_000_000_000n;
let owner: KeyringPair;
let cold: KeyringPair;
let vHot: KeyringPair;
let mHot: KeyringPair;
let m2Hot: KeyringPair;
const dirs: string[] = [];
const chains: LocalChain[] = [];

beforeAll(async () => {
  [owner, cold, vHot, mHot, m2Hot] = await Promise.all(
    ["Owner", "Cold", "VHot", "MHot", "M2Hot"].map(devKey),
  );
});
afterEach(async () => {
  for (const c of chains.splice(0)) await c.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "cmesh-chain-"));
  dirs.push(d);
  return d;
}

async function open(dbPath: string, create = true): Promise<LocalChain> {
  const c = await LocalChain.open({ dbPath, blockTimeMs: 0, create });
  chains.push(c);
  return c;
}

async function subnetWithNeurons(chain: LocalChain, params = {}) {
  const client = chain.client();
  const netuid = await chain.createSubnet(owner, { tempo: 10, weightsRateLimit: 5, burn: TAO, ...params });
  await chain.faucet(cold.address, 1000n * TAO);
  await chain.advanceBlocks(1);
  const v = await client.burnedRegister(netuid, vHot.address, cold);
  const m = await client.burnedRegister(netuid, mHot.address, cold);
  await client.addStake(netuid, vHot.address, 100n * TAO, cold);
  return { client, netuid, vUid: v.uid, mUid: m.uid };
}

describe("LocalChain", () => {
  it("registers, stakes, serves, sets weights and pays miners through Yuma", async () => {
    const chain = await open(join(tmp(), "chain.db"));
    const { client, netuid, vUid, mUid } = await subnetWithNeurons(chain);
    expect([vUid, mUid]).toEqual([1, 2]);
    expect(await client.getBalance(cold.address)).toBe(1000n * TAO - 2n * TAO - 100n * TAO);
    await client.serveAxon(netuid, { ip: "127.0.0.1", port: 8091 }, mHot);
    // no permit before the first epoch
    await chain.advanceBlocks(5);
    await expect(client.setWeights(netuid, [mUid], [1], 0, vHot)).rejects.toMatchObject({
      code: "NeuronNoValidatorPermit",
    });
    await chain.advanceBlocks(11); // an epoch grants permits
    let mg = await client.getMetagraph(netuid);
    expect(mg.neurons[vUid].validatorPermit).toBe(true);
    expect(mg.neurons[mUid].validatorPermit).toBe(false);
    expect(mg.neurons[mUid].axon).toEqual({ ip: "127.0.0.1", port: 8091, version: 0, protocol: 4 });
    await client.setWeights(netuid, [mUid], [0.5], 0, vHot);
    await expect(client.setWeights(netuid, [mUid], [1], 0, vHot)).rejects.toMatchObject({
      code: "SettingWeightsTooFast",
    });
    const before = mg.neurons[mUid].stake;
    await chain.advanceBlocks(11);
    mg = await client.getMetagraph(netuid, { weights: true });
    expect(mg.neurons[mUid].incentive).toBeCloseTo(1, 4);
    expect(mg.neurons[vUid].dividends).toBeCloseTo(1, 4);
    expect(mg.neurons[mUid].emission).toBeGreaterThan(0n);
    expect(mg.neurons[mUid].stake).toBeGreaterThan(before);
    expect(mg.weights?.[vUid][mUid]).toBe(65535);
    // the owner's 18 % cut is paid to its free balance each block
    const ownerBefore = await client.getBalance(owner.address);
    await chain.advanceBlocks(2);
    expect((await client.getBalance(owner.address)) - ownerBefore).toBe(
      2n * ((1_000_000_000n * 11796n) / 65535n),
    );
  });

  it("rejects unsigned, forged, replayed and wrong-chain transactions", async () => {
    const chain = await open(join(tmp(), "chain.db"));
    const { netuid } = await subnetWithNeurons(chain);
    const call = { call: "add_stake" as const, args: { netuid, hotkey: vHot.address, amount: "1" } };
    const nonce = chain.nonce(cold.address);
    const good = signTx(cold, chain.chainId, nonce, call);
    const { signature: _s, ...unsigned } = good;
    expect(() => chain.submit(unsigned)).toThrow(expect.objectContaining({ code: "BadTransaction" }));
    // signed by someone else, claiming to be cold
    const forged = { ...signTx(vHot, chain.chainId, nonce, call), signer: cold.address };
    expect(() => chain.submit(forged)).toThrow(expect.objectContaining({ code: "BadSignature" }));
    // tampered amount
    expect(() => chain.submit({ ...good, args: { ...call.args, amount: "999" } })).toThrow(
      expect.objectContaining({ code: "BadSignature" }),
    );
    expect(() => chain.submit(signTx(cold, `0x${"ab".repeat(32)}`, nonce, call))).toThrow(
      expect.objectContaining({ code: "WrongChain" }),
    );
    chain.submit(good);
    expect(() => chain.submit(good)).toThrow(expect.objectContaining({ code: "InvalidNonce" }));
  });

  it("maps the chain's checks to its error names", async () => {
    const chain = await open(join(tmp(), "chain.db"));
    const { client, netuid, mUid } = await subnetWithNeurons(chain, { weightsVersionKey: 5 });
    const stranger = await devKey("Stranger");
    await expect(client.burnedRegister(netuid, stranger.address, stranger)).rejects.toMatchObject({
      code: "NotEnoughBalanceToStake",
    });
    await expect(client.burnedRegister(netuid, mHot.address, cold)).rejects.toMatchObject({
      code: "HotKeyAlreadyRegisteredInSubNet",
    });
    await chain.faucet(stranger.address, 10n * TAO);
    const other = await chain.createSubnet(owner, { burn: TAO });
    await expect(client.burnedRegister(other, mHot.address, stranger)).rejects.toMatchObject({
      code: "NonAssociatedColdKey",
    });
    await expect(client.burnedRegister(99, m2Hot.address, cold)).rejects.toMatchObject({
      code: "SubNetworkDoesNotExist",
    });
    await expect(client.addStake(netuid, vHot.address, 10_000n * TAO, cold)).rejects.toMatchObject({
      code: "NotEnoughBalanceToStake",
    });
    await expect(client.setWeights(netuid, [mUid], [1], 0, stranger)).rejects.toMatchObject({
      code: "HotKeyNotRegisteredInSubNet",
    });
    await chain.advanceBlocks(11);
    await expect(client.setWeights(netuid, [mUid], [1], 1, vHot)).rejects.toMatchObject({
      code: "IncorrectWeightVersionKey",
    });
    await expect(client.setWeights(netuid, [mUid, mUid], [1, 1], 5, vHot)).rejects.toMatchObject({
      code: "DuplicateUids",
    });
    await expect(client.setWeights(netuid, [77], [1], 5, vHot)).rejects.toMatchObject({
      code: "UidVecContainInvalidOne",
    });
    await expect(client.setWeights(netuid, [1, 2, 3, 9], [1, 1, 1, 1], 5, vHot)).rejects.toMatchObject({
      code: "UidsLengthExceedUidsInSubNet",
    });
    await expect(client.setWeights(netuid, [0, 9], [1, 1], 5, vHot)).rejects.toMatchObject({
      code: "UidVecContainInvalidOne",
    });
    await expect(client.serveAxon(netuid, { ip: "1.2.3.4", port: 0 }, mHot)).rejects.toMatchObject({
      code: "InvalidPort",
    });
    await expect(client.serveAxon(netuid, { ip: "999.1.1.1", port: 80 }, mHot)).rejects.toMatchObject({
      code: "InvalidIpAddress",
    });
    await expect(client.serveAxon(netuid, { ip: "1.2.3.4", port: 80 }, stranger)).rejects.toMatchObject({
      code: "HotKeyNotRegisteredInNetwork",
    });
  });

  it("prunes the lowest-emission non-immune uid when full, and refuses when all are immune", async () => {
    const chain = await open(join(tmp(), "chain.db"));
    const { client, netuid } = await subnetWithNeurons(chain, { maxAllowedUids: 3, immunityPeriod: 5 });
    await expect(client.burnedRegister(netuid, m2Hot.address, cold)).rejects.toMatchObject({
      code: "NoNeuronIdAvailable",
    });
    await chain.advanceBlocks(22); // two epochs: the permitted validator uid 1 earns, miner uid 2 earns nothing
    const r = await client.burnedRegister(netuid, m2Hot.address, cold);
    expect(r.uid).toBe(2);
    const mg = await client.getMetagraph(netuid);
    expect(mg.neurons.map((n) => n.hotkey)).toEqual([owner.address, vHot.address, m2Hot.address]);
    expect(mg.neurons[2].registeredAt).toBe(r.block);
  });

  it("commit/reveal: hash commit, reveal in the next epoch only with matching data", async () => {
    const chain = await open(join(tmp(), "chain.db"));
    const { client, netuid, mUid } = await subnetWithNeurons(chain, {
      commitRevealEnabled: true,
      commitRevealPeriod: 1,
    });
    await chain.advanceBlocks(11);
    const salt = [1, 2, 3, 4, 5, 6, 7, 8];
    await expect(client.setWeights(netuid, [mUid], [1], 0, vHot)).rejects.toMatchObject({
      code: "CommitRevealEnabled",
    });
    await client.commitWeights(netuid, [mUid], [1], salt, 0, vHot);
    await expect(client.revealWeights(netuid, [mUid], [1], salt, 0, vHot)).rejects.toMatchObject({
      code: "RevealTooEarly",
    });
    await chain.advanceBlocks(11);
    await expect(client.revealWeights(netuid, [mUid], [1], [9, 9], 0, vHot)).rejects.toMatchObject({
      code: "InvalidRevealCommitHashNotMatch",
    });
    await client.revealWeights(netuid, [mUid], [1], salt, 0, vHot);
    const mg = await client.getMetagraph(netuid, { weights: true });
    expect(mg.weights?.[1][mUid]).toBe(65535);
    await expect(client.revealWeights(netuid, [mUid], [1], salt, 0, vHot)).rejects.toMatchObject({
      code: "NoWeightsCommitFound",
    });
    expect(weightsCommitHash(vHot.address, netuid, [2], [65535], salt, 0)).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it("keeps every registration, stake, weight and bond across a restart", async () => {
    const path = join(tmp(), "chain.db");
    const chain = await open(path);
    const { client, netuid, mUid } = await subnetWithNeurons(chain);
    await chain.advanceBlocks(11);
    await client.setWeights(netuid, [mUid], [1], 0, vHot);
    await chain.advanceBlocks(11);
    const before = await client.getMetagraph(netuid, { weights: true });
    const beforeBonds = chain.database.prepare("SELECT uid, bonds FROM neurons ORDER BY uid").all();
    expect(JSON.stringify(beforeBonds)).toContain("65535");
    const chainId = chain.chainId;
    await chain.close();
    chains.splice(chains.indexOf(chain), 1);
    const again = await open(path, false);
    expect(again.chainId).toBe(chainId);
    expect(await again.client().getMetagraph(netuid, { weights: true })).toEqual(before);
    expect(again.database.prepare("SELECT uid, bonds FROM neurons ORDER BY uid").all()).toEqual(beforeBonds);
    expect(again.nonce(cold.address)).toBeGreaterThan(0);
  });

  it("missing or corrupt state is a clear error, never a new chain", async () => {
    const dir = tmp();
    await expect(LocalChain.open({ dbPath: join(dir, "none.db"), blockTimeMs: 0 })).rejects.toMatchObject({
      code: "CHAIN_STATE_MISSING",
    });
    const garbage = join(dir, "garbage.db");
    writeFileSync(garbage, "this is not a database".repeat(100));
    await expect(LocalChain.open({ dbPath: garbage, blockTimeMs: 0, create: true })).rejects.toMatchObject({
      code: "CHAIN_STATE_CORRUPT",
    });
    const path = join(dir, "chain.db");
    const c = await open(path);
    c.database.exec("DROP TABLE stakes");
    await c.close();
    chains.splice(chains.indexOf(c), 1);
    await expect(LocalChain.open({ dbPath: path, blockTimeMs: 0, create: true })).rejects.toMatchObject({
      code: "CHAIN_STATE_CORRUPT",
    });
  });

  it("produces blocks on its own at the configured interval and notifies subscribers", async () => {
    const chain = await LocalChain.open({ dbPath: join(tmp(), "chain.db"), blockTimeMs: 20, create: true });
    chains.push(chain);
    const seen: number[] = [];
    const stop = await chain.client().subscribeBlocks((b) => seen.push(b));
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (seen.length >= 3) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    stop();
    expect(seen.slice(0, 3)).toEqual([1, 2, 3]);
  });
});
