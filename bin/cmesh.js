#!/usr/bin/env node
// Entry point for `cmesh`: runs the TypeScript CLI through tsx so no build step is needed.
import { register } from "tsx/esm/api";
register();
await import("../packages/cli/src/main.ts");
