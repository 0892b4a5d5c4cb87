import { existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { ensureWebBuilt } from "./web-assets.ts";

const logger = pino({ level: "silent" });

function fakeBuild(mtime: Date): string {
  const dir = join(mkdtempSync(join(tmpdir(), "cmesh-web-dist-")), "dist");
  mkdirSync(dir);
  writeFileSync(join(dir, "index.html"), "<!-- an old build -->");
  utimesSync(join(dir, "index.html"), mtime, mtime);
  return dir;
}

describe("ensureWebBuilt", () => {
  it("keeps a build that is newer than the UI's sources", async () => {
    const future = new Date(Date.now() + 3600_000);
    const dir = fakeBuild(future);
    expect(await ensureWebBuilt(logger, dir)).toBe(dir);
    expect(readFileSync(join(dir, "index.html"), "utf8")).toBe("<!-- an old build -->");
  });

  it("rebuilds a build older than the sources, swapping the new one in", async () => {
    const dir = fakeBuild(new Date(Date.UTC(2001, 0, 1)));
    expect(await ensureWebBuilt(logger, dir)).toBe(dir);
    const html = readFileSync(join(dir, "index.html"), "utf8");
    expect(html).not.toContain("an old build");
    expect(html).toContain("<div id=\"root\">");
    expect(existsSync(join(dir, "assets"))).toBe(true);
  }, 120_000);
});
