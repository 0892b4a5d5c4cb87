// The web UI against `cmesh localnet` (what `npm start` runs: local chain, 2 validators, 3 miners on real Docker,
// the renter API serving the UI). In the browser: search → rent → the page shows an `ssh` command → OpenSSH logs
// in through it → release → the rental is gone; the network page shows every UID. Screenshots of each page go
// to test-results/web-localnet/. Needs Docker (a failure, not a skip, when CMESH_REQUIRE_DOCKER=1) and chromium.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestLocalnet, type TestLocalnet } from "../../packages/cli/src/localnet/testing.ts";
import { requireDockerOrSkip } from "../../packages/miner/src/testing/docker-gate.ts";
import { CHROMIUM, launchTestChromium } from "./browser.ts";

const dockerOk = await requireDockerOrSkip("e2e web UI on the local network");
if (!existsSync(CHROMIUM)) console.warn(`web-localnet: no chromium at ${CHROMIUM}; SKIPPED`);
const ROOT = join(import.meta.dirname, "..", "..");
const SHOTS = join(ROOT, "test-results", "web-localnet");
const run = promisify(execFile);

interface StatusJson {
  api: string;
  web: string;
  apiKey: string;
  validators: { hotkey: string; uid: number }[];
  miners: { hotkey: string; uid: number }[];
}

describe.skipIf(!dockerOk || !existsSync(CHROMIUM))("web UI on `cmesh localnet` (Playwright)", () => {
  const dir = mkdtempSync(join(tmpdir(), "cmesh-web-localnet-"));
  const keyPath = join(dir, "renter_key");
  let net: TestLocalnet | undefined;
  let status: StatusJson;
  let ctx: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    net = await startTestLocalnet({ dir: join(dir, ".cmesh"), extraArgs: ["--block-time", "250"] });
    status = (await net.status()) as StatusJson;
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "renter@web-localnet", "-f", keyPath]);
    ({ ctx, page } = await launchTestChromium());
  }, 200_000);

  afterAll(async () => {
    await ctx?.close();
    await net?.stop();
  }, 60_000);

  it("search → rent → ssh in with OpenSSH → release → gone", async () => {
    await page.goto(status.web);
    await page.getByLabel("API key", { exact: true }).fill(status.apiKey);
    await page.getByRole("button", { name: "Use key" }).click();
    await page.getByTestId("balance").waitFor();
    // The local network's rentable machine is the CPU miner (its simulated GPUs can be proven, not rented).
    await page.getByLabel("GPU model").fill("CPU");
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => page.getByTestId("applied-query").textContent()).toContain("gpu=CPU");
    const rentButton = page.getByRole("button", { name: /^Rent machine uid/ }).first();
    await rentButton.waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(SHOTS, "marketplace.png"), fullPage: true });
    await rentButton.click();
    await page.getByLabel(/SSH public key/).fill(readFileSync(`${keyPath}.pub`, "utf8"));
    await page.getByRole("button", { name: "Rent", exact: true }).click();
    const sshCommand = (await page.getByTestId("ssh-command").textContent({ timeout: 60_000 }))?.trim() ?? "";
    expect(sshCommand).toMatch(/^ssh -p \d+ \S+@127\.0\.0\.1$/);
    await page.screenshot({ path: join(SHOTS, "rent.png"), fullPage: true });

    const [, ...sshArgs] = sshCommand.split(/\s+/);
    let login = "";
    for (let attempt = 0; attempt < 20 && login !== "inside-the-container"; attempt++) {
      login = await run("ssh", [
        "-i",
        keyPath,
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        ...sshArgs,
        "echo inside-the-container",
      ])
        .then((r) => r.stdout.trim())
        .catch(async () => {
          await new Promise((r) => setTimeout(r, 500));
          return "";
        });
    }
    expect(login).toBe("inside-the-container");

    await page.getByRole("link", { name: "My rentals", exact: true }).click();
    await page.getByRole("table", { name: "rentals" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "rentals.png"), fullPage: true });
    await page.getByRole("button", { name: /^Release rental/ }).click();
    await page.getByTestId("no-rentals").waitFor({ timeout: 30_000 });
    const live = await fetch(`${status.api}/v1/rentals?state=live`, {
      headers: { authorization: `Bearer ${status.apiKey}` },
    });
    expect(((await live.json()) as { rentals: unknown[] }).rentals).toEqual([]);
  }, 180_000);

  it("simulated-GPU machines are listed as proven but not for rent; only the CPU machine has a Rent button", async () => {
    // logged in by the test before (the key stays in the browser); the rental there has been released
    await page.goto(status.web);
    const [cpu, gpuA, gpuB] = status.miners;
    for (const m of [gpuA, gpuB]) await page.getByTestId(`not-rentable-${m.uid}`).waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: `Rent machine uid ${cpu.uid}` }).waitFor({ timeout: 60_000 });
    expect(await page.getByRole("button", { name: /^Rent machine uid/ }).count()).toBe(1);
  }, 120_000);

  it("the network page shows every UID; machine, miner and jobs pages render", async () => {
    await page.goto(`${status.web}#/network`);
    await page.getByRole("table", { name: "metagraph" }).waitFor();
    for (const n of [...status.validators, ...status.miners]) {
      await expect.poll(() => page.locator(`tr[data-uid="${n.uid}"]`).count(), { timeout: 20_000 }).toBe(1);
    }
    // the chain's incentive over the validator's recorded epochs, one line per earning UID
    await page.getByRole("img", { name: "incentive over epochs chart" }).waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(SHOTS, "network.png"), fullPage: true });
    const miner = status.miners[1];
    await page.goto(`${status.web}#/machine/${encodeURIComponent(miner.hotkey)}`);
    await page.getByRole("table", { name: "proof history" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "machine.png"), fullPage: true });
    await page.goto(`${status.web}#/miner/${encodeURIComponent(miner.hotkey)}`);
    await page.getByRole("table", { name: "miner machines" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "miner.png"), fullPage: true });
    await page.goto(`${status.web}#/jobs`);
    await page.getByRole("button", { name: "Submit job" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "jobs.png"), fullPage: true });
  }, 90_000);
});
