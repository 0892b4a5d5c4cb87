// Child processes of the local network: each runs `node bin/cmesh.js …` with its output in its own log file, in
// its own process group (so a stop reaches anything it started, and the terminal's Ctrl-C reaches only us), with
// a preloaded guard that stops it if we die.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CmeshError } from "@computemesh/core";

const HERE = dirname(fileURLToPath(import.meta.url));
export const CMESH_BIN = resolve(HERE, "../../../../bin/cmesh.js");
const GUARD = pathToFileURL(join(HERE, "parent-guard.mjs")).href;

export interface ChildSpec {
  name: string;
  /** arguments after `cmesh` */
  args: string[];
  logFile: string;
  env?: Record<string, string>;
}

export interface ManagedChild {
  name: string;
  spec: ChildSpec;
  pid: number;
  logFile: string;
  process: ChildProcess;
  /** resolves when the process has exited */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
}

/** The last lines of a log file, for error messages. */
export function tailOf(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export class Supervisor {
  private readonly children: ManagedChild[] = [];
  private stopping = false;
  private onCrash?: (child: ManagedChild, code: number | null, signal: NodeJS.Signals | null) => void;

  /** Called when a child exits while the network is not stopping. */
  onUnexpectedExit(
    cb: (child: ManagedChild, code: number | null, signal: NodeJS.Signals | null) => void,
  ): void {
    this.onCrash = cb;
  }

  list(): readonly ManagedChild[] {
    return this.children;
  }

  start(spec: ChildSpec): ManagedChild {
    const fd = openSync(spec.logFile, "a");
    let proc: ChildProcess;
    try {
      proc = spawn(process.execPath, ["--import", GUARD, CMESH_BIN, ...spec.args], {
        stdio: ["ignore", fd, fd],
        detached: true,
        env: {
          ...process.env,
          ...spec.env,
          CMESH_LOCALNET_PARENT_PID: String(process.pid),
          CMESH_LOCALNET_CHILD: spec.name,
        },
      });
    } finally {
      closeSync(fd);
    }
    if (proc.pid === undefined) {
      throw new CmeshError("LOCALNET_SPAWN_FAILED", `could not start ${spec.name}`, {
        hint: `see ${spec.logFile}`,
      });
    }
    let running = true;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
      proc.once("exit", (code, signal) => {
        running = false;
        done({ code, signal });
        if (!this.stopping) this.onCrash?.(child, code, signal);
      });
    });
    const child: ManagedChild = {
      name: spec.name,
      spec,
      pid: proc.pid,
      logFile: spec.logFile,
      process: proc,
      exited,
      get running() {
        return running;
      },
    };
    this.children.push(child);
    return child;
  }

  /**
   * Starts an exited child again with the same command line, in place of the old one (whatever the old one left
   * in its process group is killed first). Returns undefined when the network is stopping.
   */
  restart(old: ManagedChild): ManagedChild | undefined {
    if (this.stopping || old.running) return undefined;
    signalGroup(old.pid, "SIGKILL");
    const index = this.children.indexOf(old);
    if (index >= 0) this.children.splice(index, 1);
    return this.start(old.spec);
  }

  /**
   * Stops children in reverse start order (validators and miners before the chain): SIGTERM to the process
   * group, then SIGKILL after `graceMs`.
   */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    const groups = new Map<string, ManagedChild[]>();
    // children started together stop together; the chain (started first) stops last
    for (const c of this.children) {
      const key = c.name === "chain" ? "chain" : "nodes";
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    for (const key of ["nodes", "chain"]) {
      await Promise.all((groups.get(key) ?? []).map((c) => stopChild(c, graceMs)));
    }
  }
}

/** Signals the child's process group (the child leads it: `detached`). A pgid is not reused while the group lives. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is empty
  }
}

export async function stopChild(child: ManagedChild, graceMs: number): Promise<void> {
  if (child.running) {
    signalGroup(child.pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), graceMs);
    await child.exited;
    clearTimeout(timer);
  }
  // anything the child left in its group (helpers it spawned) goes too
  signalGroup(child.pid, "SIGKILL");
}
