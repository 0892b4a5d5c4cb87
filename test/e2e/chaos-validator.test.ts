// Chaos: `kill -9` the validator + renter API process (`cmesh validator --api.port`) in the middle of a rental and
// in the middle of a rent request, and restart it on the same database. The metering ledger stays consistent
// (balance == sum of the ledger; a rental's charge == minus its ledger entries == its rate × metered seconds),
// nothing is charged twice or for time beyond what really elapsed, the miner holds no second allocation, and the
// renter's API shows the true state. Miners are in-process (simulated GPU, in-memory rentals): they outlive the
// validator as real miners would.
import { Allocate, Dendrite } from "@computemesh/protocol";
import { Validator } from "@computemesh/validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleSshPublicKey } from "../../packages/api/src/testing/harness.ts";
import { until } from "./chaos-helpers/processes.ts";
import { ValidatorFlow } from "./chaos-helpers/validator-flow.ts";
import { register, startTestMiner, testNet, testValidatorConfig } from "./validator-harness.ts";

interface LedgerEntry {
  amountMicro: number;
  rentalId: string | null;
  kind: string;
}

describe("kill -9 of the validator + API process", () => {
  const flow = new ValidatorFlow();
  let key: string;

  beforeAll(async () => {
    await flow.open("chv");
    await flow.start();
    await flow.machinesVerified(2);
    const acc = await flow.call("POST", "/v1/accounts", {
      key: flow.secrets.adminKey,
      body: { name: "renter", initialCredits: 50 },
    });
    expect(acc.status).toBe(201);
    key = acc.body.apiKey;
  }, 120_000);
  afterAll(() => flow.close(), 60_000);

  async function ledger(): Promise<{ balance: number; entries: LedgerEntry[] }> {
    const a = await flow.call("GET", "/v1/account", { key });
    const l = await flow.call("GET", "/v1/account/ledger?limit=1000", { key });
    expect(a.status).toBe(200);
    return { balance: a.body.balanceMicro, entries: l.body.entries };
  }

  async function assertLedgerConsistent(): Promise<void> {
    const { balance, entries } = await ledger();
    expect(entries.reduce((s, e) => s + e.amountMicro, 0)).toBe(balance);
    const rentals = (await flow.call("GET", "/v1/rentals", { key })).body.rentals as {
      id: string;
      chargedMicro: number;
      meteredSeconds: number;
      rateMicroPerHour: number;
      state: string;
    }[];
    for (const r of rentals) {
      const charged = entries.filter((e) => e.rentalId === r.id).reduce((s, e) => s - e.amountMicro, 0);
      expect(charged, `rental ${r.id}`).toBe(r.chargedMicro);
      if (r.state !== "active") {
        expect(r.chargedMicro).toBe(Math.floor((r.rateMicroPerHour * r.meteredSeconds) / 3600));
      } else {
        expect(r.chargedMicro).toBeLessThanOrEqual(Math.floor((r.rateMicroPerHour * r.meteredSeconds) / 3600));
      }
    }
  }

  it("mid-rental: after restart the rental is still active, metering resumes, nothing is charged twice", async () => {
    const miner = flow.miners[0];
    const t0 = Date.now();
    const r = await flow.call("POST", "/v1/rentals", {
      key,
      body: { minerHotkey: miner.hotkey.address, sshPublicKey: sampleSshPublicKey(), durationSec: 3600 },
    });
    expect(r.status).toBe(201);
    const id = r.body.id as string;
    await until(
      "some metered charge",
      async () => (await flow.call("GET", `/v1/rentals/${id}`, { key })).body.chargedMicro > 0,
    );
    await assertLedgerConsistent();

    await flow.proc!.kill9();
    await flow.start();

    const after = await flow.call("GET", `/v1/rentals/${id}`, { key });
    expect(after.body.state).toBe("active");
    await assertLedgerConsistent();
    const chargedAtRestart = after.body.chargedMicro as number;
    await until(
      "metering resumed",
      async () => (await flow.call("GET", `/v1/rentals/${id}`, { key })).body.chargedMicro > chargedAtRestart,
    );

    const rel = await flow.call("POST", `/v1/rentals/${id}/release`, { key, body: {} });
    expect(rel.status).toBe(200);
    expect(rel.body.state).toBe("released");
    const wallSeconds = (Date.now() - t0) / 1000;
    // Never more seconds than really passed (a double charge across the restart would exceed it).
    expect(rel.body.meteredSeconds).toBeLessThanOrEqual(Math.ceil(wallSeconds));
    expect(rel.body.chargedMicro).toBe(Math.floor((rel.body.rateMicroPerHour * rel.body.meteredSeconds) / 3600));
    await assertLedgerConsistent();
    // One allocation on the miner for this rental, now released.
    const allocs = [...miner.rentals.allocations.values()];
    expect(allocs.length).toBe(1);
    expect(allocs[0].state).toBe("released");
    console.log(
      `chaos-validator: rental across a kill -9: ${rel.body.meteredSeconds} s metered over ${wallSeconds.toFixed(1)} s wall, charged ${rel.body.chargedMicro} µcr`,
    );
  }, 120_000);

  it("mid-rent-request: after restart the renter sees at most one rental, consistent ledger, no charge for a ghost", async () => {
    const miner = flow.miners[1];
    const before = await ledger();
    const pending = flow
      .call("POST", "/v1/rentals", {
        key,
        body: { minerHotkey: miner.hotkey.address, sshPublicKey: sampleSshPublicKey(), durationSec: 3600 },
      })
      .catch((err: Error) => ({ status: 0, body: String(err) }));
    // Killed the moment the miner has granted the allocation, before the validator/API answered the renter.
    const held = miner.rentals.allocations.size;
    await until("the miner granted the allocation", () => miner.rentals.allocations.size > held, 30_000, 1);
    await flow.proc!.kill9();
    const answer = await pending;
    await flow.start();

    const list = (await flow.call("GET", "/v1/rentals", { key })).body.rentals as {
      id: string;
      minerHotkey: string;
      state: string;
    }[];
    const onB = list.filter((x) => x.minerHotkey === miner.hotkey.address);
    expect(onB.length).toBeLessThanOrEqual(1);
    await assertLedgerConsistent();
    const activeOnMiner = [...miner.rentals.allocations.values()].filter((a) => a.state === "active");
    console.log(
      `chaos-validator: kill during POST /v1/rentals: answer ${answer.status}, renter sees ${JSON.stringify(onB.map((x) => x.state))}, miner holds ${activeOnMiner.length} active allocation(s)`,
    );
    if (onB[0]?.state === "active") {
      const rel = await flow.call("POST", `/v1/rentals/${onB[0].id}/release`, { key, body: {} });
      expect(rel.body.state).toBe("released");
    } else {
      // No live rental for the renter: nothing may be charged for it.
      const now = await ledger();
      const charges = now.entries.filter(
        (e) => e.amountMicro < 0 && !before.entries.some((b) => JSON.stringify(b) === JSON.stringify(e)),
      );
      for (const c of charges) expect(onB.map((x) => x.id)).toContain(c.rentalId);
    }
    await assertLedgerConsistent();
    // When the kill lands after the validator stored the allocation, the restart's recovery finds it by the API's
    // rental id and releases it (the next test makes that moment certain), so the machine is free again.
    const again = await flow.call("POST", "/v1/rentals", {
      key,
      body: { minerHotkey: miner.hotkey.address, sshPublicKey: sampleSshPublicKey(), durationSec: 600 },
    });
    console.log(`chaos-validator: rent the same machine again after the kill: ${again.status}`);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    const rel = await flow.call("POST", `/v1/rentals/${again.body.id}/release`, { key, body: {} });
    expect(rel.body.state).toBe("released");
    await assertLedgerConsistent();
  }, 120_000);

  it("killed after the validator recorded the allocation, before the API did: the restart releases it, charges nothing", async () => {
    const miner = flow.miners[0];
    const before = await ledger();
    const known = new Set(
      ((await flow.call("GET", "/v1/rentals", { key })).body.rentals as { id: string }[]).map((r) => r.id),
    );
    const onMinerBefore = new Set(miner.rentals.allocations.keys());
    const hold = flow.holdNextCountersign();
    const pending = flow
      .call("POST", "/v1/rentals", {
        key,
        body: { minerHotkey: miner.hotkey.address, sshPublicKey: sampleSshPublicKey(), durationSec: 3600 },
      })
      .catch((err: Error) => ({ status: 0, body: String(err) }));
    await hold.reached; // the validator stored the allocation and asks the miner to countersign its receipt
    await flow.proc!.kill9();
    hold.release();
    expect((await pending).status).toBe(0); // the renter never got an answer
    await flow.start();

    const mine = ((await flow.call("GET", "/v1/rentals", { key })).body.rentals as {
      id: string;
      state: string;
      endReason: string | null;
      chargedMicro: number;
      allocationId: string | null;
    }[]).filter((r) => !known.has(r.id));
    expect(mine).toHaveLength(1);
    expect(mine[0].state).toBe("failed");
    expect(mine[0].endReason).toMatch(/restarted while the rental was starting.*released/);
    expect(mine[0].chargedMicro).toBe(0);
    const granted = [...miner.rentals.allocations.values()].filter((a) => !onMinerBefore.has(a.allocation_id));
    expect(granted.map((a) => [a.allocation_id, a.state])).toEqual([[mine[0].allocationId, "released"]]);
    const now = await ledger();
    expect(now.entries.length).toBe(before.entries.length);
    expect(now.balance).toBe(before.balance);
    await assertLedgerConsistent();

    // The machine is free at once, not held until the dead rental's hour is over.
    const again = await flow.call("POST", "/v1/rentals", {
      key,
      body: { minerHotkey: miner.hotkey.address, sshPublicKey: sampleSshPublicKey(), durationSec: 600 },
    });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    const rel = await flow.call("POST", `/v1/rentals/${again.body.id}/release`, { key, body: {} });
    expect(rel.body.state).toBe("released");
    await assertLedgerConsistent();
  }, 120_000);
});

describe("a validator that crashed between the miner's Allocate answer and its own record", () => {
  it("releases the unrecorded (or ended here) allocation when the miner answers busy, and rents", async () => {
    const net = await testNet();
    const keys = await register(net, "Ghost-V", 1000n);
    const miner = await startTestMiner(net, "Ghost-m", { model: "NVIDIA GeForce RTX 4090", count: 1 });
    await net.chain.advanceBlocks(11);
    const v = await Validator.start(testValidatorConfig(net, keys.hotkey, { health: { intervalMs: 60_000, timeoutMs: 1000, maxFailures: 2 } }));
    try {
      await net.chain.advanceBlocks(1);
      await until("machine verified", async () => (await v.listMachines()).some((m) => m.verified), 30_000);
      // The validator's own hotkey allocates on the miner, and then "crashes": nothing is stored.
      const sshKey = sampleSshPublicKey();
      const ghost = await new Dendrite({ hotkey: keys.hotkey }).query(
        { ip: "127.0.0.1", port: miner.axon.port, hotkey: miner.hotkey.address },
        Allocate,
        {
          resources: { cpu: { count: 1 }, gpu: { count: 1 }, hard_disk: { capacity: 1 }, ram: { capacity: 1 } },
          ssh_public_key: sshKey,
          image: "",
          duration_sec: 3600,
        },
      );
      if (!ghost.ok) throw new Error(ghost.message);
      const rented = await v.rent({ minerHotkey: miner.hotkey.address, sshPublicKey: sshKey, durationSec: 600 });
      expect(rented.state).toBe("active");
      const states = [...miner.rentals.allocations.values()].map((a) => [a.allocation_id, a.state]);
      expect(states).toEqual([
        [ghost.response.allocation.allocation_id, "released"],
        [rented.allocationId, "active"],
      ]);
      // Released here while the release never reached the miner: the miner still holds it, and the next rent
      // releases it too instead of finding the machine busy until the old rental's time is over.
      miner.rentals.deallocateFails = true;
      expect((await v.release(rented.allocationId, "renter is done")).state).toBe("released");
      expect(miner.rentals.allocations.get(rented.allocationId)?.state).toBe("active");
      miner.rentals.deallocateFails = false;
      const next = await v.rent({ minerHotkey: miner.hotkey.address, sshPublicKey: sshKey, durationSec: 600 });
      expect(next.state).toBe("active");
      expect(miner.rentals.allocations.get(rented.allocationId)?.state).toBe("released");
    } finally {
      await v.stop();
      await miner.stop();
      await net.cleanup();
    }
  }, 60_000);
});
