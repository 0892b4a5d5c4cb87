import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../../packages/api/src/testing/harness.ts";
import {
  InMemoryMarketDouble,
  sampleMachines,
} from "../../packages/api/src/testing/in-memory-market-double.ts";
import { SSHD_PATH, startTestSshd, type TestSshd } from "../../packages/api/src/testing/test-sshd.ts";
import { CHROMIUM, launchTestChromium } from "./browser.ts";

const SHOTS = join(process.cwd(), "test-results", "web");
const haveTools = existsSync(CHROMIUM) && existsSync(SSHD_PATH);
if (!haveTools) console.warn(`web-ui: ${CHROMIUM} or ${SSHD_PATH} missing; the web UI suite is SKIPPED`);

const run = promisify(execFile);

describe.skipIf(!haveTools)("web UI (Playwright + chromium) over the renter API", () => {
  let h: Harness;
  let ctx: BrowserContext;
  let page: Page;
  const sshds: TestSshd[] = [];
  const keyDir = mkdtempSync(join(tmpdir(), "cmesh-web-key-"));
  const keyPath = join(keyDir, "id_ed25519");

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "renter@web-test", "-f", keyPath]);
    const backend = new InMemoryMarketDouble(sampleMachines(6), {
      // Each rental gets a real OpenSSH server that accepts only the key pasted in the UI.
      sshEndpoint: async (req) => {
        const sshd = await startTestSshd(req.sshPublicKey);
        sshds.push(sshd);
        return { host: sshd.host, port: sshd.port, user: sshd.user };
      },
    });
    h = await startHarness({ backend, web: true, clock: undefined });
    ({ ctx, page } = await launchTestChromium());
  }, 120_000);

  afterAll(async () => {
    await ctx?.close();
    await h?.close();
    for (const s of sshds) s.stop();
  });

  it("search → rent → ssh in with OpenSSH → release → the rental is gone", async () => {
    await page.goto(h.api.url);
    await page.getByRole("table", { name: "machines" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "marketplace.png"), fullPage: true });

    // Errors are shown in words, naming the bad token.
    await page.getByLabel("More terms (query language)").fill("colour=red");
    await page.getByRole("button", { name: "Search" }).click();
    await expect
      .poll(() => page.getByRole("alert").first().textContent())
      .toContain('unknown field "colour"');
    await page.getByLabel("More terms (query language)").fill("");
    await page.getByLabel("GPUs at least").fill("2");
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => page.getByTestId("applied-query").textContent()).toContain("count>=2");

    // The API key is entered once (kept in localStorage).
    await page.getByLabel("API key", { exact: true }).fill(h.alice);
    await page.getByRole("button", { name: "Use key" }).click();
    await page.getByTestId("balance").waitFor();

    const firstRent = page.getByRole("button", { name: /^Rent machine uid/ }).first();
    await firstRent.click();
    await page.getByLabel(/SSH public key/).fill(readFileSync(`${keyPath}.pub`, "utf8"));
    await page.getByRole("button", { name: "Rent", exact: true }).click();
    const sshCommand =
      (
        await page
          .getByTestId("ssh-command")
          .textContent({ timeout: 20_000 })
          .catch(async (err) => {
            throw new Error(`no ssh command on the page: ${await page.textContent("main")}`, { cause: err });
          })
      )?.trim() ?? "";
    expect(sshCommand).toMatch(/^ssh -p \d+ \S+@127\.0\.0\.1$/);
    await page.screenshot({ path: join(SHOTS, "rent.png"), fullPage: true });

    const [, ...sshArgs] = sshCommand.split(/\s+/);
    const login = await run("ssh", [
      "-i",
      keyPath,
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      ...sshArgs,
      "echo",
      "inside-the-rental",
    ]);
    expect(login.stdout.trim()).toBe("inside-the-rental");

    await page.getByRole("link", { name: "My rentals", exact: true }).click();
    const table = page.getByRole("table", { name: "rentals" });
    await table.waitFor();
    expect(await table.textContent()).toContain(sshCommand);
    await page.screenshot({ path: join(SHOTS, "rentals.png"), fullPage: true });
    await page.getByRole("button", { name: /^Release rental/ }).click();
    await page.getByTestId("no-rentals").waitFor({ timeout: 15_000 });
    const live = await h.call("GET", "/v1/rentals?state=live", { key: h.alice });
    expect(live.body.rentals).toEqual([]);
  }, 90_000);

  it("the network page shows every UID", async () => {
    await page.goto(`${h.api.url}/#/network`);
    const table = page.getByRole("table", { name: "metagraph" });
    await table.waitFor();
    for (const m of h.backend.machines) {
      await expect.poll(() => page.locator(`tr[data-uid="${m.uid}"]`).count()).toBe(1);
    }
    await page.screenshot({ path: join(SHOTS, "network.png"), fullPage: true });
  }, 30_000);

  it("machine page, miner view and jobs with live logs", async () => {
    const m = h.backend.machines[0];
    await page.goto(`${h.api.url}/#/machine/${encodeURIComponent(m.minerHotkey)}`);
    await page.getByRole("table", { name: "proof history" }).waitFor();
    expect(await page.textContent("main")).toContain(m.minerHotkey);
    await page.screenshot({ path: join(SHOTS, "machine.png"), fullPage: true });

    await page.goto(`${h.api.url}/#/miner/${encodeURIComponent(m.minerHotkey)}`);
    await page.getByRole("table", { name: "miner machines" }).waitFor();
    expect(await page.getByRole("table", { name: "miner machines" }).textContent()).toContain("verified");
    await page.screenshot({ path: join(SHOTS, "miner.png"), fullPage: true });

    await page.goto(`${h.api.url}/#/jobs`);
    await page.getByLabel("Command").fill("echo hello from the web test");
    await page.getByRole("button", { name: "Submit job" }).click();
    await expect
      .poll(() => page.getByTestId("job-stdout").textContent(), { timeout: 15_000 })
      .toContain("hello from the web test");
    await expect
      .poll(() => page.getByTestId("job-state").textContent(), { timeout: 15_000 })
      .toContain("completed");
    await page.screenshot({ path: join(SHOTS, "jobs.png"), fullPage: true });

    // Keyboard: Tab from the top reaches the skip link first.
    await page.goto(`${h.api.url}/#/market`);
    await page.reload();
    await page.getByRole("table", { name: "machines" }).waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
  }, 60_000);
});
