// Whether the Docker-backed tests can run here. In CI (CMESH_REQUIRE_DOCKER=1) a missing Docker or rental image
// is a failure, never a skip; elsewhere the tests skip with a loud reason.
import { existsSync } from "node:fs";
import Docker from "dockerode";

export const RENTAL_IMAGE = process.env.CMESH_RENTAL_IMAGE ?? "computemesh/rental-sshd:bookworm";

export async function dockerUnavailableReason(): Promise<string | null> {
  const socket = "/var/run/docker.sock";
  if (!existsSync(socket)) return `no Docker socket at ${socket}`;
  const docker = new Docker({ socketPath: socket });
  try {
    await docker.ping();
  } catch (err) {
    return `dockerd does not answer: ${(err as Error).message}`;
  }
  try {
    await docker.getImage(RENTAL_IMAGE).inspect();
  } catch {
    return `rental image ${RENTAL_IMAGE} is missing (run scripts/build-images.sh)`;
  }
  return null;
}

/** Resolves to true when the tests should run; throws in CI when they cannot; logs loudly and returns false otherwise. */
export async function requireDockerOrSkip(suite: string): Promise<boolean> {
  const reason = await dockerUnavailableReason();
  if (reason === null) return true;
  if (process.env.CMESH_REQUIRE_DOCKER === "1") {
    throw new Error(`${suite}: Docker is required here (CMESH_REQUIRE_DOCKER=1) but ${reason}`);
  }
  process.stderr.write(`\n!!! SKIPPING ${suite}: ${reason} !!!\n\n`);
  return false;
}
