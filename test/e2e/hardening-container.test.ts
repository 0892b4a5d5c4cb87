// Container hardening, checked from INSIDE rented containers: two `cmesh miner` processes (real dockerd) each rent
// a container to a different renter, who log in with OpenSSH through the published 127.0.0.1 port. From inside:
// no Docker socket, no host filesystem, capabilities cut down to what sshd needs, no-new-privileges, memory and
// pids limits enforced; and one renter's container can see neither the other's processes, files nor sshd.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AllocationInfo } from "@computemesh/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDockerOrSkip } from "../../packages/miner/src/testing/docker-gate.ts";
import { type KeyFiles, makeKeyPair, type SshTarget, sshRun } from "../../packages/miner/src/testing/openssh.ts";
import { MiB, MinerNet, type MinerSlot } from "./chaos-helpers/miner-net.ts";

const dockerOk = await requireDockerOrSkip("container hardening from inside a rental");
const PIDS_LIMIT = 64;

/** Linux capability numbers (include/uapi/linux/capability.h). */
const CAP = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  NET_ADMIN: 12,
  NET_RAW: 13,
  SYS_MODULE: 16,
  SYS_RAWIO: 17,
  SYS_CHROOT: 18,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  SYS_BOOT: 22,
  SYS_TIME: 25,
  MKNOD: 27,
  AUDIT_WRITE: 29,
  BPF: 39,
} as const;
const ALLOWED = ["SETUID", "SETGID", "SYS_CHROOT", "CHOWN", "AUDIT_WRITE", "KILL"] as const;
const bit = (n: number) => 1n << BigInt(n);

function pinned(a: AllocationInfo): SshTarget {
  const ssh = a.ssh!;
  return { host: ssh.host, port: ssh.port, hostPublicKey: ssh.host_public_key };
}

describe.skipIf(!dockerOk)("hardening of a rented container, seen from inside", () => {
  const mn = new MinerNet();
  let slotA: MinerSlot;
  let slotB: MinerSlot;
  let renterA: KeyFiles;
  let renterB: KeyFiles;
  let allocA: AllocationInfo;
  let allocB: AllocationInfo;
  let inA: (cmd: string) => ReturnType<typeof sshRun>;
  let inB: (cmd: string) => ReturnType<typeof sshRun>;
  const hostMarker = `cmesh-host-marker-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    await mn.open("hard");
    writeFileSync(join(mn.dir, hostMarker), "host secret\n");
    slotA = await mn.addMiner(42600, ["--no-jobs", "--pids-limit", String(PIDS_LIMIT)]);
    slotB = await mn.addMiner(42620, ["--no-jobs", "--pids-limit", String(PIDS_LIMIT)]);
    [renterA, renterB] = await Promise.all([makeKeyPair(), makeKeyPair()]);
    await Promise.all([mn.start(slotA), mn.start(slotB)]);
    [allocA, allocB] = await Promise.all([
      mn.allocate(slotA, renterA.publicLine, 96),
      mn.allocate(slotB, renterB.publicLine, 96),
    ]);
    inA = (cmd) => sshRun(pinned(allocA), renterA.privatePath, cmd, 60_000);
    inB = (cmd) => sshRun(pinned(allocB), renterB.privatePath, cmd, 60_000);
    expect((await inA("echo a-ok")).stdout).toBe("a-ok\n");
    expect((await inB("echo b-ok")).stdout).toBe("b-ok\n");
  }, 180_000);
  afterAll(() => mn.close(), 120_000);

  it("has no Docker socket, and no way to the host's filesystem", async () => {
    const sock = await inA(
      "for p in /var/run/docker.sock /run/docker.sock /docker.sock; do test -e $p && echo found:$p; done; echo end",
    );
    expect(sock.stdout).toBe("end\n");
    const mounts = await inA("cat /proc/self/mountinfo");
    expect(mounts.code).toBe(0);
    expect(mounts.stdout).not.toMatch(/docker\.sock|\/work\/|cmesh-chaos-|\/var\/lib\/docker\/volumes\/[^ ]* \/(etc|root|home)\b/);
    const find = await inA(
      `find / \\( -path /proc -o -path /sys \\) -prune -o -name '${hostMarker}' -print 2>/dev/null; test -e ${join(mn.dir, hostMarker)} && echo visible; echo end`,
    );
    expect(find.stdout).toBe("end\n");
    // Every mount from the host's disk is the container's own volume, docker's per-container resolv.conf,
    // hostname and hosts files, or the read-only init binary: nothing else of the host.
    for (const line of mounts.stdout.split("\n")) {
      const f = line.split(" ");
      if (!/ - (ext4|xfs|btrfs|ext3|zfs) /.test(line)) continue;
      const [root, mountPoint, opts] = [f[3], f[4], f[5]];
      const ok =
        /^\/var\/lib\/docker\/volumes\/cmesh-[^/]+\/_data$/.test(root) ||
        (["/etc/resolv.conf", "/etc/hostname", "/etc/hosts"].includes(mountPoint) &&
          /^\/var\/lib\/docker\/containers\/[0-9a-f]{64}\//.test(root)) ||
        (mountPoint === "/usr/sbin/docker-init" && opts.startsWith("ro"));
      expect(ok, line).toBe(true);
    }
  });

  it("runs with capabilities dropped to what sshd needs, and no-new-privileges", async () => {
    const st = await inA("grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs):' /proc/self/status");
    const field = (name: string) => new RegExp(`${name}:\\s+(\\S+)`).exec(st.stdout)?.[1] ?? "";
    const allowedMask = ALLOWED.reduce((m, c) => m | bit(CAP[c]), 0n);
    for (const name of ["CapEff", "CapBnd", "CapPrm"]) {
      const caps = BigInt(`0x${field(name)}`);
      expect(caps & ~allowedMask, `${name}=${field(name)}`).toBe(0n);
      for (const danger of [
        "SYS_ADMIN",
        "NET_ADMIN",
        "NET_RAW",
        "SYS_MODULE",
        "SYS_PTRACE",
        "SYS_RAWIO",
        "SYS_TIME",
        "SYS_BOOT",
        "MKNOD",
        "DAC_OVERRIDE",
        "BPF",
      ] as const)
        expect(caps & bit(CAP[danger]), `${name} has ${danger}`).toBe(0n);
    }
    expect(field("NoNewPrivs")).toBe("1");
    console.log(`hardening: CapEff=${field("CapEff")} CapBnd=${field("CapBnd")} NoNewPrivs=${field("NoNewPrivs")}`);
    // Without CAP_SYS_ADMIN a mount fails, even as root.
    const mount = await inA("mkdir -p /tmp/m && mount -t tmpfs none /tmp/m; echo rc=$?");
    expect(mount.stdout).toMatch(/rc=[1-9]/);
  });

  it("enforces the memory limit (a 300 MiB buffer in 96 MiB is OOM-killed, 20 MiB is fine)", async () => {
    const limit = await inA(
      "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    );
    expect(limit.stdout.trim()).toBe(String(96 * MiB));
    const hog = await inA("head -c 300m /dev/zero | tail > /dev/null; echo rc=$?");
    expect(hog.stdout.trim()).toBe("rc=137");
    const small = await inA("head -c 20m /dev/zero | tail > /dev/null; echo rc=$?");
    expect(small.stdout.trim()).toBe("rc=0");
  });

  it(`enforces the pids limit (${PIDS_LIMIT}): a fork bomb of 200 sleeps stops at the limit`, async () => {
    const max = await inA("cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max");
    expect(max.stdout.trim()).toBe(String(PIDS_LIMIT));
    // dash, builtins only after each fork: the loop records how many sleeps it had started when the kernel
    // refused a fork. The sleeps are short so the login shell can fork again once they end.
    const bomb = await inA(
      [
        "sh -c 'i=0; while [ $i -lt 200 ]; do echo $i > /tmp/n; sleep 4 >/dev/null 2>&1 & i=$((i+1)); done; echo $i > /tmp/n' 2>/tmp/fork.err",
        "echo exit=$?",
        // Clear the bomb with bash builtins only (no fork is possible while the sleeps hold every pid).
        'for p in /proc/[0-9]*; do read -r c < $p/comm 2>/dev/null; [ "$c" = sleep ] && kill -9 ${p#/proc/} 2>/dev/null; done',
        'echo "n=$(cat /tmp/n)"',
        "cat /tmp/fork.err",
      ].join("; "),
    );
    const n = Number(/n=(\d+)/.exec(bomb.stdout)?.[1]);
    expect(bomb.stdout, bomb.stdout + bomb.stderr).toMatch(/fork/i);
    expect(n, bomb.stdout).toBeLessThan(PIDS_LIMIT);
    console.log(`hardening: fork bomb stopped after ${n} of 200 sleeps (pids limit ${PIDS_LIMIT})`);
    // The container is still usable after the bomb was cleared.
    expect((await inA("echo alive")).stdout).toBe("alive\n");
  });

  it("cannot see another renter's processes, files or sshd", async () => {
    const secret = `b-secret-${process.pid}`;
    const started = await inB(
      `echo top > /root/${secret}; nohup sleep 4242 >/dev/null 2>&1 & echo started`,
    );
    expect(started.stdout).toMatch(/started/);
    // b's own view: its marker process is there.
    const own = await inB("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '");
    expect(own.stdout).toContain("sleep 4242");

    const procs = await inA("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '");
    expect(procs.code).toBe(0);
    expect(procs.stdout).not.toContain("sleep 4242");
    const files = await inA(
      `find / \\( -path /proc -o -path /sys \\) -prune -o -name '${secret}' -print 2>/dev/null; echo end`,
    );
    expect(files.stdout).toBe("end\n");

    // Network: b's container address on the rentals' bridge (inter-container traffic disabled) is unreachable
    // from a, while a reaches its own sshd the same way (the probe works).
    const infoB = await mn.docker.getContainer((await mn.containers(slotB))[0].Id).inspect();
    const infoA = await mn.docker.getContainer((await mn.containers(slotA))[0].Id).inspect();
    const ipOf = (i: typeof infoA) =>
      Object.values(i.NetworkSettings.Networks).map((n) => n.IPAddress).find((x) => x) ?? "";
    const ipB = ipOf(infoB);
    const ipA = ipOf(infoA);
    expect(ipB).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const probe = (ip: string) =>
      inA(`timeout 3 bash -c 'exec 3<>/dev/tcp/${ip}/22 && head -c 7 <&3'; echo " rc=$?"`);
    const self = await probe(ipA);
    expect(self.stdout).toMatch(/^SSH-2\.0 rc=0/);
    const other = await probe(ipB);
    expect(other.stdout).not.toMatch(/SSH-2\.0/);
    expect(other.stdout).toMatch(/rc=[1-9]/);
  }, 60_000);
});
