import { existsSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";

/** packages/web: its vite config builds the UI into packages/web/dist, which the API serves. */
export const WEB_PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../web");
export const WEB_DIST_DIR = join(WEB_PACKAGE_DIR, "dist");

let building: Promise<string> | undefined;

/**
 * Returns the directory of the built web UI, building it with Vite first when `dist/index.html` is missing
 * (a fresh clone). One build per process; several processes may build at once (the local network's validators,
 * tests), so each builds into its own directory and renames it into place atomically; the first one wins.
 */
export async function ensureWebBuilt(logger: Logger, dir = WEB_DIST_DIR): Promise<string> {
  if (existsSync(join(dir, "index.html"))) return dir;
  building ??= (async () => {
    logger.info({ dir }, "web UI not built yet; building it with vite (once)");
    const { build } = await import("vite");
    const tmp = `${dir}.build-${process.pid}-${Date.now()}`;
    await build({
      configFile: join(WEB_PACKAGE_DIR, "vite.config.ts"),
      root: WEB_PACKAGE_DIR,
      logLevel: "warn",
      build: { outDir: tmp, emptyOutDir: true },
    });
    try {
      if (existsSync(dir) && !existsSync(join(dir, "index.html")))
        rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    } catch (err) {
      // Another process put a complete build in place first.
      if (!existsSync(join(dir, "index.html"))) throw err;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return dir;
  })();
  return building;
}
