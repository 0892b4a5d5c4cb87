// `npm run bench -- NAME`: runs bench/NAME.ts, which prints one JSON object with its figures and baseline.
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3));
const name = process.argv[2];
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- NAME\navailable: ${available.join(", ") || "(none yet)"}\n`);
  process.exit(2);
}
await import(join(here, `${name}.ts`));
