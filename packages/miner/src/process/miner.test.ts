// The miner process in-process: local chain, real axon/dendrite, real Docker and OpenSSH.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Allocate,
  AllocationStatus,
  CountersignReceipt,
  Deallocate,
  Dendrite,
  receiptId,
  Specs,
  signReceiptPayload,
} from "@computemesh/protocol";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABEL_ALLOCATION, LABEL_MINER } from "../runtime/types.ts";
import { RENTAL_IMAGE, requireDockerOrSkip } from "../testing/docker-gate.ts";
import { type MinerTestNet, minerTestNet } from "../testing/localnet.ts";
import { type KeyFiles, makeKeyPair, sshRun } from "../testing/openssh.ts";
import { type MinerHandle, startMiner } from "./miner.ts";

const dockerOk = await requireDockerOrSkip("miner process tests");
const MiB = 1024 * 1024;
const TAO = 1_000_000_000n;

describe.skipIf(!dockerOk)("startMiner (local chain, axon, Docker, OpenSSH)", () => {
  let net: MinerTestNet;
  let miner: MinerHandle;
  let renter: KeyFiles;
  const docker = new Docker({ socketPath: "/var/run/docker.sock" });
  const target = () => ({ ip: "127.0.0.1", port: miner.axon.port, hotkey: miner.hotkey });
  const resources = {
    cpu: { count: 1 },
    gpu: { count: 0 },
    hard_disk: { capacity: 32 * MiB },
    ram: { capacity: 128 * MiB },
  };
  const allocateRequest = () => ({ resources, ssh_public_key: renter.publicLine, image: "", duration_sec: 600 });

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "cmesh-miner-"));
    net = await minerTestNet(dir, `proc${process.pid}`);
    renter = await makeKeyPair();
    miner = await startMiner(
      {
        wallet: { ...net.minerWallet, path: net.walletPath },
        chain: "in-process",
        netuid: net.netuid,
        axon: { port: 0, host: "127.0.0.1" },
        dataDir: join(dir, "miner"),
        ssh: { bindHost: "127.0.0.1", portRange: [42300, 42349] },
        images: { default: RENTAL_IMAGE, allowed: [] },
        pricing: { currency: "USD", perGpuHour: 0.8 },
        access: { minValidatorStakeRao: 1000n * TAO },
        jobs: false,
        logLevel: "silent",
      },
      { chain: net.chain.client() },
    );
  });
  afterAll(async () => {
    await miner?.stop();
    for (const c of await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_MINER}=${miner?.hotkey}`] },
    })) {
      await docker.getContainer(c.Id).remove({ force: true, v: true });
    }
    const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABEL_MINER}=${miner?.hotkey}`] } });
    for (const v of Volumes ?? []) await docker.getVolume(v.Name).remove();
    await net?.chain.close();
  });

  it("registered itself and announced its axon on chain", async () => {
    const mg = await net.chain.client().getMetagraph(net.netuid);
    const me = mg.neurons.find((n) => n.hotkey === miner.hotkey);
    expect(me?.axon?.port).toBe(miner.axon.port);
    expect(me?.uid).toBe(miner.uid);
  });

  it("answers Specs to a permitted validator, with no GPU and the reason, and the price", async () => {
    const res = await new Dendrite({ hotkey: net.validator }).query(target(), Specs, {});
    if (!res.ok) throw new Error(`${res.status} ${res.message}`);
    expect(res.response.specs.gpu.count).toBe(0);
    expect(res.response.specs.gpu.absent_reason).toMatch(/nvidia-smi/);
    expect(res.response.specs.pricing).toEqual({ currency: "USD", per_gpu_hour: 0.8 });
    expect(res.response.specs.docker.available).toBe(true);
  });

  it("refuses callers without registration or enough stake with 403 and the reason", async () => {
    const stranger = await new Dendrite({ hotkey: net.stranger }).query(target(), Allocate, {
      resources,
      ssh_public_key: renter.publicLine,
      image: "",
      duration_sec: 60,
    });
    expect(stranger.ok).toBe(false);
    expect(stranger.status).toBe(403);
    if (!stranger.ok) expect(stranger.message).toMatch(/not registered on subnet/);
    const poor = await new Dendrite({ hotkey: net.poorValidator }).query(target(), Specs, {});
    expect(poor.status).toBe(403);
    if (!poor.ok) expect(poor.message).toMatch(/TAO staked; this miner requires 1000 TAO/);
    expect(await miner.allocations.list()).toEqual([]);
  });

  it("allocates over the axon; the renter gets in with ssh; status; deallocate ends it", async () => {
    const dendrite = new Dendrite({ hotkey: net.validator });
    const bad = await dendrite.query(target(), Allocate, {
      resources,
      ssh_public_key: "ssh-ed25519 nope",
      image: "",
      duration_sec: 60,
    });
    expect(bad.status).toBe(400);
    if (!bad.ok) expect(bad.message).toMatch(/INVALID_SSH_KEY/);

    const res = await dendrite.query(target(), Allocate, allocateRequest());
    if (!res.ok) throw new Error(`${res.status} ${res.message}`);
    const alloc = res.response.allocation;
    expect(alloc.validator_hotkey).toBe(net.validator.address);
    const ssh = alloc.ssh!;
    const out = await sshRun(
      { host: ssh.host, port: ssh.port, hostPublicKey: ssh.host_public_key },
      renter.privatePath,
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    );
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe(String(128 * MiB));

    const again = await dendrite.query(target(), Allocate, allocateRequest());
    expect(again.status).toBe(409);

    const status = await dendrite.query(target(), AllocationStatus, { allocation_id: "" });
    if (!status.ok) throw new Error(status.message);
    expect(status.response.allocations.map((a) => [a.allocation_id, a.state])).toEqual([
      [alloc.allocation_id, "active"],
    ]);

    const metrics = await (await fetch(`http://127.0.0.1:${miner.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/cmesh_miner_allocations_live 1/);
    expect(metrics).toMatch(/cmesh_miner_refused_total\{synapse="Allocate"\} 1/);

    const ended = await dendrite.query(target(), Deallocate, { allocation_id: alloc.allocation_id });
    if (!ended.ok) throw new Error(ended.message);
    expect(ended.response.allocation.state).toBe("released");
    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_MINER}=${miner.hotkey}`] },
    });
    expect(containers).toEqual([]);
    const gone = await dendrite.query(target(), Deallocate, { allocation_id: alloc.allocation_id });
    expect(gone.status).toBe(410);
  });

  it("tells the truth about containers removed or stopped behind its back, and removes orphans", async () => {
    const dendrite = new Dendrite({ hotkey: net.validator });
    const allocate = async () => {
      const res = await dendrite.query(target(), Allocate, allocateRequest());
      if (!res.ok) throw new Error(`${res.status} ${res.message}`);
      return res.response.allocation;
    };
    const containerOf = async (id: string) =>
      (await docker.listContainers({ all: true, filters: { label: [`${LABEL_MINER}=${miner.hotkey}`] } })).find(
        (c) => c.Labels[LABEL_ALLOCATION] === id,
      );

    // A stopped container of an active rental is started again (Docker's restart policy does not cover `docker stop`).
    const a = await allocate();
    await docker.getContainer((await containerOf(a.allocation_id))!.Id).stop({ t: 0 });
    const stopped = await dendrite.query(target(), AllocationStatus, { allocation_id: a.allocation_id });
    if (!stopped.ok) throw new Error(stopped.message);
    expect(stopped.response.allocations[0].state).toBe("active");
    expect((await containerOf(a.allocation_id))?.State).toBe("running");
    expect((await miner.manager.history(a.allocation_id)).map((e) => e.event)).toContain("restarted");

    // A removed container: AllocationStatus says lost at once, with the reason, and the machine is free again.
    await docker.getContainer((await containerOf(a.allocation_id))!.Id).remove({ force: true, v: true });
    const gone = await dendrite.query(target(), AllocationStatus, { allocation_id: a.allocation_id });
    if (!gone.ok) throw new Error(gone.message);
    expect(gone.response.allocations[0]).toMatchObject({ state: "lost" });
    expect(gone.response.allocations[0].end_reason).toMatch(/container is gone/);

    // An orphan (its record ended while Docker kept the container) is removed by the periodic sweep.
    const b = await allocate();
    await miner.manager.db
      .updateTable("allocations")
      .set({ state: "released", ended_at: Date.now(), end_reason: "test: ended behind Docker's back" })
      .where("id", "=", b.allocation_id)
      .execute();
    await miner.manager.db.deleteFrom("allocation_slots").where("allocation_id", "=", b.allocation_id).execute();
    expect(await containerOf(b.allocation_id)).toBeDefined();
    const report = await miner.manager.sweep();
    expect(report.orphansRemoved).toContain(b.allocation_id);
    expect(await containerOf(b.allocation_id)).toBeUndefined();
  });

  it("countersigns receipts only for its own allocations, and a renewal moves the end", async () => {
    const dendrite = new Dendrite({ hotkey: net.validator });
    const res = await dendrite.query(target(), Allocate, {
      resources,
      ssh_public_key: renter.publicLine,
      image: "",
      duration_sec: 600,
    });
    if (!res.ok) throw new Error(res.message);
    const a = res.response.allocation;
    const common = {
      network: "local",
      netuid: net.netuid,
      miner_hotkey: miner.hotkey,
      validator_hotkey: net.validator.address,
    };
    const start = (allocation_id: string) =>
      signReceiptPayload(
        {
          ...common,
          kind: "allocation_started",
          allocation_id,
          seq: 1,
          prev: null,
          started_at: a.created_at,
          expires_at: a.expires_at,
          gpu_count: 0,
          gpu_model: null,
        },
        net.validator,
      );
    const unknown = await dendrite.query(target(), CountersignReceipt, {
      receipt: start("not-an-allocation"),
    });
    expect(unknown.status).toBe(409);
    if (!unknown.ok) expect(unknown.message).toMatch(/no allocation not-an-allocation on this miner/);

    const first = start(a.allocation_id);
    const ok = await dendrite.query(target(), CountersignReceipt, { receipt: first });
    expect(ok.ok).toBe(true);

    const later = new Date(Date.parse(a.expires_at) + 3600_000).toISOString();
    const renew = signReceiptPayload(
      {
        ...common,
        kind: "allocation_renewed",
        allocation_id: a.allocation_id,
        seq: 2,
        prev: receiptId(first.payload),
        expires_at: later,
      },
      net.validator,
    );
    const renewed = await dendrite.query(target(), CountersignReceipt, { receipt: renew });
    expect(renewed.ok).toBe(true);
    expect((await miner.allocations.status(a.allocation_id))?.expires_at).toBe(later);

    await miner.allocations.deallocate(a.allocation_id, net.validator.address);
  });
});
