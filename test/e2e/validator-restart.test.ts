// A validator killed (SIGKILL) in the middle of an epoch restarts with nothing lost or duplicated: the proofs it
// finished before the kill are kept and not run again, the interrupted epoch is scored once, every epoch has one
// weight set, and weights land on chain. The validator runs as `cmesh validator` in a child process against the
// local chain served over its RPC; miners are real axons on 127.0.0.1.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { serveLocalChain } from "@computemesh/chain";
import { type Commitment, SimulatedGpuBackend, type WorkloadSpec } from "@computemesh/pog";
import { Wallet } from "@computemesh/protocol";
import { ValidatorStore } from "@computemesh/validator";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { POSTGRES_URL, storeBackends } from "../../packages/validator/src/store/test-backends.ts";
import { startTestMiner, TAO, type TestMiner, testNet } from "./validator-harness.ts";

const ROOT = join(import.meta.dirname, "..", "..");

/** The simulated GPU, but every challenge takes `ms` longer: keeps an epoch open long enough to kill it. */
class SlowBackend extends SimulatedGpuBackend {
  constructor(private readonly ms: number) {
    super();
  }
  override async commitGemm(spec: WorkloadSpec): Promise<Commitment> {
    await new Promise((r) => setTimeout(r, this.ms));
    return super.commitGemm(spec);
  }
}

interface Child {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  waitFor(
    pred: (l: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function startValidator(args: string[]): Child {
  const proc = spawn(process.execPath, [join(ROOT, "bin", "cmesh.js"), "validator", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CMESH_WALLET_PASSWORD: "" },
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    pred: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let buf = "";
  let stderr = "";
  proc.stdout?.on("data", (chunk: Buffer) => {
    buf += chunk.toString();
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.pred(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      } catch {
        // not a log line
      }
    }
  });
  proc.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return {
    proc,
    lines,
    exited,
    waitFor: (pred, what, timeoutMs = 60_000) => {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}; stderr: ${stderr.slice(-2000)}`)),
          timeoutMs,
        );
        exited.then((code) =>
          reject(new Error(`validator exited (${code}) before ${what}; stderr: ${stderr.slice(-2000)}`)),
        );
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

const backends = await storeBackends();
afterAll(async () => {
  for (const b of backends) await b.cleanup();
});

describe.each(backends.map((b) => b.name))("validator restart on %s", (storeName) => {
  it("killed mid-epoch, restarts with nothing lost or duplicated", async () => {
    const net = await testNet({ weightsRateLimit: 1 });
    const miners: TestMiner[] = [];
    const rpc = await serveLocalChain(net.chain, { port: 0 });
    const children: Child[] = [];
    let cleanupSchema: string | null = null;
    try {
      const walletPath = join(net.dir, "wallets");
      const wallet = new Wallet({ name: "validator", hotkey: "default", path: walletPath });
      await wallet.createColdkey({ password: null });
      const { address } = await wallet.createHotkey({ password: null });
      const cold = await wallet.loadColdkey();
      await net.chain.faucet(cold.address, 2000n * TAO);
      const client = net.chain.client();
      await client.burnedRegister(net.netuid, address, cold);
      await client.addStake(net.netuid, address, 1000n * TAO, cold);
      const fast1 = await startTestMiner(net, "R-fast-1", { model: "NVIDIA H200", count: 8 });
      const fast2 = await startTestMiner(net, "R-fast-2", { model: "NVIDIA H100 80GB HBM3", count: 2 });
      const slow = await startTestMiner(net, "R-slow", {
        model: "NVIDIA H200",
        count: 1,
        backend: new SlowBackend(8000),
      });
      miners.push(fast1, fast2, slow);
      await net.chain.advanceBlocks(11);

      const pgSchema = `cmesh_restart_${process.pid}_${Date.now()}`;
      const db = storeName === "postgres" ? POSTGRES_URL : join(net.dir, "validator.db");
      const openStore = () => ValidatorStore.open(db, storeName === "postgres" ? { pgSchema } : {});
      if (storeName === "postgres") cleanupSchema = pgSchema;
      const args = [
        "--wallet.path",
        walletPath,
        "--wallet.name",
        "validator",
        "--wallet.hotkey",
        "default",
        "--chain",
        rpc.url,
        "--netuid",
        String(net.netuid),
        "--db",
        db,
        "--epoch-blocks",
        "1000",
        "--pog.simulate",
        "--pog.initial-delay",
        "0",
        "--pog.mean-interval",
        "3600",
        "--metrics.port",
        "0",
        "--no-jobs",
        "--log-level",
        "info",
      ];
      if (storeName === "postgres") args.push("--db.schema", pgSchema);
      const first = startValidator(args);
      children.push(first);
      const started = await first.waitFor((l) => l.msg === "epoch started", "the first epoch to start");
      const epoch = started.epoch as number;
      // Both fast proofs are stored; the slow one is still running: kill now.
      await first.waitFor(
        (l) => l.msg === "proof-of-GPU round done" && l.miner === fast1.hotkey.address,
        "fast1's proof",
      );
      await first.waitFor(
        (l) => l.msg === "proof-of-GPU round done" && l.miner === fast2.hotkey.address,
        "fast2's proof",
      );
      expect(first.lines.some((l) => l.msg === "epoch done")).toBe(false);
      first.proc.kill("SIGKILL");
      await first.exited;

      const mid = await openStore();
      expect(await mid.weightSet(epoch)).toBeUndefined();
      expect((await mid.pogResults(fast1.hotkey.address)).length).toBe(1);
      expect((await mid.pogResults(slow.hotkey.address)).length).toBe(0);
      await mid.close();

      const second = startValidator(args);
      children.push(second);
      const done = await second.waitFor((l) => l.msg === "epoch done", "the restarted epoch", 90_000);
      expect(done.epoch).toBe(epoch);
      // The proofs finished before the kill were kept: only the slow miner was proven again.
      expect(second.lines.filter((l) => l.msg === "proof-of-GPU round done").map((l) => l.miner)).toEqual([
        slow.hotkey.address,
      ]);
      await second.waitFor((l) => l.msg === "weights set", "weights on chain");
      second.proc.kill("SIGTERM");
      expect(await second.exited).toBe(0);

      const store = await openStore();
      try {
        for (const m of miners) expect((await store.pogResults(m.hotkey.address)).length).toBe(1);
        const sets = await store.weightSets();
        expect(sets.map((s) => [s.epoch, s.status])).toEqual([[epoch, "ok"]]);
        const scores = await store.scoresForEpoch(epoch);
        const byHotkey = new Map(scores.map((s) => [s.hotkey, s.score]));
        expect((await store.pogResults(fast2.hotkey.address))[0]).toMatchObject({ passed: 1, reason: null });
        expect(byHotkey.get(fast1.hotkey.address)).toBe(50);
        expect(byHotkey.get(fast2.hotkey.address)).toBeCloseTo((3.3 * 2 * 50) / 32, 10);
        expect((await store.pogResults(slow.hotkey.address))[0]).toMatchObject({ passed: 1, reason: null });
        expect(byHotkey.get(slow.hotkey.address)).toBe(6.25);
        expect(new Set(scores.map((s) => s.uid)).size).toBe(scores.length);
      } finally {
        await store.close();
      }
      const mg = net.chain.metagraph(net.netuid, true);
      const me = mg.neurons.find((n) => n.hotkey === address);
      expect(me && mg.weights?.[me.uid]?.some((w) => w > 0)).toBe(true);

      // `cmesh validator status` reads the same store.
      const statusArgs = ["validator", "status", "--db", db, "--json"];
      if (storeName === "postgres") statusArgs.push("--db.schema", pgSchema);
      const out = spawnSync(process.execPath, [join(ROOT, "bin", "cmesh.js"), ...statusArgs], {
        cwd: ROOT,
        encoding: "utf8",
      });
      expect(out.status).toBe(0);
      const rows = JSON.parse(out.stdout) as {
        hotkey: string;
        provenGpu: string | null;
        score: number;
        epoch: number;
      }[];
      expect(rows.find((r) => r.hotkey === fast1.hotkey.address)).toMatchObject({
        provenGpu: "NVIDIA H200",
        score: 50,
        epoch,
      });
      const tableArgs = statusArgs.filter((a) => a !== "--json");
      const table = spawnSync(process.execPath, [join(ROOT, "bin", "cmesh.js"), ...tableArgs], {
        cwd: ROOT,
        encoding: "utf8",
      });
      expect(table.stdout).toContain("NVIDIA H200");
      expect(table.stdout).toMatch(/miners; scores of epoch \d+/);
    } finally {
      for (const c of children) if (c.proc.exitCode === null) c.proc.kill("SIGKILL");
      await Promise.all(children.map((c) => c.exited));
      for (const m of miners) await m.stop();
      await rpc.close();
      await net.cleanup();
      if (cleanupSchema) {
        const c = new pg.Client({ connectionString: POSTGRES_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${cleanupSchema}" CASCADE`);
        await c.end();
      }
    }
  }, 180_000);
});
