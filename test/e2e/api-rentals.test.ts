import { afterEach, describe, expect, it } from "vitest";
import { type Harness, sampleSshPublicKey, startHarness } from "../../packages/api/src/testing/harness.ts";
import {
  InMemoryMarketDouble,
  sampleMachines,
} from "../../packages/api/src/testing/in-memory-market-double.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const key = sampleSshPublicKey();

async function firstMachine(harness: Harness, q = "") {
  const res = await harness.call("GET", `/v1/machines?q=${encodeURIComponent(q)}`);
  expect(res.status).toBe(200);
  return res.body.machines[0];
}

describe("rent and release", () => {
  it("rents a named machine, gives an ssh command, releases, and stops metering", async () => {
    h = await startHarness();
    const m = await firstMachine(h, "count>=2");
    const r = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { minerHotkey: m.minerHotkey, sshPublicKey: key },
    });
    expect(r.status).toBe(201);
    expect(r.body.state).toBe("active");
    expect(r.body.sshCommand).toMatch(/^ssh -p \d+ \w+@127\.0\.0\.1$/);
    const ssh = await h.call("GET", `/v1/rentals/${r.body.id}/ssh`, { key: h.alice });
    expect(ssh.body.command).toBe(r.body.sshCommand);
    const after = await h.call("GET", `/v1/machines?q=${encodeURIComponent(`hotkey=${m.minerHotkey}`)}`);
    expect(after.body.machines[0].allocated).toBe(true);
    h.clock.advance(10_000);
    const rel = await h.call("POST", `/v1/rentals/${r.body.id}/release`, { key: h.alice, body: {} });
    expect(rel.status).toBe(200);
    expect(rel.body.state).toBe("released");
    expect(rel.body.meteredSeconds).toBe(10);
    h.clock.advance(3600_000);
    await h.api.meterTick();
    const again = await h.call("GET", `/v1/rentals/${r.body.id}`, { key: h.alice });
    expect(again.body.chargedMicro).toBe(rel.body.chargedMicro);
    const gone = await h.call("GET", `/v1/rentals/${r.body.id}/ssh`, { key: h.alice });
    expect(gone.status).toBe(409);
    const live = await h.call("GET", "/v1/rentals?state=live", { key: h.alice });
    expect(live.body.rentals).toEqual([]);
  });

  it("rents the best match for a query (cheapest available proven machine)", async () => {
    h = await startHarness();
    const best = await firstMachine(h, "gpu=NVIDIA_A100-SXM4-80GB sort=price");
    const r = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { query: "gpu=NVIDIA_A100-SXM4-80GB", sshPublicKey: key },
    });
    expect(r.status).toBe(201);
    expect(r.body.minerHotkey).toBe(best.minerHotkey);
    const r2 = await h.call("POST", "/v1/rentals", {
      key: h.bob,
      body: { query: "gpu=NVIDIA_A100-SXM4-80GB", sshPublicKey: key },
    });
    expect(r2.status).toBe(201);
    expect(r2.body.minerHotkey).not.toBe(best.minerHotkey);
    const none = await h.call("POST", "/v1/rentals", {
      key: h.bob,
      body: { query: "gpu=B200", sshPublicKey: key },
    });
    expect(none.status).toBe(409);
    expect(none.body.error.code).toBe("NO_MACHINE_MATCHES");
  });

  it("refuses unproven machines and unknown ones", async () => {
    h = await startHarness();
    const unproven = await firstMachine(h, "verified=false");
    const r = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { minerHotkey: unproven.minerHotkey, sshPublicKey: key },
    });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("MACHINE_NOT_VERIFIED");
    const u = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { minerHotkey: "5Nobody", sshPublicKey: key },
    });
    expect(u.status).toBe(404);
    expect(u.body.error.field).toBe("minerHotkey");
  });

  it("a proven machine whose miner cannot start containers is shown, not rentable, and never picked", async () => {
    const machines = sampleMachines(3);
    for (const m of machines) m.pricePerGpuHour = 1;
    machines[0].pricePerGpuHour = 0.1; // the cheapest: a query would pick it first
    machines[0].runsContainers = false;
    h = await startHarness({ backend: new InMemoryMarketDouble(machines) });
    const all = await h.call("GET", "/v1/machines?q=sort%3Dprice");
    expect(all.body.machines[0]).toMatchObject({
      minerHotkey: machines[0].minerHotkey,
      verified: true,
      runsContainers: false,
      rentable: false,
    });
    expect(all.body.machines[1].rentable).toBe(true);
    const rentable = await h.call("GET", "/v1/machines?q=rentable%3Dtrue");
    expect(rentable.body.machines.map((m: { minerHotkey: string }) => m.minerHotkey)).not.toContain(
      machines[0].minerHotkey,
    );
    const named = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { minerHotkey: machines[0].minerHotkey, sshPublicKey: key },
    });
    expect(named.status).toBe(409);
    expect(named.body.error).toMatchObject({ code: "MACHINE_NOT_RENTABLE", hint: "search with rentable=true" });
    const best = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { query: "price<=5", sshPublicKey: key },
    });
    expect(best.status).toBe(201);
    expect(best.body.minerHotkey).not.toBe(machines[0].minerHotkey);
  });

  it("50 concurrent rents of one machine: exactly one wins, the rest get 409", async () => {
    h = await startHarness({ backend: new InMemoryMarketDouble(sampleMachines(5), { rentDelayMs: 20 }) });
    const m = await firstMachine(h);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        h.call("POST", "/v1/rentals", {
          key: i % 2 ? h.alice : h.bob,
          body: { minerHotkey: m.minerHotkey, sshPublicKey: key },
        }),
      ),
    );
    const won = results.filter((r) => r.status === 201);
    const lost = results.filter((r) => r.status === 409);
    expect(won.length).toBe(1);
    expect(lost.length).toBe(49);
    for (const l of lost) expect(l.body.error.code).toBe("ALLOCATION_CONFLICT");
    expect(h.backend.rentCalls).toBe(1);
  });

  it("marks a rental lost when the validator loses the machine and stops charging", async () => {
    h = await startHarness();
    const m = await firstMachine(h);
    const r = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { minerHotkey: m.minerHotkey, sshPublicKey: key },
    });
    h.clock.advance(5_000);
    h.backend.loseAllocation(r.body.allocationId);
    await new Promise((res) => setTimeout(res, 50));
    const after = await h.call("GET", `/v1/rentals/${r.body.id}`, { key: h.alice });
    expect(after.body.state).toBe("lost");
    expect(after.body.meteredSeconds).toBe(5);
  });

  it("passes its rental id to the backend, so a restart can release an allocation it never recorded", async () => {
    h = await startHarness();
    const m = await firstMachine(h);
    const r = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { minerHotkey: m.minerHotkey, sshPublicKey: key },
    });
    expect(r.status).toBe(201);
    expect((await h.backend.allocationByClientRef(r.body.id))?.allocationId).toBe(r.body.allocationId);
    // The crash: the backend holds the allocation, the API's row still says "starting".
    await h.api.db
      .updateTable("api_rentals")
      .set({ state: "starting", metered_from_ms: null })
      .where("id", "=", r.body.id)
      .execute();
    await h.api.rentals.recover();
    const after = await h.call("GET", `/v1/rentals/${r.body.id}`, { key: h.alice });
    expect(after.body).toMatchObject({ state: "failed", chargedMicro: 0 });
    expect(after.body.endReason).toContain("was released");
    expect((await h.backend.allocation(r.body.allocationId))?.state).toBe("released");
  });

  it("a retried POST with the same Idempotency-Key rents once and replays the answer", async () => {
    h = await startHarness();
    const m = await firstMachine(h);
    const body = { minerHotkey: m.minerHotkey, sshPublicKey: key };
    const headers = { "idempotency-key": "rent-1" };
    const a = await h.call("POST", "/v1/rentals", { key: h.alice, body, headers });
    const b = await h.call("POST", "/v1/rentals", { key: h.alice, body, headers });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.id).toBe(a.body.id);
    expect(b.headers.get("idempotent-replayed")).toBe("true");
    expect(h.backend.rentCalls).toBe(1);
    const c = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { ...body, durationSec: 120 },
      headers,
    });
    expect(c.status).toBe(422);
    expect(c.body.error.code).toBe("IDEMPOTENCY_KEY_REUSED");
    // Keys are per account: bob's "rent-1" is his own.
    const d = await h.call("POST", "/v1/rentals", { key: h.bob, body, headers });
    expect(d.status).toBe(409);
    expect(d.body.error.code).toBe("ALLOCATION_CONFLICT");
  });
});

describe("authorization between two renters", () => {
  it("bob never sees, enters, releases or reads alice's rentals, jobs, keys or webhooks", async () => {
    h = await startHarness();
    const m = await firstMachine(h);
    const r = await h.call("POST", "/v1/rentals", {
      key: h.alice,
      body: { minerHotkey: m.minerHotkey, sshPublicKey: key },
    });
    const job = await h.call("POST", "/v1/jobs", {
      key: h.alice,
      body: { image: "alpine", command: ["echo", "hi"] },
    });
    const hook = await h.call("POST", "/v1/webhooks", {
      key: h.alice,
      body: { url: "http://127.0.0.1:9/x" },
    });
    const keys = await h.call("GET", "/v1/account/keys", { key: h.alice });
    expect([r.status, job.status, hook.status, keys.status]).toEqual([201, 201, 201, 200]);

    for (const [method, path] of [
      ["GET", `/v1/rentals/${r.body.id}`],
      ["GET", `/v1/rentals/${r.body.id}/ssh`],
      ["POST", `/v1/rentals/${r.body.id}/release`],
      ["GET", `/v1/jobs/${job.body.jobId}`],
      ["GET", `/v1/jobs/${job.body.jobId}/logs`],
      ["GET", `/v1/jobs/${job.body.jobId}/outputs`],
      ["GET", `/v1/jobs/${job.body.jobId}/receipt`],
      ["POST", `/v1/jobs/${job.body.jobId}/cancel`],
      ["DELETE", `/v1/webhooks/${hook.body.id}`],
      ["DELETE", `/v1/account/keys/${keys.body.keys[0].id}`],
    ] as const) {
      const res = await h.call(method, path, { key: h.bob, body: method === "POST" ? {} : undefined });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await h.call("GET", "/v1/rentals", { key: h.bob })).body.rentals).toEqual([]);
    expect((await h.call("GET", "/v1/jobs", { key: h.bob })).body.jobs).toEqual([]);
    expect((await h.call("GET", "/v1/webhooks", { key: h.bob })).body.webhooks).toEqual([]);
    const still = await h.call("GET", `/v1/rentals/${r.body.id}`, { key: h.alice });
    expect(still.body.state).toBe("active");
    const noKey = await h.call("GET", `/v1/rentals/${r.body.id}`);
    expect(noKey.status).toBe(401);
    const badKey = await h.call("GET", "/v1/account", { key: "cmk_forged" });
    expect(badKey.status).toBe(401);
    expect(badKey.body.error.code).toBe("INVALID_API_KEY");
  });
});
