// Chaos: `kill -9` of dockerd under a real `cmesh miner` (its own private dockerd, so every other suite keeps its
// Docker) with a rental active, in the middle of an Allocate, before a Deallocate, and under a miner that starts
// while Docker is down. Afterwards Docker and the miner's live records agree one to one (no orphan container, no
// record without a container), the rental comes back with the renter's files, the validator is never told a dead
// rental is fine (503 while Docker is down), and nothing is left once the rental ends.
import { Allocate, AllocationStatus, Deallocate } from "@computemesh/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RENTAL_IMAGE, requireDockerOrSkip } from "../../packages/miner/src/testing/docker-gate.ts";
import { type KeyFiles, makeKeyPair, sshUntilOk } from "../../packages/miner/src/testing/openssh.ts";
import { MiB, MinerNet, type MinerSlot } from "./chaos-helpers/miner-net.ts";
import { PrivateDockerd, privateDockerdUnavailable } from "./chaos-helpers/private-dockerd.ts";
import { until } from "./chaos-helpers/processes.ts";

const dockerOk = await requireDockerOrSkip("chaos: kill -9 of dockerd");
const noPrivate = dockerOk ? await privateDockerdUnavailable() : "no Docker";
if (dockerOk && noPrivate && process.env.CMESH_REQUIRE_DOCKER === "1") {
  throw new Error(`CMESH_REQUIRE_DOCKER=1 but the dockerd chaos suite cannot run: ${noPrivate}`);
}

describe.skipIf(!dockerOk || noPrivate !== null)("kill -9 of dockerd under cmesh miner", () => {
  let pd: PrivateDockerd;
  let mn: MinerNet;
  let slot: MinerSlot;
  let renter: KeyFiles;

  beforeAll(async () => {
    pd = await PrivateDockerd.start([RENTAL_IMAGE]);
    mn = new MinerNet(pd.socket);
    await mn.open("chd");
    slot = await mn.addMiner(42660, ["--no-jobs"]);
    renter = await makeKeyPair();
    await mn.start(slot);
  }, 180_000);
  afterAll(async () => {
    await mn?.close();
    await pd?.close();
  }, 120_000);

  const status = () => mn.dendrite.query(slot.target, AllocationStatus, { allocation_id: "" }, { timeoutMs: 10_000 });
  const ssh = (a: { ssh: { host: string; port: number; host_public_key: string } | null }, cmd: string) =>
    sshUntilOk(
      { host: a.ssh!.host, port: a.ssh!.port, hostPublicKey: a.ssh!.host_public_key },
      renter.privatePath,
      cmd,
      60_000,
    );

  /** The miner's /metrics value of `name` (its port is in the "metrics serving" log line). */
  async function metric(name: string): Promise<number | undefined> {
    const logLine = slot.proc!.logs.find((l) => l.includes('"msg":"metrics serving"'));
    const url = (JSON.parse(logLine!) as { url: string }).url;
    const text = await (await fetch(url)).text();
    const sample = text.split("\n").find((l) => l.startsWith(`${name} `));
    return sample === undefined ? undefined : Number(sample.slice(name.length + 1));
  }

  /** Docker and the miner's live records agree, one to one, and every live rental is running. */
  async function assertAligned(): Promise<string[]> {
    const res = await status();
    if (!res.ok) throw new Error(`${res.status} ${res.message}`);
    const live = res.response.allocations.filter((a) => a.state === "active" || a.state === "creating");
    const containers = await mn.containers(slot);
    expect(
      containers.map((c) => c.Labels["computemesh.allocation"]).sort(),
      JSON.stringify(containers.map((c) => [c.Names, c.State])),
    ).toEqual(live.map((a) => a.allocation_id).sort());
    for (const c of containers) expect(c.State).toBe("running");
    return live.map((a) => a.allocation_id);
  }

  async function releaseAll(ids: string[]): Promise<void> {
    for (const id of ids) {
      const r = await mn.dendrite.query(slot.target, Deallocate, { allocation_id: id });
      if (!r.ok) throw new Error(r.message);
    }
    expect(await mn.containers(slot)).toEqual([]);
  }

  it("with a rental active: 503 while Docker is down, then the rental runs again with the renter's files", async () => {
    const a = await mn.allocate(slot, renter.publicLine);
    expect((await ssh(a, "echo kept > /workspace/marker && echo written")).stdout).toBe("written\n");

    await pd.kill9();
    const during = await status();
    expect(during.ok).toBe(false);
    expect(during.status).toBe(503);
    if (!during.ok) expect(during.message).toMatch(/RUNTIME_UNREACHABLE/);

    // operators see it in /metrics within one sweep (5 s)
    await until("docker_up 0 in /metrics", async () => (await metric("cmesh_miner_docker_up")) === 0, 15_000, 200);
    const t0 = Date.now();
    await pd.startDaemon();
    // dockerd kills what it finds running after a crash; the miner's sweep (every 5 s) starts the rental again
    const back = await ssh(a, "cat /workspace/marker");
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toBe("kept\n");
    console.log(`chaos-dockerd: rental reachable over SSH ${((Date.now() - t0) / 1000).toFixed(1)} s after dockerd restarted`);
    expect(await assertAligned()).toEqual([a.allocation_id]);
    expect(await metric("cmesh_miner_docker_up")).toBe(1);
    expect(await metric('cmesh_miner_rentals_realigned_total{action="restarted"}')).toBeGreaterThanOrEqual(1);
    await releaseAll([a.allocation_id]);
  }, 180_000);

  it("killed in the middle of an Allocate: an error answer, nothing half-made once Docker is back, rents again", async () => {
    const pending = mn.dendrite.query(
      slot.target,
      Allocate,
      {
        resources: { cpu: { count: 1 }, gpu: { count: 0 }, hard_disk: { capacity: 64 * MiB }, ram: { capacity: 96 * MiB } },
        ssh_public_key: renter.publicLine,
        image: "",
        duration_sec: 600,
      },
      { timeoutMs: 60_000 },
    );
    await until("the rental container is created", async () => (await mn.containers(slot)).length > 0, 60_000, 10);
    await pd.kill9();
    const answer = await pending;
    expect(answer.ok).toBe(false);
    await pd.startDaemon();
    // the sweep removes what the failed Allocate could not
    await until(
      "Docker and the records agree",
      async () => (await assertAligned().catch(() => undefined)) !== undefined,
      60_000,
      500,
    );
    expect(await assertAligned()).toEqual([]);
    const a = await mn.allocate(slot, renter.publicLine);
    expect((await ssh(a, "echo fresh")).stdout).toBe("fresh\n");
    await releaseAll([a.allocation_id]);
  }, 180_000);

  it("Deallocate while Docker is down ends the rental at once; its container is removed when Docker is back", async () => {
    const a = await mn.allocate(slot, renter.publicLine);
    await pd.kill9();
    const r = await mn.dendrite.query(slot.target, Deallocate, { allocation_id: a.allocation_id });
    if (!r.ok) throw new Error(`${r.status} ${r.message}`);
    expect(r.response.allocation.state).toBe("released");
    await pd.startDaemon();
    await until("the ended rental's container is removed", async () => (await mn.containers(slot)).length === 0, 60_000, 500);
    expect(await assertAligned()).toEqual([]);
    expect((await pd.docker.listVolumes()).Volumes ?? []).toEqual([]);
  }, 180_000);

  it("a miner started while Docker is down says so and exits; started after Docker is back, it reconciles", async () => {
    const a = await mn.allocate(slot, renter.publicLine);
    await slot.proc!.kill9();
    await pd.kill9();
    const failed = await mn.start(slot).then(
      () => "started",
      (e: Error) => e.message,
    );
    expect(failed).toMatch(/Docker/);
    expect(failed).toMatch(/exited with [1-9]/);
    await pd.startDaemon();
    await mn.start(slot);
    expect((await ssh(a, "echo again")).stdout).toBe("again\n");
    expect(await assertAligned()).toEqual([a.allocation_id]);
    await releaseAll([a.allocation_id]);
  }, 180_000);
});
