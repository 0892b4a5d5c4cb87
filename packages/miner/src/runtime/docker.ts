// ContainerRuntime on the local Docker daemon (dockerode). Rental containers get exactly the asked limits, no
// privileges, no Docker socket, no host mounts (only their own named volume), CapDrop ALL plus what sshd needs,
// Docker's --init, and sshd published on one host address/port.
import { PassThrough } from "node:stream";
import { CmeshError } from "@computemesh/core";
import Docker from "dockerode";
import type { DockerFacts } from "../specs/collect.ts";
import { tarFiles } from "./tar.ts";
import {
  type ContainerRuntime,
  LABEL_ALLOCATION,
  LABEL_KIND,
  LABEL_MANAGED,
  LABEL_MINER,
  type RentalInstance,
  type RentalSpec,
  rentalContainerName,
  rentalVolumeName,
} from "./types.ts";

/**
 * Capabilities sshd needs with privilege separation and PTYs: SETUID/SETGID (drop to the user), SYS_CHROOT (the
 * pre-auth sandbox), CHOWN (PTY ownership), AUDIT_WRITE (login records), KILL (signal the unprivileged child).
 * Measured on this project's Debian image: without SYS_CHROOT login fails; without CHOWN/AUDIT_WRITE `ssh -t` fails.
 */
export const SSHD_CAPABILITIES = ["SETUID", "SETGID", "SYS_CHROOT", "CHOWN", "AUDIT_WRITE", "KILL"] as const;

export const RENTAL_NETWORK = "cmesh-rentals";

export interface DockerRuntimeOptions {
  socketPath?: string;
  /** Bridge network the rentals join (created with inter-container traffic disabled). */
  network?: string;
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

export class DockerRuntime implements ContainerRuntime {
  readonly kind = "docker";
  readonly docker: Docker;
  private readonly network: string;
  private networkReady: Promise<void> | null = null;

  constructor(options: DockerRuntimeOptions = {}) {
    this.docker = new Docker({ socketPath: options.socketPath ?? "/var/run/docker.sock" });
    this.network = options.network ?? RENTAL_NETWORK;
  }

  async facts(): Promise<DockerFacts> {
    try {
      const [version, info] = await Promise.all([this.docker.version(), this.docker.info()]);
      const runtimes = Object.keys((info as { Runtimes?: Record<string, unknown> }).Runtimes ?? {});
      return { available: true, serverVersion: version.Version, nvidiaRuntime: runtimes.includes("nvidia") };
    } catch {
      return { available: false, serverVersion: null, nvidiaRuntime: false };
    }
  }

  /** Throws DOCKER_UNAVAILABLE with a hint when the daemon does not answer. */
  async check(): Promise<DockerFacts> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new CmeshError("DOCKER_UNAVAILABLE", `Docker does not answer: ${(err as Error).message}`, {
        hint: "start dockerd (or check the socket path) and make sure this user may use it",
        cause: err,
      });
    }
    return this.facts();
  }

  async hasImage(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  private ensureNetwork(): Promise<void> {
    this.networkReady ??= (async () => {
      const existing = await this.docker.listNetworks({ filters: { name: [this.network] } });
      if (existing.some((n) => n.Name === this.network)) return;
      try {
        await this.docker.createNetwork({
          Name: this.network,
          Driver: "bridge",
          CheckDuplicate: true,
          Labels: { [LABEL_MANAGED]: "true" },
          Options: { "com.docker.network.bridge.enable_icc": "false" },
        });
      } catch (err) {
        if (statusOf(err) !== 409) throw err; // created concurrently: fine
      }
    })().catch((err) => {
      this.networkReady = null;
      throw err;
    });
    return this.networkReady;
  }

  async createRental(spec: RentalSpec): Promise<RentalInstance> {
    await this.ensureNetwork();
    const labels = {
      [LABEL_MANAGED]: "true",
      [LABEL_MINER]: spec.minerHotkey,
      [LABEL_ALLOCATION]: spec.allocationId,
      [LABEL_KIND]: "rental",
    };
    const volumeName = rentalVolumeName(spec.allocationId);
    try {
      await this.docker.createVolume({ Name: volumeName, Labels: labels });
      const container = await this.docker.createContainer({
        name: rentalContainerName(spec.allocationId),
        Image: spec.image,
        Labels: labels,
        Hostname: `rental-${spec.allocationId.slice(0, 12)}`,
        ExposedPorts: { "22/tcp": {} },
        HostConfig: {
          Init: true,
          Privileged: false,
          CapDrop: ["ALL"],
          CapAdd: [...SSHD_CAPABILITIES],
          SecurityOpt: ["no-new-privileges:true"],
          NanoCpus: spec.nanoCpus,
          Memory: spec.memoryBytes,
          MemorySwap: spec.memoryBytes, // no swap beyond the memory limit
          PidsLimit: spec.pidsLimit,
          Mounts: [{ Type: "volume", Source: volumeName, Target: spec.volumeMountPath, ReadOnly: false }],
          PortBindings: { "22/tcp": [{ HostIp: spec.hostIp, HostPort: String(spec.hostPort) }] },
          NetworkMode: this.network,
          RestartPolicy: { Name: "unless-stopped" },
          LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "2" } },
          ...(spec.gpuUuids.length > 0
            ? {
                DeviceRequests: [
                  {
                    Driver: "nvidia",
                    DeviceIDs: spec.gpuUuids,
                    Capabilities: [["gpu"]],
                    Count: 0,
                    Options: {},
                  },
                ],
              }
            : {}),
        },
      });
      if (spec.files.length > 0) await container.putArchive(tarFiles(spec.files), { path: "/" });
      await container.start();
      const info = await container.inspect();
      return {
        allocationId: spec.allocationId,
        containerId: info.Id,
        containerName: rentalContainerName(spec.allocationId),
        running: info.State.Running,
        status: info.State.Status,
        oomKilled: info.State.OOMKilled,
      };
    } catch (err) {
      await this.removeRental(spec.allocationId).catch(() => undefined);
      throw new CmeshError(
        "CONTAINER_CREATE_FAILED",
        `Docker could not create the rental container: ${(err as Error).message}`,
        {
          cause: err,
          details: { allocationId: spec.allocationId },
        },
      );
    }
  }

  async removeRental(allocationId: string): Promise<{ container: boolean; volume: boolean }> {
    let container = false;
    let volume = false;
    try {
      await this.docker.getContainer(rentalContainerName(allocationId)).remove({ force: true, v: true });
      container = true;
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    try {
      await this.docker.getVolume(rentalVolumeName(allocationId)).remove();
      volume = true;
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    return { container, volume };
  }

  async listRentals(minerHotkey: string): Promise<RentalInstance[]> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_MANAGED}=true`, `${LABEL_MINER}=${minerHotkey}`, `${LABEL_KIND}=rental`] },
    });
    return list.map((c) => ({
      allocationId: c.Labels[LABEL_ALLOCATION] ?? "",
      containerId: c.Id,
      containerName: (c.Names[0] ?? "").replace(/^\//, ""),
      running: c.State === "running",
      status: c.State,
      oomKilled: false,
    }));
  }

  async listRentalVolumes(minerHotkey: string): Promise<string[]> {
    const { Volumes } = await this.docker.listVolumes({
      filters: { label: [`${LABEL_MANAGED}=true`, `${LABEL_MINER}=${minerHotkey}`, `${LABEL_KIND}=rental`] },
    });
    return (Volumes ?? []).map((v) => v.Labels?.[LABEL_ALLOCATION] ?? "").filter((id) => id !== "");
  }

  async startRental(allocationId: string): Promise<void> {
    try {
      await this.docker.getContainer(rentalContainerName(allocationId)).start();
    } catch (err) {
      if (statusOf(err) !== 304) throw err; // 304: already running
    }
  }

  async inspectRental(allocationId: string): Promise<RentalInstance | null> {
    try {
      const info = await this.docker.getContainer(rentalContainerName(allocationId)).inspect();
      return {
        allocationId,
        containerId: info.Id,
        containerName: rentalContainerName(allocationId),
        running: info.State.Running,
        status: info.State.Status,
        oomKilled: info.State.OOMKilled,
      };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async exec(allocationId: string, cmd: string[]): Promise<{ exitCode: number; output: string }> {
    const exec = await this.docker
      .getContainer(rentalContainerName(allocationId))
      .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on("data", (c: Buffer) => chunks.push(c));
    this.docker.modem.demuxStream(stream, out, out);
    await new Promise<void>((resolve, reject) => {
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    const { ExitCode } = await exec.inspect();
    return { exitCode: ExitCode ?? -1, output: Buffer.concat(chunks).toString("utf8") };
  }

  async logs(allocationId: string, tail = 50): Promise<string> {
    try {
      const buf = await this.docker
        .getContainer(rentalContainerName(allocationId))
        .logs({ stdout: true, stderr: true, tail, follow: false });
      // multiplexed frames: drop the 8-byte headers
      const raw = Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf));
      const parts: Buffer[] = [];
      for (let i = 0; i + 8 <= raw.length; ) {
        const len = raw.readUInt32BE(i + 4);
        parts.push(raw.subarray(i + 8, i + 8 + len));
        i += 8 + len;
      }
      return Buffer.concat(parts).toString("utf8");
    } catch {
      return "";
    }
  }
}
