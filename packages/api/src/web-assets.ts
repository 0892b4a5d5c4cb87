import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";

/** packages/web: its vite config builds the UI into packages/web/dist, which the API serves. */
export const WEB_PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../web");
export const WEB_DIST_DIR = join(WEB_PACKAGE_DIR, "dist");

let building: Promise<string> | undefined;

/**
 * Returns the directory of the built web UI, building it with Vite first when `dist/index.html` is missing
 * (a fresh clone). One build per process even when several servers start at once.
 */
export async function ensureWebBuilt(logger: Logger, dir = WEB_DIST_DIR): Promise<string> {
  if (existsSync(join(dir, "index.html"))) return dir;
  building ??= (async () => {
    logger.info({ dir }, "web UI not built yet; building it with vite (once)");
    const { build } = await import("vite");
    await build({
      configFile: join(WEB_PACKAGE_DIR, "vite.config.ts"),
      root: WEB_PACKAGE_DIR,
      logLevel: "warn",
    });
    return dir;
  })();
  return building;
}
