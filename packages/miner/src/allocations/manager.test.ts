// AllocationManager against the real dockerd and the real OpenSSH client.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCmeshError } from "@computemesh/core";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerRuntime } from "../runtime/docker.ts";
import { LABEL_MINER, rentalContainerName } from "../runtime/types.ts";
import { openMinerStore } from "../store/store.ts";
import { RENTAL_IMAGE, requireDockerOrSkip } from "../testing/docker-gate.ts";
import { type KeyFiles, makeKeyPair, sshRun } from "../testing/openssh.ts";
import { type AllocateInput, AllocationManager } from "./manager.ts";

const dockerOk = await requireDockerOrSkip("miner allocation tests");
const MINER = `5TestMinerAllocManager${process.pid}`;
const VALIDATOR = "5ValidatorA";
const MiB = 1024 * 1024;
const docker = new Docker({ socketPath: "/var/run/docker.sock" });

function request(key: KeyFiles, over: Partial<AllocateInput> = {}): AllocateInput {
  return {
    resources: {
      cpu: { count: 1 },
      gpu: { count: 0 },
      hard_disk: { capacity: 64 * MiB },
      ram: { capacity: 128 * MiB },
    },
    ssh_public_key: key.publicLine,
    image: "",
    duration_sec: 600,
    ...over,
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "resolved";
  } catch (err) {
    return isCmeshError(err) ? err.code : `non-cmesh: ${(err as Error).message}`;
  }
}

async function dockerLeftovers(): Promise<{ containers: number; volumes: number }> {
  const filters = { label: [`${LABEL_MINER}=${MINER}`] };
  const containers = await docker.listContainers({ all: true, filters });
  const { Volumes } = await docker.listVolumes({ filters });
  return { containers: containers.length, volumes: (Volumes ?? []).length };
}

describe.skipIf(!dockerOk)("AllocationManager (real Docker + OpenSSH)", () => {
  const runtime = new DockerRuntime();
  let clock = Date.now();
  let manager: AllocationManager;
  let renter: KeyFiles;
  let stranger: KeyFiles;

  const make = async (dbPath: string) =>
    new AllocationManager({
      db: await openMinerStore(dbPath),
      runtime,
      minerHotkey: MINER,
      capacity: {
        gpus: [],
        nvidiaRuntime: false,
        cpuCount: 2,
        ramBytes: 4096 * MiB,
        diskFreeBytes: async () => 10 * 1024 * MiB,
      },
      images: { default: RENTAL_IMAGE, allowed: [RENTAL_IMAGE, "computemesh/not-built:1"] },
      ssh: { bindHost: "127.0.0.1", advertisedHost: "127.0.0.1", portRange: [42210, 42260] },
      pidsLimit: 256,
      now: () => clock,
    });

  let dbPath: string;
  beforeAll(async () => {
    dbPath = join(mkdtempSync(join(tmpdir(), "cmesh-alloc-")), "miner.sqlite");
    manager = await make(dbPath);
    renter = await makeKeyPair();
    stranger = await makeKeyPair();
  });
  afterAll(async () => {
    for (const c of await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_MINER}=${MINER}`] },
    })) {
      await docker.getContainer(c.Id).remove({ force: true, v: true });
    }
    const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABEL_MINER}=${MINER}`] } });
    for (const v of Volumes ?? []) await docker.getVolume(v.Name).remove();
  });

  it("allocates a container the renter can SSH into with the pinned host key; other keys are refused", async () => {
    const alloc = await manager.allocate(request(renter), VALIDATOR);
    expect(alloc.state).toBe("active");
    expect(alloc.ssh?.host).toBe("127.0.0.1");
    const target = { host: "127.0.0.1", port: alloc.ssh!.port, hostPublicKey: alloc.ssh!.host_public_key };

    const ok = await sshRun(target, renter.privatePath, "echo hello-from-$(hostname); id -u; nproc");
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^hello-from-rental-/);
    expect(ok.stdout.split("\n")[1]).toBe("0");

    const refused = await sshRun(target, stranger.privatePath, "echo should-not-run");
    expect(refused.code).toBe(255);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/Permission denied \(publickey\)/);

    // the container is what we promised: limits, no privileges, no host mounts, labels
    const info = await docker.getContainer(rentalContainerName(alloc.allocation_id)).inspect();
    const hc = info.HostConfig;
    expect([hc.NanoCpus, hc.Memory, hc.MemorySwap, hc.PidsLimit]).toEqual([1e9, 128 * MiB, 128 * MiB, 256]);
    expect(hc.Privileged).toBe(false);
    expect(hc.Init).toBe(true);
    expect(hc.CapDrop).toEqual(["ALL"]);
    expect(hc.SecurityOpt).toContain("no-new-privileges:true");
    expect(info.Mounts.map((m) => m.Type)).toEqual(["volume"]);
    expect(info.Mounts.some((m) => /docker\.sock/.test(m.Source ?? ""))).toBe(false);
    expect(info.Config.Labels["computemesh.managed"]).toBe("true");
    expect(info.Config.Labels["computemesh.allocation"]).toBe(alloc.allocation_id);
    expect(hc.PortBindings?.["22/tcp"]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(alloc.ssh!.port) }]);

    // a password is never accepted
    const pw = await sshRun(target, "/dev/null", "true");
    expect(pw.code).toBe(255);

    // one allocation per machine
    expect(await codeOf(manager.allocate(request(stranger), "5ValidatorB"))).toBe("MACHINE_BUSY");

    // another validator cannot end it
    expect(await codeOf(manager.deallocate(alloc.allocation_id, "5ValidatorB"))).toBe("NOT_YOUR_ALLOCATION");

    const ended = await manager.deallocate(alloc.allocation_id, VALIDATOR);
    expect(ended.state).toBe("released");
    expect(ended.ssh).toBeNull();
    expect(await dockerLeftovers()).toEqual({ containers: 0, volumes: 0 });
    expect((await sshRun(target, renter.privatePath, "true", 5000)).code).toBe(255);
    expect(await codeOf(manager.deallocate(alloc.allocation_id, VALIDATOR))).toBe("ALLOCATION_ENDED");
    const events = (await manager.history(alloc.allocation_id)).map((e) => e.event);
    expect(events).toEqual(["requested", "active", "released", "removed"]);
  });

  it("lets exactly one of several concurrent Allocate requests win", async () => {
    const keys = await Promise.all([makeKeyPair(), makeKeyPair(), makeKeyPair(), makeKeyPair()]);
    const results = await Promise.allSettled(
      keys.map((k, i) => manager.allocate(request(k), `5Validator${i}`)),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost.map((r) => (isCmeshError(r.reason) ? r.reason.code : String(r.reason)))).toEqual([
      "MACHINE_BUSY",
      "MACHINE_BUSY",
      "MACHINE_BUSY",
    ]);
    expect(await dockerLeftovers()).toEqual({ containers: 1, volumes: 1 });
    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<AllocationManager["allocate"]>>>)
      .value;
    await manager.deallocate(winner.allocation_id, winner.validator_hotkey);
  });

  it("refuses bad input with a clear code and leaves nothing behind", async () => {
    const cases: [string, AllocateInput][] = [
      ["UNKNOWN_IMAGE", request(renter, { image: "ubuntu:latest" })],
      ["UNKNOWN_IMAGE", request(renter, { image: "computemesh/not-built:1" })],
      ["INVALID_SSH_KEY", request(renter, { ssh_public_key: "ssh-ed25519 AAAAnot-a-key" })],
      ["INVALID_SSH_KEY", request(renter, { ssh_public_key: `command="rm -rf /" ${renter.publicLine}` })],
      [
        "INVALID_SSH_KEY",
        request(renter, { ssh_public_key: `${renter.publicLine}\n${stranger.publicLine}` }),
      ],
      [
        "IMPOSSIBLE_RESOURCES",
        request(renter, {
          resources: {
            cpu: { count: 64 },
            gpu: { count: 0 },
            hard_disk: { capacity: MiB },
            ram: { capacity: 64 * MiB },
          },
        }),
      ],
      [
        "IMPOSSIBLE_RESOURCES",
        request(renter, {
          resources: {
            cpu: { count: 1 },
            gpu: { count: 0 },
            hard_disk: { capacity: MiB },
            ram: { capacity: 1024 ** 4 },
          },
        }),
      ],
      [
        "IMPOSSIBLE_RESOURCES",
        request(renter, {
          resources: {
            cpu: { count: 1 },
            gpu: { count: 1 },
            hard_disk: { capacity: MiB },
            ram: { capacity: 64 * MiB },
          },
        }),
      ],
      [
        "IMPOSSIBLE_RESOURCES",
        request(renter, {
          resources: {
            cpu: { count: 1 },
            gpu: { count: 0 },
            hard_disk: { capacity: 1024 ** 5 },
            ram: { capacity: 64 * MiB },
          },
        }),
      ],
      ["INVALID_DURATION", request(renter, { duration_sec: 0 })],
    ];
    for (const [code, input] of cases) {
      expect(await codeOf(manager.allocate(input, VALIDATOR))).toBe(code);
    }
    expect(await manager.list({ liveOnly: true })).toEqual([]);
    expect(await dockerLeftovers()).toEqual({ containers: 0, volumes: 0 });
  });

  it("expires allocations whose time is up and then says so; a renewal moves the end", async () => {
    const alloc = await manager.allocate(request(renter, { duration_sec: 60 }), VALIDATOR);
    expect(await manager.expireDue()).toEqual([]);
    const end = Date.parse(alloc.expires_at);
    expect(await codeOf(manager.extend(alloc.allocation_id, "5ValidatorB", end + 1000))).toBe(
      "NOT_YOUR_ALLOCATION",
    );
    expect(await codeOf(manager.extend(alloc.allocation_id, VALIDATOR, end - 1000))).toBe("INVALID_DURATION");
    // renewed by 60 s: not due after the original 60 s, due after 120 s
    await manager.extend(alloc.allocation_id, VALIDATOR, end + 60_000);
    clock += 61_000;
    expect(await manager.expireDue()).toEqual([]);
    clock += 60_000;
    const expired = await manager.expireDue();
    expect(expired.map((a) => [a.allocation_id, a.state])).toEqual([[alloc.allocation_id, "expired"]]);
    expect(await dockerLeftovers()).toEqual({ containers: 0, volumes: 0 });
    const again = await codeOf(manager.deallocate(alloc.allocation_id, VALIDATOR));
    expect(again).toBe("ALLOCATION_ENDED");
  });

  it("reconciles with Docker on start: orphans removed, vanished containers marked lost, survivors kept", async () => {
    const keep = await manager.allocate(request(renter), VALIDATOR);
    // a container this store never heard of, labeled as ours
    await runtime.createRental({
      allocationId: "orphan0000",
      minerHotkey: MINER,
      image: RENTAL_IMAGE,
      nanoCpus: 5e8,
      memoryBytes: 64 * MiB,
      pidsLimit: 64,
      gpuUuids: [],
      hostIp: "127.0.0.1",
      hostPort: 42299,
      files: [],
      volumeMountPath: "/workspace",
    });
    // a fresh manager over the same store, as after a restart
    const restarted = await make(dbPath);
    const report = await restarted.reconcile();
    expect(report.orphansRemoved).toEqual(["orphan0000"]);
    expect(report.kept).toEqual([keep.allocation_id]);
    expect(report.lost).toEqual([]);
    expect(
      (await sshRun({ host: "127.0.0.1", port: keep.ssh!.port }, renter.privatePath, "echo still")).stdout,
    ).toBe("still\n");

    // the container vanishes behind the miner's back
    await docker.getContainer(rentalContainerName(keep.allocation_id)).remove({ force: true });
    const report2 = await (await make(dbPath)).reconcile();
    expect(report2.lost).toEqual([keep.allocation_id]);
    const status = await restarted.get(keep.allocation_id);
    expect(status?.state).toBe("lost");
    expect(status?.end_reason).toMatch(/container disappeared/);
    expect(await dockerLeftovers()).toEqual({ containers: 0, volumes: 0 }); // its orphaned volume went too
    // and the machine is free again
    const next = await restarted.allocate(request(renter), VALIDATOR);
    await restarted.deallocate(next.allocation_id, VALIDATOR);
  });
});
