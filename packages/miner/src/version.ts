import { createRequire } from "node:module";

const pkg = createRequire(import.meta.url)("../package.json") as { version: string };

/** The miner's version, reported in Specs. */
export const MINER_VERSION: string = pkg.version;
