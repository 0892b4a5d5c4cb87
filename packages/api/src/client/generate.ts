// Regenerates the typed client's inputs from the live route definitions:
//   node --import tsx packages/api/src/client/generate.ts
// writes openapi.json (checked by a test against the running app) and schema.d.ts (openapi-typescript).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { buildApiApp } from "../server.ts";
import { InMemoryMarketDouble } from "../testing/in-memory-market-double.ts";

export async function openApiDocument(): Promise<unknown> {
  const { app, db } = await buildApiApp({
    backend: new InMemoryMarketDouble([]),
    db: ":memory:",
    logger: pino({ level: "silent" }),
    rateLimit: false,
    web: false,
  });
  await app.ready();
  const doc = app.swagger();
  await app.close();
  await db.destroy();
  return doc;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const here = dirname(fileURLToPath(import.meta.url));
  const jsonPath = join(here, "openapi.json");
  writeFileSync(jsonPath, `${JSON.stringify(await openApiDocument(), null, 2)}\n`);
  execFileSync("npx", ["--yes", "openapi-typescript@7.13.0", jsonPath, "-o", join(here, "schema.d.ts")], {
    stdio: "inherit",
  });
}
