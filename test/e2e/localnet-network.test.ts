// End to end: `cmesh localnet` as a user runs it (its own process, real child processes, real Docker): every UID
// registered and serving, validators set weights and the SIMULATED-GPU miners earn incentive, the renter API and
// web UI answer, a second start reuses the state, SIGINT leaves no process behind, a killed parent takes its
// children with it, and the bad paths say what is wrong.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { connectLocalChain, type LocalChainClient } from "@computemesh/chain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tailOf } from "../../packages/cli/src/localnet/children.ts";
import { tcpOpen } from "../../packages/cli/src/localnet/probes.ts";
import {
  freeBasePort,
  localnetStatusJson,
  startTestLocalnet,
  type TestLocalnet,
} from "../../packages/cli/src/localnet/testing.ts";
import { requireDockerOrSkip } from "../../packages/miner/src/testing/docker-gate.ts";

const dockerOk = await requireDockerOrSkip("e2e localnet");
const ROOT = join(import.meta.dirname, "..", "..");
const CMESH = join(ROOT, "bin", "cmesh.js");
const run = promisify(execFile);

interface StatusJson {
  chain: string;
  api: string;
  web: string;
  apiKey: string;
  validators: { hotkey: string; uid: number; walletPath: string; axon: string | null }[];
  miners: { hotkey: string; uid: number; walletPath: string; axon: string | null }[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process is left in the process group `pgid` (each localnet child leads its own group). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function status(dir: string): Promise<StatusJson> {
  return (await localnetStatusJson(dir)) as StatusJson;
}

function runState(dir: string): { pid: number; netuid: number; children: { name: string; pid: number }[] } {
  return JSON.parse(readFileSync(join(dir, "run.json"), "utf8"));
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.skipIf(!dockerOk)("cmesh localnet (npm start)", () => {
  const dir = mkdtempSync(join(tmpdir(), "cmesh-localnet-e2e-"));
  const stateDir = join(dir, ".cmesh");
  let base: number;
  let net: TestLocalnet | undefined;
  let client: LocalChainClient | undefined;
  let first: StatusJson;
  const start = () =>
    startTestLocalnet({ dir: stateDir, basePort: base, extraArgs: args, timeoutMs: 280_000 });
  const args = ["--block-time", "250", "--tempo", "10", "--pog-interval", "30"];

  beforeAll(async () => {
    base = await freeBasePort();
    net = await start();
    first = await status(stateDir);
    client = await connectLocalChain(first.chain);
  }, 300_000);

  afterAll(async () => {
    await client?.close();
    await net?.stop();
  }, 60_000);

  it("status --json lists every UID registered, with its hotkey file and a serving axon", async () => {
    expect(Object.keys(first).sort()).toEqual(["api", "apiKey", "chain", "miners", "validators", "web"]);
    expect(first.chain).toBe(`ws://127.0.0.1:${base}`);
    expect(first.api).toBe(`http://127.0.0.1:${base + 1}`);
    expect(first.web).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(first.apiKey).toMatch(/^cmk_/);
    expect(first.validators).toHaveLength(2);
    expect(first.miners).toHaveLength(3);
    const nodes = [...first.validators, ...first.miners];
    const uids = nodes.map((n) => n.uid);
    expect(new Set(uids).size).toBe(5);
    const mg = await client!.getMetagraph(runState(stateDir).netuid);
    for (const n of nodes) {
      expect(Object.keys(n).sort()).toEqual(["axon", "hotkey", "uid", "walletPath"]);
      expect(mg.neurons.find((x) => x.uid === n.uid)?.hotkey).toBe(n.hotkey);
      expect(existsSync(n.walletPath)).toBe(true);
      expect(JSON.parse(readFileSync(n.walletPath, "utf8")).ss58Address).toBe(n.hotkey);
      expect(n.axon).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(await tcpOpen(Number(n.axon!.split(":")[1]))).toBe(true);
    }
    // validators hold stake; the wallets are marked local-only
    for (const v of first.validators) {
      expect(mg.neurons.find((x) => x.uid === v.uid)!.stake).toBeGreaterThanOrEqual(10_000n * 1_000_000_000n);
    }
    expect(readFileSync(join(stateDir, "wallets", "LOCAL-ONLY-UNENCRYPTED-KEYS.txt"), "utf8")).toContain(
      "NOT ENCRYPTED",
    );
  });

  it("validators set weights on chain and the SIMULATED-GPU miners earn incentive; the CPU miner earns none", async () => {
    const netuid = runState(stateDir).netuid;
    const [cpu, gpuA, gpuB] = first.miners;
    const mg = await until(
      "incentive for both simulated-GPU miners",
      async () => {
        const m = await client!.getMetagraph(netuid, { weights: true });
        const inc = (uid: number) => m.neurons.find((n) => n.uid === uid)!.incentive;
        return inc(gpuA.uid) > 0 && inc(gpuB.uid) > 0 ? m : undefined;
      },
      200_000,
    );
    for (const v of first.validators) {
      const row = mg.weights![v.uid];
      expect(row[gpuA.uid] + row[gpuB.uid]).toBeGreaterThan(0);
      expect(row[cpu.uid]).toBe(0);
    }
    expect(mg.neurons.find((n) => n.uid === cpu.uid)!.incentive).toBe(0);
    const validatorDividends = first.validators.map(
      (v) => mg.neurons.find((n) => n.uid === v.uid)!.dividends,
    );
    expect(validatorDividends.some((d) => d > 0)).toBe(true);
  }, 220_000);

  it("the renter API answers with the machines and takes the printed key; the web URL serves the UI", async () => {
    const res = await fetch(`${first.api}/v1/machines?q=verified%3Dany`, {
      headers: { authorization: `Bearer ${first.apiKey}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { machines: { minerHotkey: string }[] };
    expect(body.machines.map((m) => m.minerHotkey).sort()).toEqual(first.miners.map((m) => m.hotkey).sort());
    const bad = await fetch(`${first.api}/v1/account`, { headers: { authorization: "Bearer cmk_wrong" } });
    expect(bad.status).toBe(401);
    const web = await fetch(first.web, { headers: { accept: "text/html" } });
    expect(web.status).toBe(200);
    expect(web.headers.get("content-type")).toContain("text/html");
  });

  it("the printed commands work: rent the CPU machine, log in with OpenSSH, release", async () => {
    const keyFile = join(dir, "renter_key");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "renter@localnet-e2e", "-f", keyFile]);
    const auth = { authorization: `Bearer ${first.apiKey}`, "content-type": "application/json" };
    // `npm start` waits for the first proofs; a round that failed under a loaded machine is retried within
    // --pog-interval, and the validator's log says why
    await until(
      "the CPU machine proven",
      async () => {
        const r = await fetch(`${first.api}/v1/machines?q=gpu%3DCPU`, { headers: auth });
        const { machines } = (await r.json()) as { machines: { minerHotkey: string }[] };
        return machines.some((m) => m.minerHotkey === first.miners[0].hotkey) ? true : undefined;
      },
      120_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; validator log:\n${tailOf(join(stateDir, "logs", "validator-1.log"), 40)}`);
    });
    const res = await fetch(`${first.api}/v1/rentals`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        query: "gpu=CPU",
        sshPublicKey: readFileSync(`${keyFile}.pub`, "utf8").trim(),
        durationSec: 600,
      }),
    });
    const rental = (await res.json()) as {
      id: string;
      minerHotkey: string;
      sshCommand: string;
      ssh: { port: number };
    };
    expect(res.status, JSON.stringify(rental)).toBe(201);
    expect(rental.minerHotkey).toBe(first.miners[0].hotkey); // the CPU machine: simulated GPUs are not rentable here
    expect(rental.sshCommand).toMatch(/^ssh -p \d+ \w+@127\.0\.0\.1$/);
    const [, ...sshArgs] = rental.sshCommand.split(" ");
    const { stdout } = await run("ssh", [
      "-i",
      keyFile,
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      ...sshArgs,
      "echo logged-in",
    ]);
    expect(stdout.trim()).toBe("logged-in");
    const released = await fetch(`${first.api}/v1/rentals/${rental.id}/release`, {
      method: "POST",
      headers: auth,
      body: "{}",
    });
    expect(released.status).toBe(200);
    expect(((await released.json()) as { state: string }).state).toBe("released");
    expect(await tcpOpen(rental.ssh.port)).toBe(false);
  }, 200_000);

  it("refuses a second network on the same directory, and ports already taken", async () => {
    const same = await run(
      process.execPath,
      [CMESH, "localnet", "--dir", stateDir, "--base-port", String(base + 500)],
      {
        cwd: ROOT,
      },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((same as { code: number }).code).not.toBe(0);
    expect((same as { stderr: string }).stderr).toContain("LOCALNET_RUNNING");
    const other = await run(
      process.execPath,
      [CMESH, "localnet", "--dir", join(dir, "other"), "--base-port", String(base)],
      { cwd: ROOT },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((other as { code: number }).code).not.toBe(0);
    expect((other as { stderr: string }).stderr).toContain("PORT_IN_USE");
    expect(existsSync(join(dir, "other", "wallets"))).toBe(false);
  }, 120_000);

  it("a miner that dies is started again and serves its axon again", async () => {
    const old = runState(stateDir).children.find((c) => c.name === "miner-2")!;
    process.kill(old.pid, "SIGKILL");
    const fresh = await until(
      "miner-2 to be restarted",
      async () => {
        const c = runState(stateDir).children.find((x) => x.name === "miner-2");
        return c && c.pid !== old.pid && alive(c.pid) ? c : undefined;
      },
      60_000,
    );
    expect(groupAlive(old.pid)).toBe(false);
    const port = Number(first.miners[1].axon!.split(":")[1]);
    await until(
      "miner-2's axon to answer again",
      async () => ((await tcpOpen(port)) ? true : undefined),
      120_000,
    );
    expect((await status(stateDir)).miners[1]).toEqual(first.miners[1]);
    expect(net!.output.join("")).toContain(`miner-2 restarted (pid ${fresh.pid})`);
  }, 200_000);

  it("SIGINT stops every child; a restart reuses wallets, registrations, chain and API key; a killed parent takes its children", async () => {
    const before = runState(stateDir);
    const blockBefore = await client!.getBlock();
    await client!.close();
    client = undefined;
    net!.child.kill("SIGINT");
    expect(await net!.exited).toBe(0);
    for (const c of before.children) {
      expect(alive(c.pid), `${c.name} still runs`).toBe(false);
      expect(groupAlive(c.pid), `something of ${c.name} still runs`).toBe(false);
    }
    expect(existsSync(join(stateDir, "run.json"))).toBe(false);
    const stopped = await run(process.execPath, [CMESH, "localnet", "status", "--json", "--dir", stateDir], {
      cwd: ROOT,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((stopped as { code: number }).code).not.toBe(0);
    expect((stopped as { stderr: string }).stderr).toContain("LOCALNET_NOT_RUNNING");

    net = await start();
    const again = await status(stateDir);
    expect(again.apiKey).toBe(first.apiKey);
    expect(again.validators.map((v) => [v.hotkey, v.uid])).toEqual(
      first.validators.map((v) => [v.hotkey, v.uid]),
    );
    expect(again.miners.map((m) => [m.hotkey, m.uid])).toEqual(first.miners.map((m) => [m.hotkey, m.uid]));
    expect(runState(stateDir).netuid).toBe(before.netuid);
    const c2 = await connectLocalChain(again.chain);
    try {
      expect(await c2.getBlock()).toBeGreaterThanOrEqual(blockBefore);
      const mg = await c2.getMetagraph(before.netuid);
      expect(mg.neurons).toHaveLength(6); // owner + 2 validators + 3 miners: nothing registered twice
    } finally {
      await c2.close();
    }

    // the parent dies without a chance to clean up: the preloaded guard stops every child
    const running = runState(stateDir);
    net.child.kill("SIGKILL");
    await net.exited;
    await until(
      "children to notice the parent is gone",
      async () => (running.children.every((c) => !groupAlive(c.pid)) ? true : undefined),
      30_000,
    );
    net = undefined;
  }, 400_000);
});
