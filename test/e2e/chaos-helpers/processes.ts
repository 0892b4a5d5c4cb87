// Test support for the chaos, hardening and secrets suites: `cmesh` subcommands as real child processes whose
// pino output is captured line by line (so tests can wait for a log line and grep everything the process said),
// a free 127.0.0.1 port, and a poll-until helper.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..", "..");

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  timeoutMs = 30_000,
  stepMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export interface CmeshProcess {
  child: ChildProcessWithoutNullStreams;
  /** Every stdout/stderr line so far (pino JSON and anything else). */
  logs: string[];
  exited: Promise<number | null>;
  /** kill -9, then wait for the exit. */
  kill9(): Promise<void>;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts `cmesh <args>` and resolves once a stdout line contains `readyMsg` (a pino `"msg":"…"`). Every line is
 * also appended to `allLogs` when given, so one array can hold the output of every process of a flow.
 */
export function spawnCmesh(
  args: string[],
  readyMsg: string,
  opts: { env?: Record<string, string>; allLogs?: string[]; readyTimeoutMs?: number } = {},
): Promise<CmeshProcess> {
  const child = spawn(process.execPath, [join(ROOT, "bin", "cmesh.js"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
  });
  const logs: string[] = [];
  const push = (line: string) => {
    logs.push(line);
    opts.allLogs?.push(line);
  };
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const proc: CmeshProcess = {
    child,
    logs,
    exited,
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(
      () => reject(new Error(`cmesh ${args[0]} not ready in time:\n${logs.join("\n")}`)),
      opts.readyTimeoutMs ?? 60_000,
    );
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      for (let i = out.indexOf("\n"); i >= 0; i = out.indexOf("\n")) {
        const line = out.slice(0, i);
        out = out.slice(i + 1);
        push(line);
        if (line.includes(`"msg":"${readyMsg}"`)) {
          clearTimeout(timer);
          resolve(proc);
        }
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      for (let i = err.indexOf("\n"); i >= 0; i = err.indexOf("\n")) {
        push(err.slice(0, i));
        err = err.slice(i + 1);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`cmesh ${args[0]} exited with ${code} before it was ready:\n${logs.join("\n")}`));
    });
  });
}
