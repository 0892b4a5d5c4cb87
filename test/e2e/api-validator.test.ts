// The renter API over a REAL Validator on a LocalChain: miners on 127.0.0.1 answer Specs and proof-of-GPU
// (the local network's SIMULATED GPU backend, as no GPU exists here) and the allocation synapses (the shared
// `InMemoryRentals` stand-in for the container runtime). Search, rent, release, "lost" and the
// network/machine-history extensions go through the validator itself.
import { Validator } from "@computemesh/validator";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccount, startApiServer, type ApiServer } from "../../packages/api/src/index.ts";
import { callApi, sampleSshPublicKey } from "../../packages/api/src/testing/harness.ts";
import {
  register,
  startTestMiner,
  type TestMiner,
  type TestNet,
  testNet,
  testValidatorConfig,
} from "./validator-harness.ts";
import { until } from "./chaos-helpers/processes.ts";

describe("renter API over a real Validator", () => {
  let net: TestNet;
  let v: Validator;
  let api: ApiServer;
  let key: string;
  const miners: TestMiner[] = [];
  const call = (method: string, path: string, body?: unknown) => callApi(api.url, key, method, path, body);

  beforeAll(async () => {
    net = await testNet();
    const keys = await register(net, "API-V", 1000n);
    miners.push(await startTestMiner(net, "API-a", { model: "NVIDIA GeForce RTX 4090", count: 1 }));
    miners.push(await startTestMiner(net, "API-b", { model: "NVIDIA H100 80GB HBM3", count: 2 }));
    await net.chain.advanceBlocks(11);
    v = await Validator.start(testValidatorConfig(net, keys.hotkey));
    await net.chain.advanceBlocks(1);
    await until("both machines proven", async () => {
      const ms = await v.listMachines();
      return ms.length === 2 && ms.every((m) => m.verified);
    });
    // The API shares the validator's database (its own api_* tables and migration table).
    api = await startApiServer({
      backend: v,
      db: v.store.db as never,
      logger: pino({ level: "silent" }),
      web: false,
      rateLimit: false,
      meterIntervalMs: 200,
    });
    key = (await createAccount(api.db, { name: "renter", initialCredits: 50 })).apiKey;
  }, 90_000);

  afterAll(async () => {
    await api?.close();
    await v?.stop();
    for (const m of miners) await m.stop();
    await net?.cleanup();
  });

  it("searches the proven machines with the query language", async () => {
    const all = await call("GET", "/v1/machines?q=sort=-count");
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(2);
    expect(all.body.machines[0].gpuModel).toBe("NVIDIA H100 80GB HBM3");
    expect(all.body.machines[0].verified).toBe(true);
    expect(all.body.machines[0].measuredTops).toBeGreaterThan(0);
    const h100 = await call(
      "GET",
      `/v1/machines?q=${encodeURIComponent("gpu=NVIDIA_H100_80GB_HBM3 count>=2")}`,
    );
    expect(h100.body.machines.map((m: { minerHotkey: string }) => m.minerHotkey)).toEqual([
      miners[1].hotkey.address,
    ]);
  });

  it("rents through the validator (one winner), releases, and the miner's allocation ends", async () => {
    const target = miners[1].hotkey.address;
    const body = { minerHotkey: target, sshPublicKey: sampleSshPublicKey(), durationSec: 600 };
    const [r1, r2] = await Promise.all([
      call("POST", "/v1/rentals", body),
      call("POST", "/v1/rentals", body),
    ]);
    const won = [r1, r2].filter((r) => r.status === 201);
    expect(won.length).toBe(1);
    expect([r1, r2].find((r) => r.status !== 201)?.status).toBe(409);
    const rental = won[0].body;
    expect(rental.sshCommand).toContain("ssh -p 42022");
    expect((await v.allocation(rental.allocationId))?.state).toBe("active");
    const rel = await call("POST", `/v1/rentals/${rental.id}/release`, {});
    expect(rel.body.state).toBe("released");
    expect((await v.allocation(rental.allocationId))?.state).toBe("released");
    expect([...miners[1].rentals.allocations.values()].every((a) => a.state === "released")).toBe(true);
    const acc = await call("GET", "/v1/account");
    expect(acc.body.balanceMicro).toBe(50_000_000 - rel.body.chargedMicro);
  });

  it("a rental whose container dies ends as lost and stops charging", async () => {
    const target = miners[0].hotkey.address;
    const r = await call("POST", "/v1/rentals", {
      minerHotkey: target,
      sshPublicKey: sampleSshPublicKey(),
      durationSec: 600,
    });
    expect(r.status).toBe(201);
    miners[0].rentals.containersDead = true;
    const lost = await until("rental lost", async () => {
      const x = await call("GET", `/v1/rentals/${r.body.id}`);
      return x.body.state === "lost" ? x.body : undefined;
    });
    expect(lost.endReason).toBeTruthy();
    await new Promise((res) => setTimeout(res, 1200));
    const later = await call("GET", `/v1/rentals/${r.body.id}`);
    expect(later.body.chargedMicro).toBe(lost.chargedMicro);
  });

  it("serves the metagraph and the machine history from the validator", async () => {
    const n = await call("GET", "/v1/network");
    expect(n.body.available).toBe(true);
    const hotkeys = n.body.neurons.map((x: { hotkey: string }) => x.hotkey);
    for (const m of miners) expect(hotkeys).toContain(m.hotkey.address);
    expect(hotkeys).toContain(v.hotkey);
    const hist = await call("GET", `/v1/machines/${miners[1].hotkey.address}`);
    expect(hist.body.history.proofs.length).toBeGreaterThan(0);
    expect(hist.body.history.proofs[0].passed).toBe(true);
    expect(hist.body.history.proofs[0].model).toBe("NVIDIA H100 80GB HBM3");
  });
});
