// Test support: Debian's chromium driven by playwright-core, headless, in a fresh profile, for the web UI suites.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.CMESH_CHROMIUM ?? "/usr/bin/chromium";

/** A headless chromium with its own profile and one page, quiet on the network (no updates, sync or QUIC). */
export async function launchTestChromium(): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "cmesh-chromium-")), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1366, height: 900 },
  });
  return { ctx, page: ctx.pages()[0] ?? (await ctx.newPage()) };
}
