// Readiness probes: the network is "up" when each part answers, not when its process exists.
import { createServer, Socket } from "node:net";
import { CmeshError } from "@computemesh/core";
import { type ManagedChild, tailOf } from "./children.ts";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Retries `probe` until it returns a value, the child exits (an error quoting its log), or `timeoutMs` passes.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { child?: ManagedChild; timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (opts.child && !opts.child.running) {
      throw new CmeshError("LOCALNET_CHILD_EXITED", `${opts.child.name} exited before ${what}`, {
        hint: `its log ${opts.child.logFile} ends with:\n${tailOf(opts.child.logFile)}`,
      });
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new CmeshError("LOCALNET_TIMEOUT", `timed out waiting for ${what}${why}`, {
        hint: opts.child ? `see ${opts.child.logFile}:\n${tailOf(opts.child.logFile)}` : undefined,
      });
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

/** Resolves true when something accepts TCP connections on 127.0.0.1:port. */
export function tcpOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/** Whether we can bind 127.0.0.1:port right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Throws PORT_IN_USE naming every busy port of the plan. */
export async function assertPortsFree(ports: { port: number; what: string }[]): Promise<void> {
  const busy: string[] = [];
  for (const p of ports) if (!(await portFree(p.port))) busy.push(`${p.port} (${p.what})`);
  if (busy.length > 0) {
    throw new CmeshError("PORT_IN_USE", `ports already in use on 127.0.0.1: ${busy.join(", ")}`, {
      hint: "stop what uses them, or pick other ports with --base-port N",
    });
  }
}

/** GET a URL; resolves the status code, or undefined when nothing answers. */
export async function httpStatus(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}
