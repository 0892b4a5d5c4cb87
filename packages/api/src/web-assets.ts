import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";

/** packages/web: its vite config builds the UI into packages/web/dist, which the API serves. */
export const WEB_PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../web");
export const WEB_DIST_DIR = join(WEB_PACKAGE_DIR, "dist");

let building: Promise<string> | undefined;

/** Newest modification time of the UI's sources (src/, index.html, vite config). */
function newestSourceMs(root = WEB_PACKAGE_DIR): number {
  let newest = 0;
  const visit = (path: string) => {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) for (const e of readdirSync(path)) visit(join(path, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ["src", "index.html", "vite.config.ts"]) visit(join(root, p));
  return newest;
}

/** A build exists and is not older than the sources (a pulled change to the UI rebuilds it). */
function isFresh(dir: string): boolean {
  const index = statSync(join(dir, "index.html"), { throwIfNoEntry: false });
  return index !== undefined && index.mtimeMs >= newestSourceMs();
}

/**
 * Returns the directory of the built web UI, building it with Vite first when `dist/index.html` is missing (a
 * fresh clone) or older than the UI's sources. One build per process; several processes may build at once (the
 * local network's validators, tests), so each builds into its own directory and swaps it into place with renames;
 * a process that finds a fresh build already in place keeps that one.
 */
export async function ensureWebBuilt(logger: Logger, dir = WEB_DIST_DIR): Promise<string> {
  if (isFresh(dir)) return dir;
  building ??= (async () => {
    logger.info({ dir }, "web UI not built or older than its sources; building it with vite (once)");
    const { build } = await import("vite");
    const tmp = `${dir}.build-${process.pid}-${Date.now()}`;
    const old = `${dir}.old-${process.pid}-${Date.now()}`;
    await build({
      configFile: join(WEB_PACKAGE_DIR, "vite.config.ts"),
      root: WEB_PACKAGE_DIR,
      logLevel: "warn",
      build: { outDir: tmp, emptyOutDir: true },
    });
    try {
      if (!isFresh(dir)) {
        if (existsSync(dir)) renameSync(dir, old);
        renameSync(tmp, dir);
      }
    } catch (err) {
      // Another process swapped its build in first.
      if (!existsSync(join(dir, "index.html"))) throw err;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      rmSync(old, { recursive: true, force: true });
    }
    return dir;
  })();
  return building;
}
