import type { Command } from "@commander-js/extra-typings";

/** Registers the `cmesh localnet` commands. */
export function register(_program: Command): void {}
