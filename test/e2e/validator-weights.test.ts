// Weights on chain: commit/reveal subnets (commit, then reveal in the epoch the chain names), a version key the
// subnet refuses (failed at once, with the chain's reason stored and counted, never retried blindly), and a
// transport failure (retried, then set).
import { join } from "node:path";
import type { ChainClient, SubnetHyperparams } from "@computemesh/chain";
import { allowSimulatedPog } from "@computemesh/pog";
import { Validator } from "@computemesh/validator";
import { describe, expect, it } from "vitest";
import { register, startTestMiner, type TestMiner, type TestNet, testNet } from "./validator-harness.ts";

async function setup(
  tag: string,
  params: Partial<SubnetHyperparams>,
  wrap?: (c: ChainClient) => ChainClient,
) {
  const net: TestNet = await testNet({ params });
  const keys = await register(net, `W-V-${tag}`, 1000n);
  const miner: TestMiner = await startTestMiner(net, `W-M-${tag}`, { model: "NVIDIA H200", count: 8 });
  await net.chain.advanceBlocks(11);
  const client = net.chain.client();
  const v = await Validator.start({
    chain: wrap ? wrap(client) : client,
    hotkey: keys.hotkey,
    netuid: net.netuid,
    db: join(net.dir, "v.db"),
    epochBlocks: 100,
    autoRun: false,
    jobs: false,
    pogSimulation: allowSimulatedPog({ network: "local", chainEndpoint: "embedded" }),
    pog: { initialDelayMaxSec: 0 },
    weights: { retryBaseMs: 0 },
  });
  const uid = (addr: string) =>
    net.chain.metagraph(net.netuid).neurons.find((n) => n.hotkey === addr)?.uid as number;
  const row = () => net.chain.metagraph(net.netuid, true).weights?.[uid(keys.hotkey.address)] ?? [];
  return {
    net,
    v,
    row,
    minerUid: uid(miner.hotkey.address),
    close: async () => {
      await v.stop();
      await miner.stop();
      await net.cleanup();
    },
  };
}

describe("validator weights", () => {
  it("commits, then reveals in the epoch the chain names", async () => {
    const s = await setup("cr", { commitRevealEnabled: true, commitRevealPeriod: 1, tempo: 5 });
    try {
      const first = await s.v.runEpoch();
      expect(first.weightsStatus).toBe("pending");
      expect(await s.v.store.getState(`weights.commit.${first.epoch}`)).toMatch(/"salt":\[/);
      expect(s.row().every((w) => w === 0)).toBe(true);
      let status = "pending";
      for (let i = 0; i < 30 && status === "pending"; i++) {
        await s.net.chain.advanceBlocks(1);
        status = (await s.v.runEpoch(first.epoch)).weightsStatus;
      }
      expect(status).toBe("ok");
      expect(s.row()[s.minerUid]).toBe(65535);
      expect(await s.v.metrics.text()).toMatch(
        /cmesh_validator_weight_transactions_total\{result="committed"\} 1/,
      );
    } finally {
      await s.close();
    }
  }, 60_000);

  it("gives up at once on a version key the subnet refuses, keeping the chain's reason", async () => {
    const s = await setup("vk", { weightsVersionKey: 500 });
    try {
      const r = await s.v.runEpoch();
      expect(r.weightsStatus).toBe("failed");
      const ws = await s.v.store.weightSet(r.epoch);
      expect(ws).toMatchObject({ status: "failed", attempts: 1 });
      expect(ws?.last_error).toMatch(/^IncorrectWeightVersionKey: version key 100 < 500/);
      expect(await s.v.metrics.text()).toMatch(
        /cmesh_validator_weight_transactions_total\{result="failed"\} 1/,
      );
      expect(s.row().every((w) => w === 0)).toBe(true);
    } finally {
      await s.close();
    }
  }, 60_000);

  it("retries a transaction that failed in transport, then sets the weights", async () => {
    let failures = 1;
    const s = await setup(
      "tx",
      {},
      (c) =>
        new Proxy(c, {
          get(target, prop, receiver) {
            if (prop === "setWeights") {
              return (...args: Parameters<ChainClient["setWeights"]>) => {
                if (failures-- > 0) return Promise.reject(new Error("socket hang up"));
                return target.setWeights(...args);
              };
            }
            const v = Reflect.get(target, prop, receiver);
            return typeof v === "function" ? v.bind(target) : v;
          },
        }),
    );
    try {
      const r = await s.v.runEpoch();
      expect(r.weightsStatus).toBe("pending");
      expect(await s.v.store.weightSet(r.epoch)).toMatchObject({
        attempts: 1,
        last_error: "TRANSPORT: socket hang up",
      });
      const again = await s.v.runEpoch(r.epoch);
      expect(again).toMatchObject({ scored: false, weightsStatus: "ok" });
      expect(await s.v.store.weightSet(r.epoch)).toMatchObject({
        status: "ok",
        attempts: 2,
        last_error: null,
      });
      expect(s.row()[s.minerUid]).toBe(65535);
    } finally {
      await s.close();
    }
  }, 60_000);
});
