import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "cmesh-sim-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Spawns the CLI (TypeScript through tsx): generous time on a loaded machine.
describe("cmesh sim yuma", { timeout: 120_000 }, () => {
  it("runs the issue's scenario file and prints epochs as JSON; bad files fail with a code", async () => {
    const file = join(dir, "scenario.json");
    writeFileSync(
      file,
      JSON.stringify({
        params: {
          kappa: 32767,
          bondsMovingAverage: 975000,
          bondsPenalty: 0,
          yuma3: true,
          liquidAlpha: { enabled: true, low: 0.1, high: 0.3, steepness: 1000 },
          maxAllowedValidators: 3,
        },
        stake: [33, 33, 34, 0, 0],
        epochs: [{ weights: {} }, { weights: { "0": { "3": 1, "4": 0 }, "1": { "3": 1 } } }],
      }),
    );
    const { stdout } = await run(process.execPath, ["bin/cmesh.js", "sim", "yuma", "--scenario", file], {
      cwd: ROOT,
    });
    const out = JSON.parse(stdout);
    expect(out.epochs).toHaveLength(2);
    expect(Object.keys(out.epochs[1])).toEqual(
      expect.arrayContaining(["consensus", "incentive", "dividends", "bonds", "validatorPermit"]),
    );
    expect(out.epochs[1].incentive[3]).toBeCloseTo(1, 6);

    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{ not json");
    const err = await run(process.execPath, ["bin/cmesh.js", "sim", "yuma", "--scenario", bad], {
      cwd: ROOT,
    }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain("INVALID_SCENARIO");
  });
});
