import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connectChain } from "../connect.ts";
import { LocalChain } from "../local/chain.ts";
import type { LocalChainClient } from "../local/client.ts";
import { signTx } from "../local/tx.ts";
import { devKey } from "../testing/keys.ts";
import { connectLocalChain } from "./client.ts";
import { type LocalChainServer, serveLocalChain } from "./server.ts";

const TAO = 1_000_000_000n;
let dir: string;
let chain: LocalChain;
let server: LocalChainServer;
let client: LocalChainClient;
let owner: KeyringPair;
let cold: KeyringPair;
let vHot: KeyringPair;
let mHot: KeyringPair;

function rawCall(
  url: string,
  payload: string,
): Promise<{
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: { name?: string } };
}> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("error", reject);
    ws.once("open", () => ws.send(payload));
    ws.once("message", (d) => {
      ws.close();
      resolve(JSON.parse(d.toString()));
    });
  });
}

beforeAll(async () => {
  [owner, cold, vHot, mHot] = await Promise.all(["Owner", "Cold", "VHot", "MHot"].map(devKey));
  dir = mkdtempSync(join(tmpdir(), "cmesh-rpc-"));
  chain = await LocalChain.open({ dbPath: join(dir, "chain.db"), blockTimeMs: 0, create: true });
  server = await serveLocalChain(chain, { port: 0 });
  client = await connectLocalChain(server.url);
});
afterAll(async () => {
  await client?.close();
  await server?.close();
  await chain?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("local chain JSON-RPC", () => {
  it("serves registration, stake, axon, weights and the metagraph to a remote client", async () => {
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const netuid = await client.createSubnet(owner, { tempo: 10, weightsRateLimit: 2 });
    await client.faucet(cold.address, 100n * TAO);
    const v = await client.burnedRegister(netuid, vHot.address, cold);
    const m = await client.burnedRegister(netuid, mHot.address, cold);
    await client.addStake(netuid, vHot.address, 50n * TAO, cold);
    await client.serveAxon(netuid, { ip: "127.0.0.1", port: 9000, version: 1 }, mHot);
    await client.advanceBlocks(12);
    await client.setWeights(netuid, [m.uid], [1], 0, vHot);
    await client.advanceBlocks(11);
    const mg = await client.getMetagraph(netuid, { weights: true });
    expect(mg.neurons[v.uid].validatorPermit).toBe(true);
    expect(mg.neurons[m.uid].axon).toEqual({ ip: "127.0.0.1", port: 9000, version: 1, protocol: 4 });
    expect(mg.neurons[m.uid].incentive).toBeGreaterThan(0.99);
    expect(typeof mg.neurons[v.uid].stake).toBe("bigint");
    expect(mg.weights?.[v.uid][m.uid]).toBe(65535);
    const hp = await client.getHyperparams(netuid);
    expect(hp.tempo).toBe(10);
    expect(typeof hp.burn).toBe("bigint");
    expect(await client.getBalance(cold.address)).toBe(100n * TAO - 2n * hp.burn - 50n * TAO);
  });

  it("returns the chain's error names to remote callers", async () => {
    await expect(client.setWeights(1, [1], [1], 0, owner)).resolves.toBeDefined(); // owner may set weights
    await expect(client.setWeights(1, [1], [1], 0, owner)).rejects.toMatchObject({
      code: "SettingWeightsTooFast",
    });
    await expect(client.getMetagraph(42)).rejects.toMatchObject({ code: "SubNetworkDoesNotExist" });
  });

  it("rejects forged and replayed transactions sent on the wire", async () => {
    const info = await rawCall(
      server.url,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "chain_info", params: [] }),
    );
    const chainId = (info.result as { chainId: string }).chainId;
    const call = { call: "add_stake" as const, args: { netuid: 1, hotkey: vHot.address, amount: "1" } };
    const nonce = chain.nonce(cold.address);
    const forged = { ...signTx(mHot, chainId, nonce, call), signer: cold.address };
    const r1 = await rawCall(
      server.url,
      JSON.stringify({ jsonrpc: "2.0", id: 2, method: "author_submit", params: [forged] }),
    );
    expect(r1.error?.data?.name).toBe("BadSignature");
    const { signature: _sig, ...unsigned } = signTx(cold, chainId, nonce, call);
    const r2 = await rawCall(
      server.url,
      JSON.stringify({ jsonrpc: "2.0", id: 3, method: "author_submit", params: [unsigned] }),
    );
    expect(r2.error?.data?.name).toBe("BadTransaction");
    const good = signTx(cold, chainId, nonce, call);
    const ok = await rawCall(
      server.url,
      JSON.stringify({ jsonrpc: "2.0", id: 4, method: "author_submit", params: [good] }),
    );
    expect(ok.error).toBeUndefined();
    const replay = await rawCall(
      server.url,
      JSON.stringify({ jsonrpc: "2.0", id: 5, method: "author_submit", params: [good] }),
    );
    expect(replay.error?.data?.name).toBe("InvalidNonce");
  });

  it("answers malformed requests with JSON-RPC errors", async () => {
    expect((await rawCall(server.url, "{not json")).error?.code).toBe(-32700);
    expect((await rawCall(server.url, JSON.stringify({ id: 1, method: "chain_getBlock" }))).error?.code).toBe(
      -32600,
    );
    const unknown = await rawCall(
      server.url,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "nope", params: [] }),
    );
    expect(unknown.error?.code).toBe(-32601);
    const bad = await rawCall(
      server.url,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "state_getMetagraph", params: ["x"] }),
    );
    expect(bad.error?.code).toBe(-32602);
  });

  it("pushes new blocks to subscribers", async () => {
    const other = await connectChain(server.url);
    const seen: number[] = [];
    const stop = await other.subscribeBlocks((b) => seen.push(b));
    const start = await other.getBlock();
    await client.advanceBlocks(3);
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (seen.length >= 3) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    expect(seen).toEqual([start + 1, start + 2, start + 3]);
    stop();
    await other.close();
  });

  it("exposes Prometheus metrics on the same port", async () => {
    const res = await fetch(server.url.replace("ws://", "http://") + "/metrics");
    const text = await res.text();
    expect(text).toContain("cmesh_chain_block");
    expect(text).toMatch(/cmesh_chain_rpc_requests_total\{method="author_submit",outcome="ok"\}/);
  });

  it("reconnects after the server restarts and resumes block notifications", async () => {
    const port = Number(new URL(server.url).port);
    const remote = await connectLocalChain(server.url);
    const seen: number[] = [];
    await remote.subscribeBlocks((b) => seen.push(b));
    await server.close();
    const down = await remote.getBlock().then(
      () => null,
      (e: { code: string }) => e.code,
    );
    expect(["CHAIN_UNREACHABLE", "CHAIN_DISCONNECTED"]).toContain(down);
    server = await serveLocalChain(chain, { port });
    expect(await remote.getBlock()).toBe(chain.block());
    // the client re-subscribes on reconnect: wait until a produced block arrives
    while (seen.length === 0) {
      await chain.advanceBlocks(1);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen[seen.length - 1]).toBeLessThanOrEqual(chain.block());
    await remote.close();
  });

  it("fails clearly when nothing listens, and refuses to bind beyond loopback", async () => {
    await expect(connectLocalChain("ws://127.0.0.1:1", { connectTimeoutMs: 2000 })).rejects.toMatchObject({
      code: "CHAIN_UNREACHABLE",
    });
    await expect(serveLocalChain(chain, { host: "0.0.0.0", port: 0 })).rejects.toMatchObject({
      code: "CHAIN_RPC_NOT_LOOPBACK",
    });
    await expect(connectChain("http://nope")).rejects.toMatchObject({ code: "CHAIN_ENDPOINT_INVALID" });
  });
});
