// `cmesh miner --no-docker`: the miner registers, serves its axon and answers Specs (so it can be proven and
// scored), but refuses every Allocate with RENTALS_UNAVAILABLE and never touches Docker.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Allocate, Dendrite, Specs } from "@computemesh/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MinerTestNet, minerTestNet } from "../testing/localnet.ts";
import { type MinerHandle, startMiner } from "./miner.ts";

const MiB = 1024 * 1024;
const TAO = 1_000_000_000n;
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1lFq0f1p0Jm9o5uD8mF6v2yJp3Qk7v0bqkB5n1xYz renter@test";

describe("startMiner without Docker", () => {
  let net: MinerTestNet;
  let miner: MinerHandle;
  const target = () => ({ ip: "127.0.0.1", port: miner.axon.port, hotkey: miner.hotkey });

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "cmesh-miner-nodocker-"));
    net = await minerTestNet(dir, `nodocker${process.pid}`);
    miner = await startMiner(
      {
        wallet: { ...net.minerWallet, path: net.walletPath },
        chain: "in-process",
        netuid: net.netuid,
        axon: { port: 0, host: "127.0.0.1" },
        dataDir: join(dir, "miner"),
        // an unreachable socket: the miner must never ask it anything
        dockerSocket: join(dir, "no-such-docker.sock"),
        docker: false,
        images: { default: "computemesh/rental-sshd:bookworm", allowed: [] },
        pricing: { currency: "USD", perGpuHour: 0.5 },
        access: { minValidatorStakeRao: 1000n * TAO },
        logLevel: "silent",
      },
      { chain: net.chain.client() },
    );
  });
  afterAll(async () => {
    await miner?.stop();
    await net?.chain.close();
  });

  it("serves Specs that say Docker is absent", async () => {
    const res = await new Dendrite({ hotkey: net.validator }).query(target(), Specs, {});
    if (!res.ok) throw new Error(`${res.status} ${res.message}`);
    expect(res.response.specs.docker.available).toBe(false);
    expect(res.response.specs.pricing).toEqual({ currency: "USD", per_gpu_hour: 0.5 });
  });

  it("refuses Allocate with RENTALS_UNAVAILABLE and records nothing", async () => {
    const res = await new Dendrite({ hotkey: net.validator }).query(target(), Allocate, {
      resources: { cpu: { count: 1 }, gpu: { count: 0 }, hard_disk: { capacity: 32 * MiB }, ram: { capacity: 128 * MiB } },
      ssh_public_key: KEY,
      image: "",
      duration_sec: 60,
    });
    expect(JSON.stringify(res)).toContain("RENTALS_UNAVAILABLE");
    expect(await miner.allocations.list()).toEqual([]);
  });
});
