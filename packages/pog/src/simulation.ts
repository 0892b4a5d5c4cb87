// SIMULATED proof-of-GPU, for the local network and simulations only (no GPU exists on our machines). A grant
// can only be made for network "local" with a loopback or embedded chain, and the round refuses it for any
// non-loopback miner. Everything produced under a grant is marked `simulated`.
import { CmeshError } from "@computemesh/core";

const GRANT = Symbol("simulated-pog-grant");

export interface SimulationGrant {
  readonly [GRANT]: true;
  readonly network: "local";
  readonly chainEndpoint: string;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Enables SIMULATED timing (the claimed GPU's speed model instead of the clock). Throws
 * SIMULATION_NOT_ALLOWED unless `network` is "local" and the chain endpoint is "embedded" or a loopback URL.
 */
export function allowSimulatedPog(opts: { network: string; chainEndpoint: string }): SimulationGrant {
  const endpointOk = opts.chainEndpoint === "embedded" || isLoopbackUrl(opts.chainEndpoint);
  if (opts.network !== "local" || !endpointOk) {
    throw new CmeshError(
      "SIMULATION_NOT_ALLOWED",
      `simulated proof-of-GPU is only for a local network on this machine (got network "${opts.network}", chain "${opts.chainEndpoint}")`,
      { hint: "real networks must measure real GPUs; run simulations with `cmesh localnet` / `cmesh sim`" },
    );
  }
  return Object.freeze({
    [GRANT]: true as const,
    network: "local" as const,
    chainEndpoint: opts.chainEndpoint,
  });
}

export function isSimulationGrant(x: unknown): x is SimulationGrant {
  return typeof x === "object" && x !== null && (x as Record<symbol, unknown>)[GRANT] === true;
}

function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}
