// The miner's runtime when it runs without Docker (`cmesh miner --no-docker`, or a local network on a machine
// with no Docker daemon): the machine can still be proven and scored, but it rents nothing. Every rental
// operation either reports that there is nothing (lists, inspections) or refuses with RENTALS_UNAVAILABLE.
import { CmeshError } from "@computemesh/core";
import type { DockerFacts } from "../specs/collect.ts";
import type { ContainerRuntime, RentalInstance } from "./types.ts";

export class NoContainerRuntime implements ContainerRuntime {
  readonly kind = "none";

  async facts(): Promise<DockerFacts> {
    return { available: false, serverVersion: null, nvidiaRuntime: false };
  }

  async check(): Promise<DockerFacts> {
    return this.facts();
  }

  async hasImage(): Promise<boolean> {
    return false;
  }

  async createRental(): Promise<RentalInstance> {
    throw rentalsUnavailable();
  }

  async removeRental(): Promise<{ container: boolean; volume: boolean }> {
    return { container: false, volume: false };
  }

  async listRentals(): Promise<RentalInstance[]> {
    return [];
  }

  async listRentalVolumes(): Promise<string[]> {
    return [];
  }

  async inspectRental(): Promise<RentalInstance | null> {
    return null;
  }

  async startRental(): Promise<void> {
    throw rentalsUnavailable();
  }

  async logs(): Promise<string> {
    return "";
  }

  async exec(): Promise<{ exitCode: number; output: string }> {
    throw rentalsUnavailable();
  }
}

export function rentalsUnavailable(): CmeshError {
  return new CmeshError("RENTALS_UNAVAILABLE", "this miner runs without a container runtime and rents nothing", {
    hint: "choose another machine; its operator can start dockerd and restart the miner without --no-docker",
  });
}
