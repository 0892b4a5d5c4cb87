// Test support: `cmesh localnet` as its own process on free ports in a temporary directory, for end-to-end suites
// (the localnet e2e, and any suite that wants the real network `npm start` runs, e.g. the web UI's).
import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CMESH_BIN } from "./children.ts";
import { portPlan } from "./options.ts";
import { portFree } from "./probes.ts";
import type { LocalnetStatus } from "./status.ts";

const execFileP = promisify(execFile);

export interface TestLocalnet {
  dir: string;
  basePort: number;
  child: ChildProcessWithoutNullStreams;
  /** everything the process printed so far */
  output: string[];
  exited: Promise<number | null>;
  status(): Promise<LocalnetStatus>;
  /** SIGINT and wait; resolves to the exit code */
  stop(): Promise<number | null>;
}

/** A base port whose whole plan is free right now (for `validators` and `miners` nodes). */
export async function freeBasePort(validators = 2, miners = 3): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ports = portPlan(base)
      .all(validators, miners)
      .map((p) => p.port);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error("no free base port found");
}

/** `cmesh localnet status --json --dir DIR`, parsed. */
export async function localnetStatusJson(dir: string): Promise<LocalnetStatus> {
  const { stdout } = await execFileP(process.execPath, [
    CMESH_BIN,
    "localnet",
    "status",
    "--json",
    "--dir",
    dir,
  ]);
  return JSON.parse(stdout) as LocalnetStatus;
}

/**
 * Starts `cmesh localnet --dir DIR --base-port PORT …extraArgs` and resolves once it printed that the network is
 * up (rejects with its output when it exits first or takes longer than `timeoutMs`).
 *
 * @example
 * const net = await startTestLocalnet({ extraArgs: ["--block-time", "250", "--tempo", "10"] });
 * const { api, apiKey } = await net.status();
 * await net.stop();
 */
export async function startTestLocalnet(
  opts: { dir?: string; basePort?: number; extraArgs?: string[]; timeoutMs?: number } = {},
): Promise<TestLocalnet> {
  const dir = opts.dir ?? join(mkdtempSync(join(tmpdir(), "cmesh-localnet-")), ".cmesh");
  const basePort = opts.basePort ?? (await freeBasePort());
  const child = spawn(
    process.execPath,
    [CMESH_BIN, "localnet", "--dir", dir, "--base-port", String(basePort), ...(opts.extraArgs ?? [])],
    { env: { ...process.env } },
  );
  const output: string[] = [];
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.stderr.on("data", (c: Buffer) => output.push(c.toString()));
  const net: TestLocalnet = {
    dir,
    basePort,
    child,
    output,
    exited,
    status: () => localnetStatusJson(dir),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      return exited;
    },
  };
  const timeoutMs = opts.timeoutMs ?? 150_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGINT");
      reject(new Error(`cmesh localnet was not up within ${timeoutMs} ms:\n${output.join("")}`));
    }, timeoutMs);
    child.stdout.on("data", (c: Buffer) => {
      output.push(c.toString());
      if (output.join("").includes("ComputeMesh local network is up")) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`cmesh localnet exited (${code}) before it was up:\n${output.join("")}`));
    });
  });
  return net;
}
