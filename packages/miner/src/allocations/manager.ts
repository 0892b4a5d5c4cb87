// Allocations: who holds the machine (or which GPUs), in which container, until when. The store is the source of
// truth for what was promised; Docker (by label) is the truth for what exists; reconcile() brings them together.
import { rentalsUnavailable } from "../runtime/none.ts";
import { randomUUID } from "node:crypto";
import { CmeshError, isCmeshError } from "@computemesh/core";
import {
  type AllocationInfo,
  type GpuSpec,
  type ResourceRequest,
  ResourceRequestSchema,
  type SynapseRequest,
  type Allocate,
} from "@computemesh/protocol";
import ssh2 from "ssh2";
import type { Logger } from "pino";
import { type ContainerRuntime, isRuntimeUnreachable } from "../runtime/types.ts";
import { type AllocationRow, LIVE_STATES, type MinerDb } from "../store/store.ts";
import { Mutex } from "./mutex.ts";
import { parseRenterKey } from "./ssh-key.ts";
import { pickPort, waitForSshBanner } from "./ports.ts";

export interface MachineCapacity {
  gpus: GpuSpec[];
  nvidiaRuntime: boolean;
  cpuCount: number;
  ramBytes: number;
  /** Free disk where the volumes live, measured when asked. */
  diskFreeBytes: () => Promise<number>;
}

export interface AllocationManagerOptions {
  db: MinerDb;
  runtime: ContainerRuntime;
  minerHotkey: string;
  capacity: MachineCapacity;
  images: { default: string; allowed: readonly string[] };
  ssh: {
    /** Host address the rental's sshd is published on (127.0.0.1 by default). */
    bindHost: string;
    /** Address renters are told to connect to (the axon's external IP, or bindHost). */
    advertisedHost: string;
    portRange: readonly [number, number];
  };
  pidsLimit?: number;
  /** RAM kept back for the host and the miner itself. */
  reservedRamBytes?: number;
  minRamBytes?: number;
  readyTimeoutMs?: number;
  volumeMountPath?: string;
  logger?: Logger;
  now?: () => number;
  /** Called after every state change (for metrics and reporting). */
  onEvent?: (event: string, allocation: AllocationInfo) => void;
}

export type AllocateInput = SynapseRequest<typeof Allocate>;

export interface ReconcileReport {
  kept: string[];
  restarted: string[];
  /** Containers (or volumes) with no live record: removed. */
  orphansRemoved: string[];
  /** Live records whose container is gone: marked lost. */
  lost: string[];
  /** Records left in "creating" by a crash: their leftovers removed, marked failed. */
  interrupted: string[];
  expired: string[];
}

const MACHINE_SLOT = "machine";
const gpuSlot = (uuid: string) => `gpu:${uuid}`;

function err(code: string, message: string, hint?: string, details?: Record<string, unknown>): CmeshError {
  return new CmeshError(code, message, { hint, details });
}

export function toInfo(row: AllocationRow, advertisedHost: string): AllocationInfo {
  const live = row.state === "active";
  return {
    allocation_id: row.id,
    state: row.state,
    validator_hotkey: row.validator_hotkey,
    image: row.image,
    resources: JSON.parse(row.resources) as ResourceRequest,
    gpu_uuids: JSON.parse(row.gpu_uuids) as string[],
    ssh: live
      ? {
          host: advertisedHost,
          port: row.host_port,
          username: "root",
          host_public_key: row.host_public_key,
          command: `ssh -p ${row.host_port} root@${advertisedHost}`,
        }
      : null,
    created_at: new Date(row.created_at).toISOString(),
    expires_at: new Date(row.expires_at).toISOString(),
    ended_at: row.ended_at === null ? null : new Date(row.ended_at).toISOString(),
    end_reason: row.end_reason,
  };
}

export class AllocationManager {
  private readonly o: Required<Omit<AllocationManagerOptions, "logger" | "onEvent">> &
    Pick<AllocationManagerOptions, "logger" | "onEvent">;
  private readonly reserveLock = new Mutex();
  /** Allocation ids being torn down right now (deallocate is idempotent under concurrency). */
  private readonly ending = new Map<string, Promise<AllocationInfo>>();

  constructor(options: AllocationManagerOptions) {
    this.o = {
      pidsLimit: 1024,
      reservedRamBytes: 256 * 1024 * 1024,
      minRamBytes: 32 * 1024 * 1024,
      readyTimeoutMs: 20_000,
      volumeMountPath: "/workspace",
      now: Date.now,
      ...options,
    };
  }

  get db(): MinerDb {
    return this.o.db;
  }

  private info(row: AllocationRow): AllocationInfo {
    return toInfo(row, this.o.ssh.advertisedHost);
  }

  private async event(id: string, event: string, detail?: unknown): Promise<void> {
    await this.o.db
      .insertInto("allocation_events")
      .values({
        allocation_id: id,
        at: this.o.now(),
        event,
        detail: detail === undefined ? null : JSON.stringify(detail),
      })
      .execute();
  }

  private async row(id: string): Promise<AllocationRow | undefined> {
    return this.o.db.selectFrom("allocations").selectAll().where("id", "=", id).executeTakeFirst();
  }

  private emit(event: string, row: AllocationRow): void {
    try {
      this.o.onEvent?.(event, this.info(row));
    } catch (e) {
      this.o.logger?.warn({ err: e }, "allocation event listener failed");
    }
  }

  // ---- validation (no side effects) ------------------------------------------------------------------------

  private async validate(input: AllocateInput) {
    const parsed = ResourceRequestSchema.safeParse(input.resources);
    if (!parsed.success) {
      throw err(
        "INVALID_RESOURCES",
        `resources are malformed: ${parsed.error.issues.map((i) => i.message).join("; ")}`,
      );
    }
    const resources = parsed.data;
    const key = parseRenterKey(input.ssh_public_key);
    const image = input.image === "" ? this.o.images.default : input.image;
    if (!this.o.images.allowed.includes(image)) {
      throw err(
        "UNKNOWN_IMAGE",
        `image "${image}" is not offered by this miner`,
        `ask for one of: ${this.o.images.allowed.join(", ")}`,
      );
    }
    if (!(await this.o.runtime.hasImage(image))) {
      throw err(
        "UNKNOWN_IMAGE",
        `image "${image}" is not present on this machine`,
        "the miner operator must build it (scripts/build-images.sh)",
      );
    }
    if (!Number.isInteger(input.duration_sec) || input.duration_sec <= 0) {
      throw err("INVALID_DURATION", `duration_sec must be a positive integer, got ${input.duration_sec}`);
    }
    const cap = this.o.capacity;
    const impossible = (what: string) =>
      err(
        "IMPOSSIBLE_RESOURCES",
        `this machine cannot provide ${what}`,
        "ask for less (see the Specs synapse)",
        {
          resources,
        },
      );
    if (resources.cpu.count > cap.cpuCount)
      throw impossible(`${resources.cpu.count} CPUs (it has ${cap.cpuCount})`);
    const ramLimit = cap.ramBytes - this.o.reservedRamBytes;
    if (resources.ram.capacity > ramLimit)
      throw impossible(`${resources.ram.capacity} bytes of RAM (at most ${ramLimit})`);
    if (resources.ram.capacity < this.o.minRamBytes) {
      throw err(
        "IMPOSSIBLE_RESOURCES",
        `ram.capacity must be at least ${this.o.minRamBytes} bytes (sshd needs room)`,
      );
    }
    const diskFree = await cap.diskFreeBytes();
    if (resources.hard_disk.capacity > diskFree) {
      throw impossible(`${resources.hard_disk.capacity} bytes of disk (${diskFree} free)`);
    }
    if (resources.gpu.count > cap.gpus.length) {
      throw impossible(`${resources.gpu.count} GPUs (it has ${cap.gpus.length})`);
    }
    if (resources.gpu.count > 0 && !cap.nvidiaRuntime) {
      throw impossible("GPUs: Docker has no NVIDIA runtime here");
    }
    if (resources.gpu.count === 0 && cap.gpus.length > 0) {
      throw err("IMPOSSIBLE_RESOURCES", "this machine rents GPU slices: ask for at least one GPU");
    }
    return { resources, key, image };
  }

  // ---- allocate ----------------------------------------------------------------------------------------------

  /**
   * Rents the machine (or GPUs) to the renter whose key is given, on behalf of `validatorHotkey`. Either the
   * allocation is active and its sshd answers, or it throws and nothing of it is left behind.
   */
  async allocate(input: AllocateInput, validatorHotkey: string): Promise<AllocationInfo> {
    if (this.o.runtime.kind === "none") throw rentalsUnavailable();
    // The chosen port can be taken by another process between the bind check and Docker's bind; such an attempt
    // has already cleaned up after itself, so trying again (with the next free port) is safe.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.allocateOnce(input, validatorHotkey);
      } catch (e) {
        const portTaken =
          isCmeshError(e, "CONTAINER_CREATE_FAILED") &&
          /port is already allocated|address already in use/i.test(e.message);
        if (!portTaken || attempt >= 3) throw e;
        this.o.logger?.warn(
          { attempt, err: e.message },
          "host port taken while publishing; retrying with another",
        );
      }
    }
  }

  private async allocateOnce(input: AllocateInput, validatorHotkey: string): Promise<AllocationInfo> {
    const { resources, key, image } = await this.validate(input);
    const hostKey = ssh2.utils.generateKeyPairSync("ed25519");
    const id = randomUUID().replace(/-/g, "");
    const now = this.o.now();

    // Reserve slots and a port: serialized in process, and guarded by the store's constraints.
    const reserved = await this.reserveLock.run(async () => {
      const cap = this.o.capacity;
      const live = await this.o.db
        .selectFrom("allocations")
        .selectAll()
        .where("state", "in", LIVE_STATES)
        .execute();
      const held = new Set(
        (await this.o.db.selectFrom("allocation_slots").select("slot").execute()).map((s) => s.slot),
      );
      let slots: string[];
      let gpuUuids: string[] = [];
      if (cap.gpus.length === 0) {
        if (held.has(MACHINE_SLOT)) {
          throw err("MACHINE_BUSY", "this machine is already allocated", "try another miner, or later", {
            slot: MACHINE_SLOT,
          });
        }
        slots = [MACHINE_SLOT];
      } else {
        const free = cap.gpus.filter((g) => !held.has(gpuSlot(g.uuid)));
        if (free.length < resources.gpu.count) {
          throw err(
            "MACHINE_BUSY",
            `only ${free.length} of ${cap.gpus.length} GPUs are free`,
            "try another miner, or later",
          );
        }
        gpuUuids = free.slice(0, resources.gpu.count).map((g) => g.uuid);
        slots = gpuUuids.map(gpuSlot);
      }
      const usedCpu = live.reduce((s, r) => s + (JSON.parse(r.resources) as ResourceRequest).cpu.count, 0);
      const usedRam = live.reduce((s, r) => s + (JSON.parse(r.resources) as ResourceRequest).ram.capacity, 0);
      if (
        usedCpu + resources.cpu.count > cap.cpuCount ||
        usedRam + resources.ram.capacity > cap.ramBytes - this.o.reservedRamBytes
      ) {
        throw err(
          "MACHINE_BUSY",
          "the CPUs or RAM asked for are held by other allocations",
          "ask for less, or later",
        );
      }
      const port = await pickPort(
        this.o.ssh.bindHost,
        this.o.ssh.portRange,
        new Set(live.filter((r) => r.host_ip === this.o.ssh.bindHost).map((r) => r.host_port)),
      );
      if (port === null) {
        throw err(
          "NO_FREE_PORT",
          `no free port in ${this.o.ssh.portRange.join("-")} on ${this.o.ssh.bindHost}`,
          "widen --ssh.port-range",
        );
      }
      const row: AllocationRow = {
        id,
        state: "creating",
        validator_hotkey: validatorHotkey,
        image,
        resources: JSON.stringify(resources),
        gpu_uuids: JSON.stringify(gpuUuids),
        ssh_public_key: key.authorizedKeysLine,
        ssh_key_fingerprint: key.fingerprint,
        host_public_key: hostKey.public.trim(),
        host_ip: this.o.ssh.bindHost,
        host_port: port,
        container_id: null,
        created_at: now,
        expires_at: now + input.duration_sec * 1000,
        ended_at: null,
        end_reason: null,
      };
      try {
        await this.o.db.transaction().execute(async (tx) => {
          await tx.insertInto("allocations").values(row).execute();
          await tx
            .insertInto("allocation_slots")
            .values(slots.map((slot) => ({ slot, allocation_id: id })))
            .execute();
          await tx
            .insertInto("allocation_events")
            .values({
              allocation_id: id,
              at: now,
              event: "requested",
              detail: JSON.stringify({ validator: validatorHotkey, key: key.fingerprint, slots, port }),
            })
            .execute();
        });
      } catch (e) {
        if (/UNIQUE constraint failed/.test((e as Error).message)) {
          throw err(
            "MACHINE_BUSY",
            "this machine (or GPU slice, or port) was taken concurrently",
            "try again later",
          );
        }
        throw e;
      }
      return row;
    });

    try {
      const instance = await this.o.runtime.createRental({
        allocationId: id,
        minerHotkey: this.o.minerHotkey,
        image,
        nanoCpus: Math.round(resources.cpu.count * 1e9),
        memoryBytes: resources.ram.capacity,
        pidsLimit: this.o.pidsLimit,
        gpuUuids: JSON.parse(reserved.gpu_uuids),
        hostIp: reserved.host_ip,
        hostPort: reserved.host_port,
        volumeMountPath: this.o.volumeMountPath,
        files: [
          { path: "/root/.ssh/authorized_keys", content: `${key.authorizedKeysLine}\n`, mode: 0o600 },
          { path: "/etc/ssh/ssh_host_ed25519_key", content: hostKey.private, mode: 0o600 },
          { path: "/etc/ssh/ssh_host_ed25519_key.pub", content: `${hostKey.public.trim()}\n`, mode: 0o644 },
        ],
      });
      const probeHost = reserved.host_ip === "0.0.0.0" ? "127.0.0.1" : reserved.host_ip;
      try {
        await waitForSshBanner(probeHost, reserved.host_port, this.o.readyTimeoutMs);
      } catch (e) {
        const logs = await this.o.runtime.logs(id, 20);
        throw err("SSH_NOT_READY", `${(e as Error).message}${logs ? `; container log: ${logs.trim()}` : ""}`);
      }
      await this.o.db
        .updateTable("allocations")
        .set({ state: "active", container_id: instance.containerId })
        .where("id", "=", id)
        .where("state", "=", "creating")
        .execute();
      await this.event(id, "active", { container: instance.containerId });
      const row = (await this.row(id))!;
      this.o.logger?.info(
        { allocation: id, validator: validatorHotkey, port: row.host_port },
        "allocation active",
      );
      this.emit("active", row);
      return this.info(row);
    } catch (e) {
      await this.o.runtime.removeRental(id).catch(() => undefined);
      await this.end(id, "failed", (e as Error).message);
      throw e;
    }
  }

  /** Marks a record ended and frees its slots (one transaction). */
  private async end(
    id: string,
    state: "released" | "expired" | "lost" | "failed",
    reason: string,
  ): Promise<AllocationRow> {
    await this.o.db.transaction().execute(async (tx) => {
      await tx.deleteFrom("allocation_slots").where("allocation_id", "=", id).execute();
      await tx
        .updateTable("allocations")
        .set({ state, ended_at: this.o.now(), end_reason: reason })
        .where("id", "=", id)
        .where("state", "in", LIVE_STATES)
        .execute();
      await tx
        .insertInto("allocation_events")
        .values({ allocation_id: id, at: this.o.now(), event: state, detail: JSON.stringify({ reason }) })
        .execute();
    });
    const row = (await this.row(id))!;
    this.emit(state, row);
    return row;
  }

  // ---- deallocate / expire -----------------------------------------------------------------------------------

  /**
   * Ends an allocation: removes the container (every SSH session in it dies) and its volume. `callerHotkey`
   * must be the validator that allocated it (null = the miner itself, e.g. expiry or the operator).
   */
  async deallocate(
    id: string,
    callerHotkey: string | null,
    reason: "released" | "expired" = "released",
  ): Promise<AllocationInfo> {
    const row = await this.row(id);
    if (!row) throw err("ALLOCATION_NOT_FOUND", `no allocation ${id} on this miner`);
    if (callerHotkey !== null && row.validator_hotkey !== callerHotkey) {
      throw err("NOT_YOUR_ALLOCATION", `allocation ${id} was made by another validator`);
    }
    if (!LIVE_STATES.includes(row.state)) {
      throw err(
        "ALLOCATION_ENDED",
        `allocation ${id} already ended (${row.state}${row.end_reason ? `: ${row.end_reason}` : ""}) at ${new Date(row.ended_at ?? row.expires_at).toISOString()}`,
      );
    }
    const pending = this.ending.get(id);
    if (pending) return pending;
    const work = (async () => {
      let removed: { container: boolean; volume: boolean } | "deferred";
      try {
        removed = await this.o.runtime.removeRental(id);
      } catch (e) {
        if (!isRuntimeUnreachable(e)) throw e;
        // The rental ends now (the validator stops paying); the sweep removes the container once Docker is back.
        removed = "deferred";
        this.o.logger?.warn(
          { allocation: id, err: (e as Error).message },
          "Docker does not answer: the allocation ends now, its container is removed when Docker is back",
        );
      }
      const ended = await this.end(id, reason, reason === "expired" ? "duration elapsed" : "deallocated");
      await this.event(id, removed === "deferred" ? "removal_deferred" : "removed", removed);
      this.o.logger?.info({ allocation: id, reason, removed }, "allocation ended");
      return this.info(ended);
    })();
    this.ending.set(id, work);
    try {
      return await work;
    } finally {
      this.ending.delete(id);
    }
  }

  /** Extends an active allocation (a validator's renewal); the new end must be later than the current one. */
  async extend(id: string, callerHotkey: string, expiresAtMs: number): Promise<AllocationInfo> {
    const row = await this.row(id);
    if (!row) throw err("ALLOCATION_NOT_FOUND", `no allocation ${id} on this miner`);
    if (row.validator_hotkey !== callerHotkey) {
      throw err("NOT_YOUR_ALLOCATION", `allocation ${id} was made by another validator`);
    }
    if (row.state !== "active")
      throw err("ALLOCATION_ENDED", `allocation ${id} is ${row.state}, it cannot be renewed`);
    if (!Number.isFinite(expiresAtMs) || expiresAtMs <= row.expires_at) {
      throw err(
        "INVALID_DURATION",
        `a renewal must move the end later than ${new Date(row.expires_at).toISOString()}`,
      );
    }
    await this.o.db
      .updateTable("allocations")
      .set({ expires_at: expiresAtMs })
      .where("id", "=", id)
      .where("state", "=", "active")
      .execute();
    await this.event(id, "renewed", { from: row.expires_at, to: expiresAtMs });
    return this.info((await this.row(id))!);
  }

  /** Ends every active allocation whose time is up. */
  async expireDue(): Promise<AllocationInfo[]> {
    const due = await this.o.db
      .selectFrom("allocations")
      .select("id")
      .where("state", "=", "active")
      .where("expires_at", "<=", this.o.now())
      .execute();
    const out: AllocationInfo[] = [];
    for (const { id } of due) {
      try {
        out.push(await this.deallocate(id, null, "expired"));
      } catch (e) {
        this.o.logger?.error({ err: e, allocation: id }, "could not expire allocation");
      }
    }
    return out;
  }

  // ---- queries -----------------------------------------------------------------------------------------------

  async get(id: string): Promise<AllocationInfo | null> {
    const row = await this.row(id);
    return row ? this.info(row) : null;
  }

  async list(filter: { validatorHotkey?: string; liveOnly?: boolean } = {}): Promise<AllocationInfo[]> {
    let q = this.o.db.selectFrom("allocations").selectAll().orderBy("created_at", "asc");
    if (filter.validatorHotkey) q = q.where("validator_hotkey", "=", filter.validatorHotkey);
    if (filter.liveOnly) q = q.where("state", "in", LIVE_STATES);
    return (await q.execute()).map((r) => this.info(r));
  }

  async history(id: string): Promise<{ at: string; event: string; detail: unknown }[]> {
    const rows = await this.o.db
      .selectFrom("allocation_events")
      .selectAll()
      .where("allocation_id", "=", id)
      .orderBy("id", "asc")
      .execute();
    return rows.map((r) => ({
      at: new Date(r.at).toISOString(),
      event: r.event,
      detail: r.detail === null ? null : JSON.parse(r.detail),
    }));
  }

  // ---- reconciliation ----------------------------------------------------------------------------------------

  /** Brings the store and Docker together at start-up, before serving (records left "creating" were interrupted). */
  async reconcile(): Promise<ReconcileReport> {
    return this.align("startup");
  }

  /**
   * The same while serving (the miner runs it every few seconds): Docker restarts, `docker rm` by hand and dead
   * containers are noticed without a miner restart. Allocations being created or ended right now are left to their
   * own call. Throws RUNTIME_UNREACHABLE when Docker does not answer.
   */
  async sweep(): Promise<ReconcileReport> {
    return this.align("running");
  }

  /** Checks the given allocations against Docker now (AllocationStatus answers only after this). */
  async verify(ids: readonly string[]): Promise<void> {
    if (this.o.runtime.kind === "none" || ids.length === 0) return;
    await this.align("running", new Set(ids));
  }

  private async align(mode: "startup" | "running", only?: ReadonlySet<string>): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      kept: [],
      restarted: [],
      orphansRemoved: [],
      lost: [],
      interrupted: [],
      expired: [],
    };
    const runtime = this.o.runtime;
    const docker = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        if (isRuntimeUnreachable(e)) {
          throw err(
            "RUNTIME_UNREACHABLE",
            `the container runtime (Docker) does not answer while ${what}: ${(e as Error).message}`,
            "the miner's operator must get dockerd running again; rentals resume when it is back",
          );
        }
        throw e;
      }
    };
    const busy = (id: string) => mode === "running" && this.ending.has(id);
    const live = (
      await this.o.db.selectFrom("allocations").selectAll().where("state", "in", LIVE_STATES).execute()
    ).filter((r) => !only || only.has(r.id));
    const containers = await docker("listing rental containers", () =>
      runtime.listRentals(this.o.minerHotkey),
    );
    const byId = new Map(containers.map((c) => [c.allocationId, c]));

    if (!only) {
      const liveIds = new Set(live.map((r) => r.id));
      for (const c of containers) {
        const rec = live.find((r) => r.id === c.allocationId);
        if (busy(c.allocationId) || (mode === "running" && rec?.state === "creating")) continue;
        if (rec?.state !== "active") {
          // while serving, an Allocate may have reserved and created this one since `live` was read
          const now = mode === "running" ? await this.row(c.allocationId) : undefined;
          if (now && LIVE_STATES.includes(now.state)) continue;
          await docker("removing a container", () => runtime.removeRental(c.allocationId));
          if (!rec) {
            report.orphansRemoved.push(c.allocationId);
            await this.event(c.allocationId, "orphan_removed", { container: c.containerId });
            this.o.logger?.warn(
              { allocation: c.allocationId, container: c.containerId },
              "removed a rental container with no live record",
            );
          }
        }
      }
      const volumes = await docker("listing rental volumes", () =>
        runtime.listRentalVolumes(this.o.minerHotkey),
      );
      for (const volumeOf of volumes) {
        if (liveIds.has(volumeOf) || report.orphansRemoved.includes(volumeOf) || busy(volumeOf)) continue;
        const now = mode === "running" ? await this.row(volumeOf) : undefined;
        if (now && LIVE_STATES.includes(now.state)) continue;
        await docker("removing a volume", () => runtime.removeRental(volumeOf));
        report.orphansRemoved.push(volumeOf);
        await this.event(volumeOf, "orphan_removed", { volume: true });
      }
    }

    for (const rec of live) {
      if (busy(rec.id)) continue;
      if (rec.state === "creating") {
        if (mode === "running") continue; // its allocate call is still running
        await runtime.removeRental(rec.id).catch(() => undefined);
        await this.end(rec.id, "failed", "the miner stopped while creating it");
        report.interrupted.push(rec.id);
        continue;
      }
      const c = byId.get(rec.id);
      if (!c) {
        await runtime.removeRental(rec.id).catch(() => undefined); // its volume, if left
        const why =
          mode === "startup"
            ? "its container disappeared while the miner was not watching"
            : "its container is gone (removed outside the miner)";
        await this.end(rec.id, "lost", why);
        report.lost.push(rec.id);
        this.o.logger?.error({ allocation: rec.id, validator: rec.validator_hotkey }, `allocation lost: ${why}`);
        continue;
      }
      if (mode === "startup" && rec.expires_at <= this.o.now()) {
        await this.deallocate(rec.id, null, "expired");
        report.expired.push(rec.id);
        continue;
      }
      if (!c.running && c.status !== "restarting") {
        try {
          await docker("starting a stopped container", () => runtime.startRental(rec.id));
          await this.event(rec.id, "restarted", { status: c.status });
          this.o.logger?.warn({ allocation: rec.id, status: c.status }, "started a stopped rental container again");
          report.restarted.push(rec.id);
        } catch (e) {
          if (isCmeshError(e, "RUNTIME_UNREACHABLE")) throw e;
          await runtime.removeRental(rec.id).catch(() => undefined);
          await this.end(rec.id, "lost", `its container could not be restarted: ${(e as Error).message}`);
          report.lost.push(rec.id);
          continue;
        }
      }
      report.kept.push(rec.id);
    }
    return report;
  }
}
