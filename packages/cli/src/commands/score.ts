import type { Command } from "@commander-js/extra-typings";

/** Registers the `cmesh score` commands. */
export function register(_program: Command): void {}
