// End to end: `cmesh miner` as its own process (local chain over RPC, real dockerd, OpenSSH client).
// allocate → ssh runs a command → another key is refused → the memory limit holds → kill -9 the miner and restart
// it → the renter's open session still works and the allocation is still listed → deallocate → container gone.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalChainServer, serveLocalChain } from "@computemesh/chain";
import { LABEL_MINER } from "@computemesh/miner";
import { Allocate, type AllocationInfo, AllocationStatus, Deallocate, Dendrite } from "@computemesh/protocol";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDockerOrSkip } from "../../packages/miner/src/testing/docker-gate.ts";
import { type MinerTestNet, minerTestNet } from "../../packages/miner/src/testing/localnet.ts";
import { type KeyFiles, makeKeyPair, sshRun } from "../../packages/miner/src/testing/openssh.ts";

const dockerOk = await requireDockerOrSkip("e2e miner allocation");
const ROOT = join(import.meta.dirname, "..", "..");
const MiB = 1024 * 1024;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface MinerProcess {
  child: ChildProcessWithoutNullStreams;
  logs: string[];
  exited: Promise<number | null>;
}

/** Starts `cmesh miner` and resolves once it logs "miner ready". */
function spawnMiner(args: string[]): Promise<MinerProcess> {
  const child = spawn(process.execPath, [join(ROOT, "bin", "cmesh.js"), "miner", ...args], {
    cwd: ROOT,
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`miner not ready in 60 s:\n${logs.join("\n")}`)), 60_000);
    child.stdout.on("data", (chunk: Buffer) => {
      buf += chunk.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        logs.push(line);
        if (line.includes('"msg":"miner ready"')) {
          clearTimeout(timer);
          resolve({ child, logs, exited });
        }
      }
    });
    child.stderr.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`miner exited with ${code} before it was ready:\n${logs.join("\n")}`));
    });
  });
}

/** An interactive ssh session that echoes what it is sent: proves a session survives the miner's death. */
class EchoSession {
  private out = "";
  readonly child: ChildProcessWithoutNullStreams;
  readonly closed: Promise<number | null>;

  constructor(port: number, key: KeyFiles) {
    this.child = spawn("ssh", [
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "LogLevel=ERROR",
      "-o",
      "ServerAliveInterval=1",
      "-i",
      key.privatePath,
      "-p",
      String(port),
      "root@127.0.0.1",
      'while read line; do echo "echo:$line"; done',
    ]);
    this.child.stdout.on("data", (c: Buffer) => {
      this.out += c.toString();
    });
    this.closed = new Promise((r) => this.child.once("exit", (code) => r(code)));
  }

  async roundTrip(text: string, timeoutMs = 10_000): Promise<boolean> {
    this.child.stdin.write(`${text}\n`);
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (this.out.includes(`echo:${text}\n`)) return true;
      if (this.child.exitCode !== null) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  }
}

describe.skipIf(!dockerOk)(
  "e2e: cmesh miner rents a container over SSH and loses nothing when killed",
  () => {
    const docker = new Docker({ socketPath: "/var/run/docker.sock" });
    let dir: string;
    let net: MinerTestNet;
    let rpc: LocalChainServer;
    let miner: MinerProcess | undefined;
    let renter: KeyFiles;
    let stranger: KeyFiles;
    let minerArgs: string[];
    let axonPort: number;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "cmesh-e2e-miner-"));
      net = await minerTestNet(dir, `e2e${process.pid}`);
      rpc = await serveLocalChain(net.chain, { host: "127.0.0.1", port: 0 });
      [renter, stranger] = await Promise.all([makeKeyPair(), makeKeyPair()]);
      axonPort = await freePort();
      minerArgs = [
        "--wallet.path",
        net.walletPath,
        "--wallet.name",
        net.minerWallet.name,
        "--wallet.hotkey",
        net.minerWallet.hotkey,
        "--chain",
        rpc.url,
        "--netuid",
        String(net.netuid),
        "--axon.host",
        "127.0.0.1",
        "--axon.port",
        String(axonPort),
        "--data-dir",
        join(dir, "miner-data"),
        "--ssh.host",
        "127.0.0.1",
        "--ssh.port-range",
        "42400-42449",
        "--metrics.port",
        "0",
        "--miner.min-validator-stake",
        "1000",
        "--no-jobs",
      ];
    });

    afterAll(async () => {
      if (miner && miner.child.exitCode === null) {
        miner.child.kill("SIGTERM");
        await miner.exited;
      }
      const filters = { label: [`${LABEL_MINER}=${net?.minerHotkeyAddress}`] };
      for (const c of await docker.listContainers({ all: true, filters })) {
        await docker.getContainer(c.Id).remove({ force: true, v: true });
      }
      const { Volumes } = await docker.listVolumes({ filters });
      for (const v of Volumes ?? []) await docker.getVolume(v.Name).remove();
      await rpc?.close();
      await net?.chain.close();
    });

    it("allocate → ssh → wrong key refused → memory limit → kill -9 + restart keeps the session → deallocate", async () => {
      miner = await spawnMiner(minerArgs);
      const target = { ip: "127.0.0.1", port: axonPort, hotkey: net.minerHotkeyAddress };
      const validator = new Dendrite({ hotkey: net.validator });

      // allocate
      const res = await validator.query(target, Allocate, {
        resources: {
          cpu: { count: 1 },
          gpu: { count: 0 },
          hard_disk: { capacity: 64 * MiB },
          ram: { capacity: 96 * MiB },
        },
        ssh_public_key: renter.publicLine,
        image: "",
        duration_sec: 600,
      });
      if (!res.ok) throw new Error(`Allocate failed: ${res.status} ${res.message}\n${miner.logs.join("\n")}`);
      const alloc: AllocationInfo = res.response.allocation;
      const ssh = alloc.ssh!;
      const pinned = { host: ssh.host, port: ssh.port, hostPublicKey: ssh.host_public_key };

      // the renter logs in with OpenSSH and runs a command
      const hello = await sshRun(
        pinned,
        renter.privatePath,
        "echo renter-ok; cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
      );
      expect(hello.code).toBe(0);
      expect(hello.stdout).toBe(`renter-ok\n${96 * MiB}\n`);

      // a second key is refused
      const refused = await sshRun(pinned, stranger.privatePath, "echo nope");
      expect(refused.code).toBe(255);
      expect(refused.stderr).toMatch(/Permission denied \(publickey\)/);

      // the memory limit is enforced: a 300 MiB buffer in a 96 MiB container is OOM-killed
      const hog = await sshRun(
        pinned,
        renter.privatePath,
        "head -c 300m /dev/zero | tail > /dev/null; echo rc=$?",
      );
      expect(hog.code).toBe(0);
      expect(hog.stdout.trim()).toBe("rc=137");
      const small = await sshRun(
        pinned,
        renter.privatePath,
        "head -c 20m /dev/zero | tail > /dev/null; echo rc=$?",
      );
      expect(small.stdout.trim()).toBe("rc=0");

      // an open session, then kill -9 the miner
      const session = new EchoSession(ssh.port, renter);
      expect(await session.roundTrip("before-kill")).toBe(true);
      miner.child.kill("SIGKILL");
      expect(await miner.exited).toBeNull();
      expect(await session.roundTrip("miner-dead")).toBe(true);
      expect((await sshRun(pinned, renter.privatePath, "echo new-login-while-miner-down")).code).toBe(0);

      // restart on the same data dir: the allocation is reconciled and kept
      miner = await spawnMiner(minerArgs);
      expect(
        miner.logs.some(
          (l) => l.includes('"msg":"reconciled allocations with Docker"') && l.includes(alloc.allocation_id),
        ),
      ).toBe(true);
      expect(await session.roundTrip("after-restart")).toBe(true);
      const status = await validator.query(target, AllocationStatus, { allocation_id: "" });
      if (!status.ok) throw new Error(status.message);
      expect(status.response.allocations.map((a) => [a.allocation_id, a.state, a.ssh?.port])).toEqual([
        [alloc.allocation_id, "active", ssh.port],
      ]);

      // deallocate: the container and the session are gone
      const ended = await validator.query(target, Deallocate, { allocation_id: alloc.allocation_id });
      if (!ended.ok) throw new Error(ended.message);
      expect(ended.response.allocation.state).toBe("released");
      expect(await session.closed).not.toBe(0);
      const left = await docker.listContainers({
        all: true,
        filters: { label: [`${LABEL_MINER}=${net.minerHotkeyAddress}`] },
      });
      expect(left).toEqual([]);
      expect((await sshRun(pinned, renter.privatePath, "true", 5000)).code).toBe(255);
    }, 180_000);
  },
);
