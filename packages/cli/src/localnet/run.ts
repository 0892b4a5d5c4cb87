// `cmesh localnet`: the whole subnet on 127.0.0.1 — chain, wallets, subnet, registrations, miners, validators,
// the renter API and web UI — each part a child process with its own log, stopped together on Ctrl-C.
import { existsSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createAccount, findAccountByKey, migrateApiDb, openApiDb } from "@computemesh/api";
import { connectLocalChain, type LocalChainClient } from "@computemesh/chain";
import { CmeshError } from "@computemesh/core";
import { PROTOCOL_VERSION } from "@computemesh/protocol";
import { Listr } from "listr2";
import { type ManagedChild, Supervisor, tailOf } from "./children.ts";
import { checkDocker, type DockerVerdict } from "./docker-check.ts";
import { type LocalnetLayout, localnetLayout, nodeName, OWNER_WALLET } from "./layout.ts";
import { type LocalnetOptions, type PortPlan, portPlan } from "./options.ts";
import { assertPortsFree, httpStatus, sleep, tcpOpen, waitFor } from "./probes.ts";
import { chainSpec, type MinerGpu, minerGpus, minerSpec, validatorDbPath, validatorSpec } from "./roles.ts";
import { ensureSubnet, localSubnetParams, registerAndStake } from "./setup.ts";
import {
  type NetworkState,
  type NodeEntry,
  processAlive,
  readNetworkState,
  readRunState,
  removeRunState,
  type RunState,
  writeNetworkState,
  writeRunState,
} from "./state.ts";
import { ensureLocalWallet, type LocalWallet } from "./wallets.ts";

/** Entries a localnet directory may hold; --reset refuses to delete a directory with anything else in it. */
const OWN_ENTRIES = new Set(["network.json", "run.json", "wallets", "logs", "chain", "nodes"]);
export const RENTER_CREDITS = 1000;
/** A miner or validator that exits on its own is restarted after this delay, at most MAX_RESTARTS a minute. */
const RESTART_DELAY_MS = 2000;
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

interface Ctx {
  layout: LocalnetLayout;
  ports: PortPlan;
  supervisor: Supervisor;
  chainChild?: ManagedChild;
  chainUrl: string;
  client?: LocalChainClient;
  state?: NetworkState;
  owner?: LocalWallet;
  validators: LocalWallet[];
  miners: LocalWallet[];
  netuid?: number;
  uids: Map<string, number>;
  docker?: DockerVerdict;
  gpus: MinerGpu[];
  apiKey?: string;
  apiUrl?: string;
}

async function refuseIfRunning(layout: LocalnetLayout): Promise<void> {
  const run = await readRunState(layout.runFile).catch(() => undefined);
  if (run && run.pid !== process.pid && processAlive(run.pid)) {
    throw new CmeshError(
      "LOCALNET_RUNNING",
      `a local network already runs from ${layout.root} (pid ${run.pid})`,
      {
        hint: "stop it with Ctrl-C in its terminal (or `kill <pid>`), or use another --dir",
      },
    );
  }
}

async function resetDir(layout: LocalnetLayout): Promise<void> {
  if (!existsSync(layout.root)) return;
  const foreign = (await readdir(layout.root)).filter((e) => !OWN_ENTRIES.has(e));
  if (foreign.length > 0) {
    throw new CmeshError(
      "LOCALNET_RESET_REFUSED",
      `${layout.root} holds files a local network did not create`,
      {
        hint: `--reset deletes the directory; it holds ${foreign.slice(0, 5).join(", ")}. Pick another --dir`,
      },
    );
  }
  await rm(layout.root, { recursive: true, force: true });
}

async function waitForChain(ctx: Ctx): Promise<LocalChainClient> {
  const child = ctx.chainChild;
  return waitFor(
    "the chain to answer",
    async () => {
      const client = await connectLocalChain(ctx.chainUrl, {
        connectTimeoutMs: 1000,
        requestTimeoutMs: 5000,
      });
      try {
        await client.getBlock();
        return client;
      } catch (err) {
        await client.close();
        throw err;
      }
    },
    { child, timeoutMs: 60_000, intervalMs: 150 },
  );
}

function apiDbPath(layout: LocalnetLayout): string {
  return validatorDbPath(layout, nodeName("validator", 0));
}

/**
 * The renter account of the local network: created once, its key kept in network.json for every restart (and
 * created again if the API's database lost it, e.g. a node directory deleted by hand).
 */
async function ensureRenter(ctx: Ctx): Promise<string> {
  await mkdir(ctx.layout.nodeDir(nodeName("validator", 0)), { recursive: true });
  const { db } = openApiDb(apiDbPath(ctx.layout));
  try {
    await migrateApiDb(db);
    const known = ctx.state?.renter?.apiKey;
    if (known && (await findAccountByKey(db, known))) return known;
    const { apiKey } = await createAccount(db, {
      name: "local-renter",
      initialCredits: RENTER_CREDITS,
      keyLabel: "localnet",
    });
    return apiKey;
  } finally {
    await db.destroy();
  }
}

/** Announces a validator's HTTP endpoint as its axon on chain (signed by its hotkey), unless already there. */
async function announceValidator(c: Ctx, w: LocalWallet, port: number): Promise<void> {
  const mg = await c.client!.getMetagraph(c.netuid!);
  const axon = mg.neurons.find((n) => n.hotkey === w.hotkey.address)?.axon;
  if (axon?.ip === "127.0.0.1" && axon.port === port) return;
  await c.client!.serveAxon(
    c.netuid!,
    { ip: "127.0.0.1", port, version: PROTOCOL_VERSION, protocol: 4 },
    w.hotkey,
  );
}

async function nodeEntries(ctx: Ctx, wallets: LocalWallet[]): Promise<NodeEntry[]> {
  const mg = await ctx.client!.getMetagraph(ctx.netuid!);
  return wallets.map((w) => {
    const n = mg.neurons.find((x) => x.hotkey === w.hotkey.address);
    return {
      name: w.name,
      hotkey: w.hotkey.address,
      uid: n?.uid ?? -1,
      walletPath: w.hotkeyFile,
      axon: n?.axon ? `${n.axon.ip}:${n.axon.port}` : null,
    };
  });
}

/** Whether the URL answers with an HTML page (the web UI), not an API error. */
async function servesHtml(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { headers: { accept: "text/html" }, signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.ok && (res.headers.get("content-type") ?? "").includes("text/html");
  } catch {
    return false;
  }
}

function describeGpus(gpus: MinerGpu[]): string {
  return gpus
    .map((g, i) => `${nodeName("miner", i)}: ${g.name ? `${g.name} (SIMULATED)` : "CPU only"}`)
    .join(", ");
}

/** How long `npm start` waits for the validator's first proof-of-GPU round of every miner before printing anyway. */
const FIRST_PROOF_TIMEOUT_MS = 120_000;

interface ApiMachine {
  minerHotkey: string;
  lastProofAt: string | null;
  verified: boolean;
  gpuModel: string | null;
  simulated: boolean;
}

/** Polls the renter API until every miner has a conclusive proof-of-GPU round, or the timeout passes. */
async function waitForFirstProofs(
  ctx: Ctx,
  timeoutMs: number,
): Promise<{ proven: string[]; pending: string[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let machines: ApiMachine[] = [];
    try {
      const res = await fetch(`${ctx.apiUrl}/v1/machines?q=verified%3Dany`, {
        headers: { authorization: `Bearer ${ctx.apiKey}` },
        signal: AbortSignal.timeout(5000),
      });
      if (res.ok) machines = ((await res.json()) as { machines: ApiMachine[] }).machines;
    } catch {
      // the API is up (checked before); a slow answer is retried
    }
    const proven: string[] = [];
    const pending: string[] = [];
    for (const w of ctx.miners) {
      const m = machines.find((x) => x.minerHotkey === w.hotkey.address);
      if (m?.lastProofAt) {
        proven.push(`${w.name} ${m.verified ? `${m.gpuModel}${m.simulated ? " SIMULATED" : ""}` : "FAILED"}`);
      } else pending.push(w.name);
    }
    if (pending.length === 0 || Date.now() > deadline) return { proven, pending };
    await sleep(500);
  }
}

export interface RunningLocalnet {
  run: RunState;
  /** milliseconds since this process started */
  elapsedMs: number;
  /** resolves when the network has stopped (after a signal or a chain crash); the value is the exit code */
  done: Promise<number>;
}

/** Brings the local network up and returns once every part answers. */
export async function startLocalnet(opts: LocalnetOptions): Promise<RunningLocalnet> {
  const layout = localnetLayout(opts.dir);
  const gpus = minerGpus(opts.gpus, opts.miners); // a bad --gpus fails before anything is created
  await refuseIfRunning(layout);
  if (opts.reset) await resetDir(layout);
  for (const d of [layout.root, layout.logs, layout.chainDir, join(layout.root, "nodes")]) {
    await mkdir(d, { recursive: true });
  }
  const ports = portPlan(opts.basePort);
  await assertPortsFree(ports.all(opts.validators, opts.miners));

  const supervisor = new Supervisor();
  const ctx: Ctx = {
    layout,
    ports,
    supervisor,
    chainUrl: `ws://127.0.0.1:${ports.chain}`,
    validators: [],
    miners: [],
    uids: new Map(),
    gpus,
  };
  ctx.state = await readNetworkState(layout.networkFile);

  const isTty = process.stdout.isTTY === true;
  const tasks = new Listr<Ctx>(
    [
      {
        title: `Local chain on ${ctx.chainUrl} (block time ${opts.blockTimeMs} ms)`,
        task: async (c, task) => {
          c.chainChild = supervisor.start(chainSpec(layout, ports, opts.blockTimeMs));
          c.client = await waitForChain(c);
          task.title = `Local chain on ${c.chainUrl} (block ${await c.client.getBlock()}, log ${layout.logFile("chain")})`;
        },
      },
      {
        title: "Wallets (unencrypted, LOCAL ONLY) and Docker",
        task: async (c, task) => {
          const [owner, validators, miners, docker] = await Promise.all([
            ensureLocalWallet(layout, OWNER_WALLET),
            Promise.all(
              Array.from({ length: opts.validators }, (_, i) =>
                ensureLocalWallet(layout, nodeName("validator", i)),
              ),
            ),
            Promise.all(
              Array.from({ length: opts.miners }, (_, i) => ensureLocalWallet(layout, nodeName("miner", i))),
            ),
            checkDocker(),
          ]);
          c.owner = owner;
          c.validators = validators;
          c.miners = miners;
          c.docker = docker;
          const created = [owner, ...validators, ...miners].filter((w) => w.created).length;
          task.title = `Wallets in ${layout.wallets} (${created} created, ${1 + validators.length + miners.length - created} reused; unencrypted, LOCAL ONLY)`;
        },
      },
      {
        title: "Subnet",
        task: async (c, task) => {
          const { netuid, created } = await ensureSubnet(
            c.client!,
            c.owner!,
            c.state?.netuid,
            localSubnetParams(opts.tempo, opts.validators),
          );
          c.netuid = netuid;
          if (created || !c.state || c.state.netuid !== netuid) {
            c.state = {
              version: 1,
              createdAt: new Date().toISOString(),
              netuid,
              tempo: opts.tempo,
              renter: c.state?.renter,
            };
            await writeNetworkState(layout.networkFile, c.state);
          }
          const tempo = (await c.client!.getHyperparams(netuid)).tempo;
          task.title = `Subnet ${netuid} (${created ? "created" : "reused"}; tempo ${tempo} blocks)`;
        },
      },
      {
        title: "Fund coldkeys (dev faucet), register and stake every hotkey",
        task: async (c, task) => {
          const nodes = [
            ...c.validators.map((wallet) => ({ wallet, role: "validator" as const })),
            ...c.miners.map((wallet) => ({ wallet, role: "miner" as const })),
          ];
          const registered = await registerAndStake(c.client!, c.netuid!, nodes);
          for (const r of registered) c.uids.set(r.name, r.uid);
          task.title = `Registered ${registered.map((r) => `${r.name}=uid ${r.uid}`).join(", ")}; validators staked`;
        },
      },
      {
        title: "Renter account",
        task: async (c, task) => {
          c.apiKey = await ensureRenter(c);
          if (c.state!.renter?.apiKey !== c.apiKey) {
            c.state!.renter = { accountName: "local-renter", apiKey: c.apiKey };
            await writeNetworkState(layout.networkFile, c.state!);
          }
          task.title = `Renter account local-renter (API key in ${layout.networkFile})`;
        },
      },
      {
        title: "Miners and validators",
        rendererOptions: { persistentOutput: true },
        task: async (c, task) => {
          if (!c.docker!.rentable) {
            // without Docker the miners run with --no-docker: proven and scored, renting nothing
            task.output = `Docker: ${c.docker!.reason}; miners are proven and scored but cannot be rented`;
          }
          const miners = c.miners;
          const started: { child: ManagedChild; ready: () => Promise<boolean | undefined>; what: string }[] =
            [];
          for (const [i, w] of miners.entries()) {
            await mkdir(layout.nodeDir(w.name), { recursive: true });
            const spec = minerSpec(layout, ports, {
              index: i,
              name: w.name,
              chain: c.chainUrl,
              netuid: c.netuid!,
              gpu: c.gpus[i],
              docker: c.docker!.daemon,
            });
            const child = supervisor.start(spec);
            const port = ports.minerAxon(i);
            started.push({
              child,
              what: `${w.name}'s axon on 127.0.0.1:${port}`,
              ready: async () => {
                const mg = await c.client!.getMetagraph(c.netuid!);
                const n = mg.neurons.find((x) => x.hotkey === w.hotkey.address);
                return n?.axon?.port === port && (await tcpOpen(port)) ? true : undefined;
              },
            });
          }
          for (const [i, w] of c.validators.entries()) {
            await mkdir(layout.nodeDir(w.name), { recursive: true });
            const spec = validatorSpec(layout, ports, {
              index: i,
              name: w.name,
              chain: c.chainUrl,
              netuid: c.netuid!,
              pogIntervalSec: opts.pogIntervalSec,
              api: i === 0,
            });
            const child = supervisor.start(spec);
            const port = ports.validatorAxon(i);
            started.push({
              child,
              what: `${w.name} on 127.0.0.1:${port}`,
              ready: async () => {
                if ((await httpStatus(`http://127.0.0.1:${port}/healthz`)) !== 200) return undefined;
                // validators serve no axon of their own: their /status, /metrics, /healthz endpoint is announced
                await announceValidator(c, w, port);
                return true;
              },
            });
            if (i === 0) {
              c.apiUrl = `http://127.0.0.1:${ports.api}`;
              started.push({
                child,
                what: `the renter API on ${c.apiUrl}`,
                ready: async () =>
                  (await httpStatus(`${c.apiUrl}/v1/machines?q=verified%3Dany`)) !== undefined
                    ? true
                    : undefined,
              });
            }
          }
          // a first start builds the web UI (vite), which takes a while on a small machine
          await Promise.all(
            started.map((s) =>
              waitFor(s.what, s.ready, { child: s.child, timeoutMs: 180_000, intervalMs: 250 }),
            ),
          );
          task.title = `${miners.length} miners and ${c.validators.length} validators answer (logs in ${layout.logs})`;
        },
      },
      {
        title: "First proof-of-GPU round of every miner",
        // the printed commands (rent gpu=CPU) only work once the validator has proven the machines
        skip: (c) => (c.apiUrl && c.apiKey ? false : "no renter API"),
        task: async (c, task) => {
          const first = await waitForFirstProofs(c, FIRST_PROOF_TIMEOUT_MS);
          task.title = first.pending.length
            ? `Proof-of-GPU: ${first.proven.length} of ${c.miners.length} miners proven so far; still waiting for ${first.pending.join(", ")} (see ${layout.logFile(nodeName("validator", 0))})`
            : `Proof-of-GPU: every miner has had its first round (${first.proven.join(", ")})`;
        },
      },
    ],
    {
      renderer: "default",
      fallbackRenderer: "simple",
      // plain lines when the output is not a terminal (CI, logs, pipes)
      fallbackRendererCondition: !isTty,
      rendererOptions: { collapseSubtasks: false },
      exitOnError: true,
      ctx,
    },
  );

  // Ctrl-C while starting: stop what has started and leave
  const abort = () => {
    process.stderr.write("\ninterrupted; stopping what has started…\n");
    void supervisor.stopAll(3000).finally(() => process.exit(130));
  };
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  try {
    await tasks.run();
  } catch (err) {
    await supervisor.stopAll(5000);
    await ctx.client?.close().catch(() => {});
    throw err;
  } finally {
    process.off("SIGINT", abort);
    process.off("SIGTERM", abort);
  }

  const run: RunState = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    netuid: ctx.netuid!,
    chain: ctx.chainUrl,
    api: ctx.apiUrl ?? null,
    web: ctx.apiUrl ? `${ctx.apiUrl}/` : null,
    webServed: ctx.apiUrl ? await servesHtml(`${ctx.apiUrl}/`) : false,
    apiKey: ctx.apiKey ?? null,
    docker: ctx.docker!,
    gpuMode: describeGpus(ctx.gpus),
    validators: await nodeEntries(ctx, ctx.validators),
    miners: await nodeEntries(ctx, ctx.miners),
    children: supervisor.list().map((c) => ({ name: c.name, pid: c.pid, log: c.logFile })),
  };
  await writeRunState(layout.runFile, run);
  // from the start of this process (loading the CLI included), as the user waits
  const elapsedMs = Math.round(process.uptime() * 1000);

  const done = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (code: number) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write("\nstopping the local network…\n");
      await ctx.client?.close().catch(() => {});
      await supervisor.stopAll();
      await removeRunState(layout.runFile);
      process.stderr.write("stopped; state kept in ");
      process.stderr.write(
        `${layout.root} (start again with \`npm start\`, fresh with \`npm start -- --reset\`)\n`,
      );
      resolve(code);
    };
    process.once("SIGINT", () => void stop(0));
    process.once("SIGTERM", () => void stop(0));
    const restarts = new Map<string, number[]>();
    supervisor.onUnexpectedExit((child, code, signal) => {
      process.stderr.write(
        `\n${child.name} exited (${signal ?? `code ${code}`}); last lines of ${child.logFile}:\n${tailOf(child.logFile)}\n`,
      );
      if (child.name === "chain") {
        void stop(1);
        return;
      }
      // a miner or validator that dies is started again (it recovers from its own store), unless it keeps dying
      const now = Date.now();
      const recent = (restarts.get(child.name) ?? []).filter((t) => now - t < RESTART_WINDOW_MS);
      if (recent.length >= MAX_RESTARTS) {
        process.stderr.write(
          `${child.name} exited ${MAX_RESTARTS + 1} times within a minute; not restarting it (see ${child.logFile})\n`,
        );
        return;
      }
      restarts.set(child.name, [...recent, now]);
      setTimeout(() => {
        if (stopping) return;
        const again = supervisor.restart(child);
        if (!again) return;
        process.stderr.write(`${child.name} restarted (pid ${again.pid})\n`);
        run.children = supervisor.list().map((c) => ({ name: c.name, pid: c.pid, log: c.logFile }));
        void writeRunState(layout.runFile, run).catch(() => {});
      }, RESTART_DELAY_MS);
    });
  });
  return { run, elapsedMs, done };
}
