// Chaos: `kill -9` a `cmesh miner` process at different points of an allocation (right after the validator sent
// Allocate, once the container exists but before the answer, and with a rental active) and restart it on the
// same data dir. After each restart: no container without a live record (no orphan), no live record without a
// container, the machine is not stuck "busy" by a ghost, the validator's AllocationStatus tells the truth, and a
// Deallocate leaves nothing behind. Real dockerd, local chain over RPC.
import { Allocate, AllocationStatus, Deallocate } from "@computemesh/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDockerOrSkip } from "../../packages/miner/src/testing/docker-gate.ts";
import { type KeyFiles, makeKeyPair, sshRun } from "../../packages/miner/src/testing/openssh.ts";
import { MiB, MinerNet, type MinerSlot } from "./chaos-helpers/miner-net.ts";
import { until } from "./chaos-helpers/processes.ts";

const dockerOk = await requireDockerOrSkip("chaos: kill -9 of the miner during allocations");

describe.skipIf(!dockerOk)("kill -9 of cmesh miner during allocations", () => {
  const mn = new MinerNet();
  let slot: MinerSlot;
  let renter: KeyFiles;

  beforeAll(async () => {
    await mn.open("chm");
    slot = await mn.addMiner(42640, ["--no-jobs"]);
    renter = await makeKeyPair();
  }, 120_000);
  afterAll(() => mn.close(), 120_000);

  const allocateRequest = () => ({
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

  /** The invariant after any crash + restart: Docker and the miner's live records agree, one to one. */
  async function assertConsistent(): Promise<string[]> {
    const status = await mn.dendrite.query(slot.target, AllocationStatus, { allocation_id: "" });
    if (!status.ok) throw new Error(status.message);
    const live = status.response.allocations.filter((a) => a.state === "active" || a.state === "creating");
    const containers = await mn.containers(slot);
    const running = containers.filter((c) => c.State === "running");
    expect(containers.length, JSON.stringify(containers.map((c) => [c.Names, c.State]))).toBe(live.length);
    expect(running.length).toBe(live.length);
    expect(live.length).toBeLessThanOrEqual(1);
    for (const a of live) {
      expect(a.state).toBe("active");
      const ssh = a.ssh!;
      const r = await sshRun(
        { host: ssh.host, port: ssh.port, hostPublicKey: ssh.host_public_key },
        renter.privatePath,
        "echo alive",
        30_000,
      );
      expect(r.stdout).toBe("alive\n");
    }
    return live.map((a) => a.allocation_id);
  }

  async function releaseAll(ids: string[]): Promise<void> {
    for (const id of ids) {
      const r = await mn.dendrite.query(slot.target, Deallocate, { allocation_id: id });
      if (!r.ok) throw new Error(r.message);
      expect(r.response.allocation.state).toBe("released");
    }
    expect(await mn.containers(slot)).toEqual([]);
  }

  it("killed right after Allocate was sent: after restart, no orphan and the machine can be rented", async () => {
    await mn.start(slot);
    const pending = mn.dendrite.query(slot.target, Allocate, allocateRequest(), { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 30));
    await slot.proc!.kill9();
    const answer = await pending;
    expect(answer.ok).toBe(false);
    await mn.start(slot);
    await releaseAll(await assertConsistent());
    // Not stuck: a fresh rental works.
    const a = await mn.allocate(slot, renter.publicLine);
    expect(await assertConsistent()).toEqual([a.allocation_id]);
    await releaseAll([a.allocation_id]);
  }, 120_000);

  it("killed once the container exists but before the answer: no orphan, the record and Docker agree", async () => {
    await slot.proc?.stop();
    await mn.start(slot);
    const pending = mn.dendrite.query(slot.target, Allocate, allocateRequest(), { timeoutMs: 60_000 });
    await until("the container is created", async () => (await mn.containers(slot)).length > 0, 60_000, 10);
    await slot.proc!.kill9();
    const answer = await pending;
    expect(answer.ok).toBe(false);
    await mn.start(slot);
    const report = slot.proc!.logs.find((l) => l.includes('"msg":"reconciled allocations with Docker"'));
    expect(report).toBeTruthy();
    console.log(`chaos-miner: reconcile after kill mid-Allocate: ${report}`);
    await releaseAll(await assertConsistent());
  }, 120_000);

  it("killed with a rental active: the rental survives the restart, is reported active, then ends cleanly", async () => {
    await slot.proc?.stop();
    await mn.start(slot);
    const a = await mn.allocate(slot, renter.publicLine);
    await slot.proc!.kill9();
    // The renter's container does not depend on the miner process.
    const ssh = a.ssh!;
    const during = await sshRun(
      { host: ssh.host, port: ssh.port, hostPublicKey: ssh.host_public_key },
      renter.privatePath,
      "echo during",
      30_000,
    );
    expect(during.stdout).toBe("during\n");
    await mn.start(slot);
    expect(await assertConsistent()).toEqual([a.allocation_id]);
    // The same allocation cannot be taken twice: a second Allocate is refused as busy.
    const second = await mn.dendrite.query(slot.target, Allocate, allocateRequest());
    expect(second.ok).toBe(false);
    if (!second.ok) expect(second.status).toBe(409);
    await releaseAll([a.allocation_id]);
    await slot.proc!.stop();
  }, 120_000);

  // CMESH_FULL=1: many more kill points, spread over the whole allocation (seeded, so a failure can be replayed).
  it.runIf(process.env.CMESH_FULL === "1")(
    "FULL: 12 kill -9 at seeded random points of an allocation, each followed by a consistent restart",
    async () => {
      let seed = Number(process.env.CMESH_CHAOS_SEED ?? 9);
      const rand = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      await slot.proc?.stop();
      await mn.start(slot);
      for (let i = 0; i < 12; i++) {
        const delayMs = Math.floor(rand() * 2500);
        const pending = mn.dendrite.query(slot.target, Allocate, allocateRequest(), { timeoutMs: 60_000 });
        await new Promise((r) => setTimeout(r, delayMs));
        await slot.proc!.kill9();
        await pending;
        await mn.start(slot);
        await releaseAll(await assertConsistent());
      }
      await slot.proc!.stop();
    },
    600_000,
  );
});
