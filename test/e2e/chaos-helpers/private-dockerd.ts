// Test support: a second, private dockerd that a test may `kill -9` without touching the Docker daemon every other
// suite uses. Own socket, data-root, exec-root and pid file; no default bridge and no iptables rules (so it
// cannot fight the main daemon over docker0 or its chains); user-defined networks from 10.213.0.0/16, away from the
// main daemon's pools. Published ports still work through docker-proxy on 127.0.0.1. The rental image is copied
// in from the main daemon (`docker save | docker load`: no registry is reachable).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { until } from "./processes.ts";

const run = promisify(execFile);

/** Why a private dockerd cannot run here, or null when it can (root, dockerd and the docker CLI present). */
export async function privateDockerdUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return "a second dockerd needs root";
  for (const bin of ["dockerd", "docker"]) {
    try {
      await run("sh", ["-c", `command -v ${bin}`]);
    } catch {
      return `${bin} is not installed`;
    }
  }
  return null;
}

export class PrivateDockerd {
  // short path: containerd's unix sockets live under exec-root and must stay under 108 bytes
  readonly dir = mkdtempSync("/tmp/cmesh-pd-");
  readonly socket = join(this.dir, "docker.sock");
  readonly docker = new Docker({ socketPath: this.socket });
  private proc: ChildProcess | null = null;
  private starts = 0;

  /** Starts the daemon and copies `images` in from the main daemon. */
  static async start(images: string[]): Promise<PrivateDockerd> {
    const d = new PrivateDockerd();
    await d.startDaemon();
    for (const image of images) {
      await run("sh", ["-c", `docker save '${image}' | docker -H 'unix://${d.socket}' load`], {
        maxBuffer: 16 * 1024 * 1024,
      });
    }
    return d;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts dockerd (again) on the same directories and waits until it answers. */
  async startDaemon(): Promise<void> {
    this.starts++;
    // A dockerd killed with -9 leaves its pid file and its containerd's. The processes are gone, but an init that
    // does not reap orphans (as in these VMs) keeps containerd as a zombie that "is still running" to dockerd,
    // which would then wait for it forever: both files are stale, so a new containerd is started.
    rmSync(join(this.dir, "docker.pid"), { force: true });
    rmSync(join(this.dir, "exec", "containerd", "containerd.pid"), { force: true });
    const log = openSync(join(this.dir, `dockerd-${this.starts}.log`), "a");
    this.proc = spawn(
      "dockerd",
      [
        "--host",
        `unix://${this.socket}`,
        "--data-root",
        join(this.dir, "data"),
        "--exec-root",
        join(this.dir, "exec"),
        "--pidfile",
        join(this.dir, "docker.pid"),
        "--bridge",
        "none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        "--default-address-pool",
        "base=10.213.0.0/16,size=24",
      ],
      { stdio: ["ignore", log, log] },
    );
    const proc = this.proc;
    await until(
      "the private dockerd answers",
      async () => {
        if (proc.exitCode !== null) throw new Error(`dockerd exited ${proc.exitCode}:\n${this.logTail()}`);
        return this.docker
          .ping()
          .then(() => true)
          .catch(() => false);
      },
      60_000,
      200,
    );
  }

  /** `kill -9` of dockerd; resolves once the process is gone. */
  async kill9(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await exited;
  }

  logTail(lines = 20): string {
    const file = join(this.dir, `dockerd-${this.starts}.log`);
    return existsSync(file) ? readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "";
  }

  /** Removes every container, stops the daemon cleanly (it unmounts what it mounted) and deletes its files. */
  async close(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      for (const c of await this.docker.listContainers({ all: true }).catch(() => [])) {
        await this.docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined);
      }
      // dockerd keeps a network's bridge interface after it stops; removing the networks removes the bridges
      for (const n of await this.docker.listNetworks().catch(() => [])) {
        if (["bridge", "host", "none"].includes(n.Name)) continue;
        await this.docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => undefined);
      }
      const proc = this.proc;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (proc.exitCode === null && proc.signalCode === null) await this.kill9();
    }
    // whatever a killed daemon left mounted under its directories
    const mounts = readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[1])
      .filter((m): m is string => m?.startsWith(this.dir) ?? false)
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) await run("umount", ["-l", m]).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
