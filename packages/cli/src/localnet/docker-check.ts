// Whether miners can rent machines out here: a Docker daemon that answers and the rental image present.
import { DEFAULT_RENTAL_IMAGE } from "@computemesh/miner";
import Docker from "dockerode";

export interface DockerVerdict {
  /** a Docker daemon answers (the miner process needs one to start at all) */
  daemon: boolean;
  /** and the rental image is there, so machines can be rented over SSH */
  rentable: boolean;
  /** why renting is off, in words, or null */
  reason: string | null;
}

export async function checkDocker(
  socketPath = "/var/run/docker.sock",
  image = DEFAULT_RENTAL_IMAGE,
): Promise<DockerVerdict> {
  const docker = new Docker({ socketPath, timeout: 3000 });
  try {
    await docker.ping();
  } catch (err) {
    return {
      daemon: false,
      rentable: false,
      reason: `no Docker daemon answers at ${socketPath} (${(err as Error).message})`,
    };
  }
  try {
    await docker.getImage(image).inspect();
  } catch {
    return {
      daemon: true,
      rentable: false,
      reason: `the rental image ${image} is not built (see the Miner section of the README)`,
    };
  }
  return { daemon: true, rentable: true, reason: null };
}
