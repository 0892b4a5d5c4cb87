import type { Command } from "@commander-js/extra-typings";

/** Registers the `cmesh wallet` commands. */
export function register(_program: Command): void {}
