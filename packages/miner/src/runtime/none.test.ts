// A miner without Docker rents nothing, says why, and leaves its store untouched.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCmeshError } from "@computemesh/core";
import { describe, expect, it } from "vitest";
import { AllocationManager } from "../allocations/manager.ts";
import { openMinerStore } from "../store/store.ts";
import { NoContainerRuntime } from "./none.ts";

const MiB = 1024 * 1024;
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1lFq0f1p0Jm9o5uD8mF6v2yJp3Qk7v0bqkB5n1xYz renter@test";

describe("NoContainerRuntime (cmesh miner --no-docker)", () => {
  it("refuses Allocate with RENTALS_UNAVAILABLE and a hint, and records nothing", async () => {
    const db = await openMinerStore(join(mkdtempSync(join(tmpdir(), "cmesh-nodocker-")), "miner.sqlite"));
    const manager = new AllocationManager({
      db,
      runtime: new NoContainerRuntime(),
      minerHotkey: "5NoDockerMiner",
      capacity: { gpus: [], nvidiaRuntime: false, cpuCount: 2, ramBytes: 4096 * MiB, diskFreeBytes: async () => 0 },
      images: { default: "computemesh/rental-sshd:bookworm", allowed: ["computemesh/rental-sshd:bookworm"] },
      ssh: { bindHost: "127.0.0.1", advertisedHost: "127.0.0.1", portRange: [42300, 42310] },
      pidsLimit: 256,
    });
    const attempt = manager.allocate(
      {
        resources: { cpu: { count: 1 }, gpu: { count: 0 }, hard_disk: { capacity: 64 * MiB }, ram: { capacity: 128 * MiB } },
        ssh_public_key: KEY,
        image: "",
        duration_sec: 600,
      },
      "5Validator",
    );
    const err = await attempt.then(
      () => null,
      (e: unknown) => e,
    );
    expect(isCmeshError(err, "RENTALS_UNAVAILABLE")).toBe(true);
    expect((err as { hint?: string }).hint).toMatch(/dockerd/);
    expect(await manager.list()).toEqual([]);
    expect(await manager.reconcile()).toMatchObject({ lost: [] });
    await db.destroy();
  });

  it("reports no Docker in the facts the specs carry", async () => {
    expect(await new NoContainerRuntime().facts()).toEqual({
      available: false,
      serverVersion: null,
      nvidiaRuntime: false,
    });
  });
});
