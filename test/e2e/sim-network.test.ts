// `cmesh sim network`: honest and cheating miners on 127.0.0.1 against real validators and Yuma. The CI size
// runs in seconds; the full configuration (256 miners, 8 validators, 20 epochs) runs with CMESH_FULL=1.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { type NetworkSimResult, runNetworkSim } from "../../packages/cli/src/sim/network.ts";
import { agreement, cosine, mulberry32, shuffle } from "../../packages/cli/src/sim/stats.ts";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const CLI = join(import.meta.dirname, "../../bin/cmesh.js");

function expectCheatersLose(r: NetworkSimResult, opts: { sharedAtLeast: number }) {
  expect(r.mode).toBe("simulated-pog");
  expect(r.modeled).toMatch(/GPU speed only/);
  // every cheater kind is present and caught where the validators can see it
  for (const kind of ["spoofed_specs", "partial_compute", "replayed_receipts", "dropout"] as const) {
    expect(r.kinds[kind].miners, kind).toBeGreaterThan(0);
    expect(r.kinds[kind].detectionRate, kind).toBe(1);
  }
  expect(r.kinds.shared_uuid.detectionRate).toBeGreaterThanOrEqual(opts.sharedAtLeast);
  expect(r.kinds.spoofed_specs.reasons).toHaveProperty("VRAM_BAD_PATH");
  expect(r.kinds.partial_compute.reasons).toHaveProperty("WRONG_RESULT");
  expect(r.kinds.shared_uuid.reasons).toHaveProperty("UUID_CONFLICT");
  // simulated timing pays a slow GPU as its claim; the timing audit on the modeled device clock catches it
  expect(r.kinds.slow_gpu.auditFailRate).toBe(1);
  expect(r.kinds.slow_gpu.audit).toMatchObject({ "failed TOO_SLOW": r.kinds.slow_gpu.miners });
  expect(r.kinds.partial_compute.auditFailRate).toBe(1);
  // honest miners are never penalized, by the validators or by the audit
  expect(r.honest.falsePositives).toBe(0);
  expect(r.honest.auditFailRate).toBe(0);
  // the rentals: the victim and the drop-outs were rented; every drop-out's rental was declared lost
  expect(r.rentals.rented).toBe(1 + r.kinds.dropout.miners);
  expect(r.rentals.lostDeclared).toBe(r.kinds.dropout.miners);
  // every validator rejected the replayed receipts it fetched
  expect(r.receiptsRejected).toBeGreaterThanOrEqual(r.kinds.replayed_receipts.miners * r.config.validators);
  // incentives: the caught kinds earn nothing at the end; honest miners earn more than their head-count share
  const last = r.epochs[r.epochs.length - 1];
  for (const kind of ["spoofed_specs", "partial_compute", "dropout"]) expect(last.byKind[kind] ?? 0).toBe(0);
  expect(last.honestIncentive).toBeGreaterThan(r.honest.miners / r.config.miners);
  for (const e of r.epochs) expect(e.weightAgreement.min).toBeGreaterThan(0.9);
}

describe("cmesh sim network", () => {
  it("detects every cheater kind the validators can see and never penalizes honest miners (24 miners, 3 validators)", async () => {
    const r = await runNetworkSim({
      miners: 24,
      validators: 3,
      cheaters: 0.5,
      epochs: 4,
      seed: 7,
      pogIntervalSec: 600,
    });
    expectCheatersLose(r, { sharedAtLeast: 0.5 });
    expect(r.epochs).toHaveLength(4);
    expect(r.epochs[0].proofsRun).toBe(24 * 3);
  }, 120_000);

  it("places the same miners the same way for the same seed", async () => {
    const a = shuffle([...Array(50).keys()], mulberry32(3));
    expect(shuffle([...Array(50).keys()], mulberry32(3))).toEqual(a);
    expect(shuffle([...Array(50).keys()], mulberry32(4))).not.toEqual(a);
    expect(cosine([1, 0], [0, 1])).toBe(0);
    expect(
      agreement([
        [1, 2],
        [2, 4],
        [1, 2],
      ]).min,
    ).toBeCloseTo(1, 12);
  });

  it("refuses bad options with a stable code", async () => {
    await expect(
      runNetworkSim({ miners: 2, validators: 1, cheaters: 0.1, epochs: 3, seed: 1 }),
    ).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(
      runNetworkSim({ miners: 24, validators: 1, cheaters: 1.5, epochs: 3, seed: 1 }),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("the CLI prints the table, says the GPU speed is modeled, and --json parses", async () => {
    const args = [
      CLI,
      "sim",
      "network",
      "--miners",
      "12",
      "--validators",
      "2",
      "--cheaters",
      "0.5",
      "--epochs",
      "3",
    ];
    const table = await run(process.execPath, [...args, "--seed", "5"], { maxBuffer: 1 << 24 });
    expect(table.stdout).toMatch(/MODE: SIMULATED proof-of-GPU/);
    expect(table.stdout).toMatch(/partial_compute/);
    expect(table.stdout).toMatch(/false positives 0\.0 %/);
    const json = await run(process.execPath, [...args, "--seed", "5", "--json"], { maxBuffer: 1 << 24 });
    const r = JSON.parse(json.stdout) as NetworkSimResult;
    expect(r.config).toMatchObject({ miners: 12, validators: 2, epochs: 3, seed: 5 });
    expect(r.honest.falsePositives).toBe(0);
  }, 120_000);

  it.runIf(process.env.CMESH_FULL === "1")(
    "full configuration: 256 miners, 8 validators, 10 % cheaters, 20 epochs",
    async () => {
      const r = await runNetworkSim({ miners: 256, validators: 8, cheaters: 0.1, epochs: 20, seed: 1 });
      expectCheatersLose(r, { sharedAtLeast: 1 });
    },
    3_600_000,
  );
});
