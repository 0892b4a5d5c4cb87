import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCmeshError } from "@computemesh/core";
import { afterAll, describe, expect, it } from "vitest";
import { ValidatorStore } from "./store.ts";
import { storeBackends } from "./test-backends.ts";

const backends = await storeBackends();
afterAll(async () => {
  for (const b of backends) await b.cleanup();
});

const T0 = "2026-01-01T00:00:00.000Z";
const T1 = "2026-01-01T00:01:00.000Z";
const T2 = "2026-01-01T00:02:00.000Z";

function alloc(id: string, miner: string, clientRef: string | null = null) {
  return {
    allocation_id: id,
    miner_hotkey: miner,
    validator_hotkey: "5V",
    state: "active" as const,
    ssh_host: "127.0.0.1",
    ssh_port: 2222,
    ssh_user: "renter",
    ssh_public_key: "ssh-ed25519 AAAA test",
    image: null,
    resources_json: null,
    started_at: T0,
    expires_at: T2,
    ended_at: null,
    end_reason: null,
    health_failures: 0,
    last_health_at: null,
    receipt_seq: 0,
    client_ref: clientRef,
  };
}

describe.each(backends)("ValidatorStore on $name", (backend) => {
  it("mirrors the metagraph: adds, refreshes and unregisters miners", async () => {
    const { store } = await backend.open();
    try {
      let r = await store.syncMiners(
        [
          { uid: 0, hotkey: "hA", coldkey: "cA", ip: "127.0.0.1", port: 1 },
          { uid: 1, hotkey: "hB", coldkey: "cB", ip: null, port: null },
        ],
        T0,
      );
      expect(r.added.sort()).toEqual(["hA", "hB"]);
      r = await store.syncMiners(
        [
          { uid: 1, hotkey: "hC", coldkey: "cC", ip: "127.0.0.1", port: 9 },
          { uid: 0, hotkey: "hA", coldkey: "cA", ip: "127.0.0.1", port: 2 },
        ],
        T1,
      );
      expect(r).toEqual({ added: ["hC"], removed: ["hB"] });
      const miners = await store.listMiners();
      expect(miners.map((m) => [m.uid, m.hotkey, m.port])).toEqual([
        [0, "hA", 2],
        [1, "hC", 9],
      ]);
      expect((await store.getMiner("hA"))?.first_seen_at).toBe(T0);
      expect((await store.getMiner("hB"))?.registered).toBe(0);
      expect((await store.listMiners({ registeredOnly: false })).length).toBe(3);
    } finally {
      await store.close();
    }
  });

  it("keeps specs history, the latest specs and counts failures", async () => {
    const { store } = await backend.open();
    try {
      await store.syncMiners([{ uid: 0, hotkey: "hA", coldkey: "cA", ip: "127.0.0.1", port: 1 }], T0);
      await store.recordSpecs("hA", { ok: true, specs: { gpu: { count: 2 } }, version: "1.0.0" }, T0);
      await store.recordSpecs("hA", { ok: false, error: "timeout" }, T1);
      await store.recordSpecs("hA", { ok: false, error: "refused" }, T2);
      const m = await store.getMiner("hA");
      expect(JSON.parse(m?.specs_json ?? "null")).toEqual({ gpu: { count: 2 } });
      expect(m?.specs_failures).toBe(2);
      expect(m?.miner_version).toBe("1.0.0");
      const hist = await store.specsHistory("hA");
      expect(hist.map((h) => [Number(h.ok), h.error])).toEqual([
        [0, "refused"],
        [0, "timeout"],
        [1, null],
      ]);
      expect(await store.reliability("hA", T0)).toBeCloseTo(1 / 3);
      expect(await store.reliability("hA", T1)).toBe(0);
      expect(await store.reliability("nobody", T0)).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("stores a proof-of-GPU round once, whatever the number of retries", async () => {
    const { store } = await backend.open();
    try {
      const round = {
        roundId: "r1",
        hotkey: "hA",
        startedAt: T0,
        finishedAt: T1,
        passed: true,
        reason: null,
        claimedModel: "NVIDIA H200",
        provenModel: "NVIDIA H200",
        gpuCount: 8,
        measuredTops: 812.5,
        simulated: false,
        uuids: ["GPU-1"],
      };
      expect(await store.recordPogResult(round)).toBe(true);
      expect(await store.recordPogResult(round)).toBe(false);
      expect(
        await store.recordPogResult({
          ...round,
          roundId: "r2",
          finishedAt: T2,
          passed: false,
          reason: "spot_check_failed",
          provenModel: null,
        }),
      ).toBe(true);
      expect(await store.countPogResults()).toBe(2);
      const latest = await store.latestPogResult("hA");
      expect(latest?.round_id).toBe("r2");
      expect(latest?.passed).toBe(0);
      const all = await store.pogResults("hA");
      expect(all[1]?.measured_tops).toBeCloseTo(812.5);
      expect(JSON.parse(all[1]?.uuids_json ?? "[]")).toEqual(["GPU-1"]);
    } finally {
      await store.close();
    }
  });

  it("saves an epoch's scores and weights once and tracks weight attempts", async () => {
    const { store } = await backend.open();
    try {
      const scores = [
        { uid: 0, hotkey: "hA", score: 50, provenModel: "NVIDIA H200", gpuCount: 8, allocated: false },
        { uid: 1, hotkey: "hB", score: 0, provenModel: null, gpuCount: 0, allocated: false },
      ];
      const w = { uids: [0, 1], weights: [65535, 0], versionKey: 7 };
      const first = await store.saveEpoch(10, scores, w, T0);
      expect(first.created).toBe(true);
      expect(first.weightSet.status).toBe("pending");
      const replay = await store.saveEpoch(
        10,
        [{ ...scores[0], score: 1 } as (typeof scores)[0]],
        { ...w, weights: [1, 1] },
        T1,
      );
      expect(replay.created).toBe(false);
      expect(JSON.parse(replay.weightSet.weights_json)).toEqual([65535, 0]);
      expect((await store.scoresForEpoch(10)).map((s) => s.score)).toEqual([50, 0]);
      expect(await store.countScores()).toBe(2);
      expect(await store.latestScoredEpoch()).toBe(10);

      await store.recordWeightAttempt(10, { ok: false, error: "rate limited", final: false }, T1);
      let ws = await store.weightSet(10);
      expect([ws?.status, ws?.attempts, ws?.last_error]).toEqual(["pending", 1, "rate limited"]);
      expect((await store.weightSets({ status: "pending" })).map((x) => x.epoch)).toEqual([10]);
      await store.recordWeightAttempt(10, { ok: true }, T2);
      ws = await store.weightSet(10);
      expect([ws?.status, ws?.attempts, ws?.last_error, ws?.version_key]).toEqual(["ok", 2, null, 7]);
    } finally {
      await store.close();
    }
  });

  it("ends an allocation exactly once and counts consecutive health failures", async () => {
    const { store } = await backend.open();
    try {
      await store.insertAllocation(alloc("a1", "hA"));
      await expect(store.insertAllocation(alloc("a1", "hA"))).rejects.toThrow();
      expect((await store.activeAllocationForMiner("hA"))?.allocation_id).toBe("a1");
      expect(await store.recordAllocationHealth("a1", "hA", false, T0)).toBe(1);
      expect(await store.recordAllocationHealth("a1", "hA", false, T1)).toBe(2);
      expect(await store.recordAllocationHealth("a1", "hA", true, T1)).toBe(0);
      expect(await store.recordAllocationHealth("a1", "hA", false, T2)).toBe(1);
      expect(await store.nextReceiptSeq("a1")).toBe(1);
      expect(await store.nextReceiptSeq("a1")).toBe(2);
      const [lost, released] = await Promise.all([
        store.endAllocation("a1", "lost", "dead", T2),
        store.endAllocation("a1", "released", "renter", T2),
      ]);
      const winners = [lost, released].filter((x) => x !== undefined);
      expect(winners).toHaveLength(1);
      expect(await store.activeAllocations()).toEqual([]);
      expect(await store.endAllocation("a1", "released", "again", T2)).toBeUndefined();
      expect(await store.endAllocation("missing", "released", "x", T2)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("records the metagraph once per epoch and returns the last epochs oldest first", async () => {
    const { store } = await backend.open();
    try {
      const neuron = (uid: number, incentive: number) => ({
        uid,
        hotkey: `h${uid}`,
        stake: 1,
        incentive,
        dividends: 0,
        emission: 0.5,
        trust: 0,
      });
      await store.recordMetagraph(7, 140, [neuron(0, 0.25), neuron(1, 0.75)]);
      await store.recordMetagraph(8, 160, [neuron(0, 0.5), neuron(1, 0.5)]);
      await store.recordMetagraph(8, 161, [neuron(0, 0.9)]); // the same epoch again: kept as first recorded
      const all = await store.metagraphHistory(10);
      expect(all.map((e) => [e.epoch, e.block, e.neurons.map((x) => x.incentive)])).toEqual([
        [7, 140, [0.25, 0.75]],
        [8, 160, [0.5, 0.5]],
      ]);
      expect((await store.metagraphHistory(1)).map((e) => e.epoch)).toEqual([8]);
    } finally {
      await store.close();
    }
  });

  it("finds an allocation by the caller's rental id", async () => {
    const { store } = await backend.open();
    try {
      await store.insertAllocation(alloc("a1", "hA", "rnt_1"));
      await store.insertAllocation(alloc("a2", "hB"));
      expect((await store.allocationByClientRef("rnt_1"))?.allocation_id).toBe("a1");
      expect(await store.allocationByClientRef("rnt_2")).toBeUndefined();
      expect((await store.allocation("a2"))?.client_ref).toBeNull();
    } finally {
      await store.close();
    }
  });

  it("stores receipts once per id and per (allocation, seq)", async () => {
    const { store } = await backend.open();
    try {
      const r = {
        receipt_id: "id1",
        allocation_id: "a1",
        kind: "allocation_started",
        seq: 1,
        miner_hotkey: "hA",
        validator_hotkey: "5V",
        issued_at: T0,
        payload_json: "{}",
        validator_signature: "0x01",
        miner_signature: "0x02",
        source: "own" as const,
        stored_at: T0,
      };
      expect(await store.insertReceipt(r)).toBe(true);
      expect(await store.insertReceipt(r)).toBe(false);
      expect(await store.insertReceipt({ ...r, receipt_id: "id2" })).toBe(false);
      expect(await store.insertReceipt({ ...r, receipt_id: "id3", seq: 2, issued_at: T1 })).toBe(true);
      expect((await store.receiptsForMiner("hA")).map((x) => x.seq)).toEqual([1, 2]);
      expect((await store.receiptsForAllocation("a1")).length).toBe(2);
    } finally {
      await store.close();
    }
  });

  it("keeps key/value state", async () => {
    const { store } = await backend.open();
    try {
      expect(await store.getState("k")).toBeUndefined();
      await store.setState("k", "1");
      await store.setState("k", "2");
      expect(await store.getState("k")).toBe("2");
    } finally {
      await store.close();
    }
  });
});

describe("ValidatorStore opening", () => {
  it("persists an SQLite file across reopen and migrates only once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cmesh-store-"));
    try {
      const file = join(dir, "v.db");
      const a = await ValidatorStore.open(file);
      await a.setState("x", "kept");
      await a.close();
      const b = await ValidatorStore.open(file);
      expect(await b.getState("x")).toBe("kept");
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails with STORE_OPEN_FAILED for an unwritable SQLite path", async () => {
    const err = await ValidatorStore.open("/nonexistent-dir/x/v.db").catch((e) => e);
    expect(isCmeshError(err, "STORE_OPEN_FAILED")).toBe(true);
  });

  it("fails with STORE_UNREACHABLE for a PostgreSQL server that is not there", async () => {
    const err = await ValidatorStore.open("postgres://postgres:secret@127.0.0.1:1/none").catch((e) => e);
    expect(isCmeshError(err, "STORE_UNREACHABLE")).toBe(true);
    expect(String(err.message)).not.toContain("secret");
  });

  it("rejects an unsafe PostgreSQL schema name", async () => {
    const err = await ValidatorStore.open("postgres://127.0.0.1:1/x", { pgSchema: 'x"; drop' }).catch(
      (e) => e,
    );
    expect(isCmeshError(err, "STORE_BAD_SCHEMA")).toBe(true);
  });
});
