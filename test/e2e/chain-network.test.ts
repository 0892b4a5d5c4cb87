import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { connectChain, type LocalChainClient } from "@computemesh/chain";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const CLI = join(ROOT, "bin/cmesh.js");
const run = promisify(execFile);
const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), "cmesh-chain-e2e-"));

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `cmesh chain serve` and resolves with the JSON line it prints (url, chainId, block). */
function serve(
  args: string[],
): Promise<{ child: ChildProcess; info: { url: string; chainId: string; created: boolean } }> {
  const child = spawn(process.execPath, [CLI, "chain", "serve", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d.toString();
  });
  return new Promise((resolveServe, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once("line", (line) => resolveServe({ child, info: JSON.parse(line) }));
    child.once("exit", (code) => reject(new Error(`chain serve exited ${code}: ${stderr}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((res) => {
    child.once("exit", (code) => res(code));
    child.kill("SIGTERM");
  });
}

/** A miner or validator in its own process: only the RPC endpoint and its own keys. */
const ACTOR = `
import { connectChain } from "@computemesh/chain";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
const [role, url, netuid] = process.argv.slice(-3).map((v, i) => (i === 2 ? Number(v) : v));
await cryptoWaitReady();
const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
const cold = keyring.addFromUri("//" + role + "Cold");
const hot = keyring.addFromUri("//" + role + "Hot");
const chain = await connectChain(url);
const { uid } = await chain.burnedRegister(netuid, hot.address, cold);
if (role === "Miner") {
  await chain.serveAxon(netuid, { ip: "127.0.0.1", port: 18091 }, hot);
} else {
  await chain.addStake(netuid, hot.address, 100_000_000_000n, cold);
  const waitFor = async (check) => { for (;;) { if (await check()) return; await new Promise((r) => setTimeout(r, 50)); } };
  await waitFor(async () => (await chain.getMetagraph(netuid)).neurons[uid].validatorPermit);
  const miner = (await chain.getMetagraph(netuid)).neurons.find((n) => n.axon !== null);
  for (;;) {
    try { await chain.setWeights(netuid, [miner.uid], [1], 0, hot); break; }
    catch (e) { if (e.code !== "SettingWeightsTooFast") throw e; await new Promise((r) => setTimeout(r, 50)); }
  }
}
process.stdout.write(JSON.stringify({ role, uid }) + "\\n");
await chain.close();
`;

async function actor(
  role: "Miner" | "Validator",
  url: string,
  netuid: number,
): Promise<{ role: string; uid: number }> {
  // evaluated from the repository root so that workspace packages resolve
  const args = ["--import", "tsx", "--input-type=module", "-e", ACTOR, "--", role, url, String(netuid)];
  const { stdout } = await run(process.execPath, args, {
    cwd: ROOT,
    timeout: 150_000,
  });
  return JSON.parse(stdout.trim());
}

// Spawns several CLI/Node processes (each loads TypeScript through tsx): generous time on a loaded machine.
describe("cmesh chain serve: a network of processes on one local chain", { timeout: 180_000 }, () => {
  const dataDir = join(dir, "data");

  it("miners and validators in separate processes register, serve, stake and set weights; Yuma pays the miner; state survives a restart", async () => {
    await cryptoWaitReady();
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const owner = keyring.addFromUri("//E2eOwner");
    const { child, info } = await serve(["--data-dir", dataDir, "--port", "0", "--block-time", "40"]);
    expect(info.created).toBe(true);
    const admin = (await connectChain(info.url)) as LocalChainClient;
    const netuid = await admin.createSubnet(owner, { tempo: 5, weightsRateLimit: 2, immunityPeriod: 100 });
    for (const role of ["Miner", "Validator"]) {
      await admin.faucet(keyring.addFromUri(`//${role}Cold`).address, 1000_000_000_000n);
    }
    const miner = await actor("Miner", info.url, netuid);
    const validator = await actor("Validator", info.url, netuid);
    let mg = await admin.getMetagraph(netuid);
    while (mg.neurons[miner.uid].incentive === 0) {
      await new Promise((r) => setTimeout(r, 50));
      mg = await admin.getMetagraph(netuid);
    }
    expect(mg.neurons[miner.uid].incentive).toBeGreaterThan(0.99);
    expect(mg.neurons[miner.uid].axon).toMatchObject({ ip: "127.0.0.1", port: 18091 });
    expect(mg.neurons[validator.uid].validatorPermit).toBe(true);
    expect(mg.neurons[validator.uid].stake).toBeGreaterThanOrEqual(100_000_000_000n);
    const before = await admin.getMetagraph(netuid, { weights: true });
    await admin.close();
    expect(await stop(child)).toBe(0);

    const again = await serve(["--data-dir", dataDir, "--port", "0", "--block-time", "0"]);
    expect(again.info.created).toBe(false);
    expect(again.info.chainId).toBe(info.chainId);
    const client = (await connectChain(again.info.url)) as LocalChainClient;
    const after = await client.getMetagraph(netuid, { weights: true });
    // The chain may have produced one more block between the snapshot and the stop: then the state is that
    // block's, and everything registered, served, staked and weighted before it must still be there.
    expect(after.block).toBeGreaterThanOrEqual(before.block);
    if (after.block === before.block) expect(after).toEqual(before);
    const durable = (m: typeof before) =>
      m.neurons.map((n) => ({
        uid: n.uid,
        hotkey: n.hotkey,
        coldkey: n.coldkey,
        axon: n.axon,
        validatorPermit: n.validatorPermit,
        registeredAt: n.registeredAt,
      }));
    expect(durable(after)).toEqual(durable(before));
    expect(after.neurons[miner.uid].incentive).toBeGreaterThan(0.99);
    expect(after.neurons[validator.uid].stake).toBeGreaterThanOrEqual(before.neurons[validator.uid].stake);
    expect(after.weights?.[validator.uid]).toEqual(before.weights?.[validator.uid]);
    await client.close();
    expect(await stop(again.child)).toBe(0);
  });

  it("refuses corrupt state with a clear error and starts over only with --reset", async () => {
    const bad = join(dir, "bad");
    mkdirSync(bad);
    writeFileSync(join(bad, "chain.db"), "garbage".repeat(1000));
    const failed = await run(process.execPath, [CLI, "chain", "serve", "--data-dir", bad, "--port", "0"], {
      cwd: ROOT,
    }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain("CHAIN_STATE_CORRUPT");
    expect(failed?.stderr).toContain("--reset");
    const reset = await serve(["--data-dir", bad, "--port", "0", "--block-time", "0", "--reset"]);
    expect(reset.info.created).toBe(true);
    await stop(reset.child);
  });
});
