// Rentals held by this validator: rent (signed Allocate), release (Deallocate), health checks on a short interval
// that end a rental which stays dead and say why, and a receipt for every start, renewal and end.
import { randomUUID } from "node:crypto";
import { CmeshError } from "@computemesh/core";
import {
  Allocate,
  type AllocationInfo,
  AllocationStatus,
  type AxonTarget,
  Deallocate,
  type Dendrite,
  type MachineSpecs,
  type ResourceRequest,
} from "@computemesh/protocol";
import type { Logger } from "pino";
import type { ValidatorMetrics } from "./metrics.ts";
import type { ReceiptBook } from "./receipt-book.ts";
import type { AllocationRow, ValidatorStore } from "./store/store.ts";

export interface RentRequest {
  minerHotkey: string;
  sshPublicKey: string;
  durationSec: number;
  image?: string;
  /**
   * The caller's id for this rental (the renter API passes its rental id). Stored with the allocation so a caller
   * that crashed before recording the answer can find the allocation with `allocationByClientRef` and release it.
   */
  clientRef?: string;
  resources?: {
    cpu?: { count: number };
    gpu?: { count: number };
    hard_disk?: { capacity: number };
    ram?: { capacity: number };
  };
}

export interface AllocationView {
  allocationId: string;
  minerHotkey: string;
  state: "active" | "released" | "lost";
  ssh: { host: string; port: number; user: string };
  sshCommand: string;
  startedAt: string;
  expiresAt: string;
  endedAt?: string;
  endReason?: string;
  clientRef?: string;
}

export interface AllocationEvent {
  allocationId: string;
  kind: "started" | "released" | "lost";
  reason?: string;
}

/** What the manager needs to know about a miner before renting it. */
export interface RentableMiner {
  target: AxonTarget;
  specs: MachineSpecs;
  verified: boolean;
  provenModel: string | null;
  provenCount: number;
  excluded: boolean;
}

export interface AllocationManagerDeps {
  store: ValidatorStore;
  dendrite: Pick<Dendrite, "query">;
  receipts: ReceiptBook;
  validatorHotkey: string;
  log: Logger;
  metrics: ValidatorMetrics;
  now: () => Date;
  health: { timeoutMs: number; maxFailures: number };
  /** Looks a miner up for renting (undefined: not on the metagraph or not serving). */
  miner: (hotkey: string) => Promise<RentableMiner | undefined>;
  /** Rented by anyone, according to receipts (another validator's rental blocks ours). */
  rentedElsewhere: (hotkey: string) => Promise<boolean>;
  targetOf: (hotkey: string) => AxonTarget | null;
}

const GiB = 1024 ** 3;
const SSH_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/=]+( [^\r\n]*)?$/;

export function toAllocationView(row: AllocationRow): AllocationView {
  const view: AllocationView = {
    allocationId: row.allocation_id,
    minerHotkey: row.miner_hotkey,
    state: row.state,
    ssh: { host: row.ssh_host, port: row.ssh_port, user: row.ssh_user },
    sshCommand: `ssh -p ${row.ssh_port} ${row.ssh_user}@${row.ssh_host}`,
    startedAt: row.started_at,
    expiresAt: row.expires_at,
  };
  if (row.ended_at) view.endedAt = row.ended_at;
  if (row.end_reason) view.endReason = row.end_reason;
  if (row.client_ref) view.clientRef = row.client_ref;
  return view;
}

/** The seeds' device_requirement form, filled from the machine's specs where the renter left a part out. */
export function resourcesFor(req: RentRequest["resources"], specs: MachineSpecs): ResourceRequest {
  return {
    cpu: { count: req?.cpu?.count ?? specs.cpu.count },
    gpu: { count: req?.gpu?.count ?? specs.gpu.count },
    hard_disk: {
      capacity:
        req?.hard_disk?.capacity ?? Math.max(GiB, Math.min(Math.floor(specs.hard_disk.free / 2), 50 * GiB)),
    },
    ram: { capacity: req?.ram?.capacity ?? Math.max(GiB, Math.floor(specs.ram.available / 2)) },
  };
}

export class AllocationManager {
  private readonly listeners = new Set<(e: AllocationEvent) => void>();
  /** Miners with a rent in flight here: a second concurrent rent of the same machine loses at once. */
  private readonly renting = new Set<string>();
  private checking = false;

  constructor(private readonly d: AllocationManagerDeps) {}

  onEvent(cb: (e: AllocationEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private emit(e: AllocationEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.d.log.warn({ err }, "allocation event listener threw");
      }
    }
  }

  async rent(req: RentRequest): Promise<AllocationView> {
    if (!SSH_KEY.test(req.sshPublicKey.trim())) {
      throw new CmeshError("INVALID_SSH_KEY", "the SSH public key is not one OpenSSH public key line", {
        hint: "paste the content of ~/.ssh/id_ed25519.pub",
      });
    }
    if (req.clientRef !== undefined && !/^[\x21-\x7e]{1,128}$/.test(req.clientRef)) {
      throw new CmeshError("INVALID_CLIENT_REF", "clientRef must be 1–128 printable ASCII characters", {
        hint: "pass your own rental id, e.g. rnt_…",
      });
    }
    if (!Number.isInteger(req.durationSec) || req.durationSec <= 0 || req.durationSec > 366 * 24 * 3600) {
      throw new CmeshError(
        "INVALID_DURATION",
        `duration must be 1 s .. 366 days in whole seconds, got ${req.durationSec}`,
      );
    }
    const miner = await this.d.miner(req.minerHotkey);
    if (!miner || miner.excluded) {
      throw new CmeshError("MINER_UNAVAILABLE", `miner ${req.minerHotkey} is not serving on this subnet`, {
        hint: "pick a machine from listMachines()",
      });
    }
    if (!miner.verified) {
      throw new CmeshError("MINER_NOT_VERIFIED", `miner ${req.minerHotkey} has no valid proof-of-GPU`, {
        hint: "rent a machine whose `verified` is true",
      });
    }
    if (this.renting.has(req.minerHotkey)) {
      throw new CmeshError("ALLOCATION_CONFLICT", `miner ${req.minerHotkey} is being rented right now`);
    }
    this.renting.add(req.minerHotkey);
    try {
      if (
        (await this.d.store.activeAllocationForMiner(req.minerHotkey)) ||
        (await this.d.rentedElsewhere(req.minerHotkey))
      ) {
        throw new CmeshError("ALLOCATION_CONFLICT", `miner ${req.minerHotkey} is already rented`, {
          hint: "pick another machine or wait for the rental to end",
        });
      }
      const resources = resourcesFor(req.resources, miner.specs);
      const allocate = () =>
        this.d.dendrite.query(
          miner.target,
          Allocate,
          {
            resources,
            ssh_public_key: req.sshPublicKey.trim(),
            image: req.image ?? "",
            duration_sec: req.durationSec,
          },
          { timeoutMs: Allocate.timeoutSec * 1000 },
        );
      let res = await allocate();
      // A crash between the miner's answer and our record leaves the miner busy with an allocation of ours that
      // nobody pays for: release such leftovers, then try once more.
      if (!res.ok && res.status === 409 && (await this.releaseUnrecorded(miner.target)) > 0) res = await allocate();
      if (!res.ok) {
        const conflict = res.status === 409;
        throw new CmeshError(
          conflict ? "ALLOCATION_CONFLICT" : "MINER_UNAVAILABLE",
          `miner ${req.minerHotkey} refused the allocation: ${res.kind} (${res.status}) ${res.message}`,
          { details: { status: res.status, kind: res.kind } },
        );
      }
      const info = res.response.allocation;
      if (!info.ssh || info.state !== "active") {
        throw new CmeshError(
          "MINER_UNAVAILABLE",
          `miner ${req.minerHotkey} answered without SSH access (state ${info.state})`,
        );
      }
      const now = this.d.now();
      const row: AllocationRow = {
        allocation_id: info.allocation_id || randomUUID(),
        miner_hotkey: req.minerHotkey,
        validator_hotkey: this.d.validatorHotkey,
        state: "active",
        ssh_host: info.ssh.host,
        ssh_port: info.ssh.port,
        ssh_user: info.ssh.username,
        ssh_public_key: req.sshPublicKey.trim(),
        image: info.image || req.image || null,
        resources_json: JSON.stringify(resources),
        started_at: now.toISOString(),
        expires_at: new Date(now.getTime() + req.durationSec * 1000).toISOString(),
        ended_at: null,
        end_reason: null,
        health_failures: 0,
        last_health_at: now.toISOString(),
        receipt_seq: 0,
        client_ref: req.clientRef ?? null,
      };
      await this.d.store.insertAllocation(row);
      this.d.metrics.allocationsActive.inc();
      this.d.log.info(
        { allocationId: row.allocation_id, miner: req.minerHotkey, expiresAt: row.expires_at },
        "allocation started",
      );
      await this.d.receipts.issue(
        {
          kind: "allocation_started",
          allocation_id: row.allocation_id,
          miner_hotkey: req.minerHotkey,
          started_at: row.started_at,
          expires_at: row.expires_at,
          gpu_count: resources.gpu.count,
          gpu_model: resources.gpu.count > 0 ? miner.provenModel : null,
        },
        miner.target,
      );
      this.emit({ allocationId: row.allocation_id, kind: "started" });
      return toAllocationView(row);
    } finally {
      this.renting.delete(req.minerHotkey);
    }
  }

  async allocation(allocationId: string): Promise<AllocationView | undefined> {
    const row = await this.d.store.allocation(allocationId);
    return row ? toAllocationView(row) : undefined;
  }

  async allocationByClientRef(clientRef: string): Promise<AllocationView | undefined> {
    const row = await this.d.store.allocationByClientRef(clientRef);
    return row ? toAllocationView(row) : undefined;
  }

  async release(allocationId: string, reason: string): Promise<AllocationView> {
    const row = await this.d.store.allocation(allocationId);
    if (!row) throw new CmeshError("ALLOCATION_NOT_FOUND", `no allocation ${allocationId}`);
    if (row.state !== "active") return toAllocationView(row);
    await this.deallocateOnMiner(row, Deallocate.timeoutSec * 1000);
    return (
      (await this.end(row, "released", reason)) ??
      toAllocationView((await this.d.store.allocation(allocationId)) ?? row)
    );
  }

  /** Extends a rental; the renewal receipt tells the miner and every validator the new end. */
  async renew(allocationId: string, extraSec: number): Promise<AllocationView> {
    const row = await this.d.store.allocation(allocationId);
    if (!row) throw new CmeshError("ALLOCATION_NOT_FOUND", `no allocation ${allocationId}`);
    if (row.state !== "active")
      throw new CmeshError("ALLOCATION_ENDED", `allocation ${allocationId} has ended`);
    if (!Number.isInteger(extraSec) || extraSec <= 0)
      throw new CmeshError("INVALID_DURATION", "extra time must be a positive number of seconds");
    const expiresAt = new Date(Date.parse(row.expires_at) + extraSec * 1000).toISOString();
    await this.d.store.setAllocationExpiry(allocationId, expiresAt);
    await this.d.receipts.issue(
      {
        kind: "allocation_renewed",
        allocation_id: allocationId,
        miner_hotkey: row.miner_hotkey,
        expires_at: expiresAt,
      },
      this.d.targetOf(row.miner_hotkey),
    );
    return toAllocationView({ ...row, expires_at: expiresAt });
  }

  private async deallocateOnMiner(row: AllocationRow, timeoutMs: number): Promise<boolean> {
    const target = this.d.targetOf(row.miner_hotkey);
    if (!target) return false;
    const res = await this.d.dendrite.query(
      target,
      Deallocate,
      { allocation_id: row.allocation_id },
      { timeoutMs },
    );
    if (!res.ok && res.status !== 404) {
      this.d.log.warn(
        { allocationId: row.allocation_id, kind: res.kind, message: res.message },
        "miner did not confirm the deallocation",
      );
    }
    return res.ok;
  }

  /** Ends an allocation once (the first of release / loss / expiry wins), issues the receipt, tells listeners. */
  private async end(
    row: AllocationRow,
    outcome: "released" | "lost",
    reason: string,
  ): Promise<AllocationView | undefined> {
    const ended = await this.d.store.endAllocation(
      row.allocation_id,
      outcome,
      reason,
      this.d.now().toISOString(),
    );
    if (!ended) return undefined;
    this.d.metrics.allocationsActive.dec();
    this.d.metrics.allocationsEnded.inc({ outcome });
    this.d.log.info(
      { allocationId: row.allocation_id, miner: row.miner_hotkey, outcome, reason },
      "allocation ended",
    );
    await this.d.receipts.issue(
      {
        kind: "allocation_ended",
        allocation_id: row.allocation_id,
        miner_hotkey: row.miner_hotkey,
        ended_at: ended.ended_at ?? this.d.now().toISOString(),
        outcome,
        reason: reason.slice(0, 500),
      },
      this.d.targetOf(row.miner_hotkey),
    );
    this.emit({ allocationId: row.allocation_id, kind: outcome, reason });
    return toAllocationView(ended);
  }

  /** Deallocates the miner's active allocations made by this validator that its store has no active record of. */
  private async releaseUnrecorded(target: AxonTarget): Promise<number> {
    const status = await this.d.dendrite.query(
      target,
      AllocationStatus,
      { allocation_id: "" },
      { timeoutMs: this.d.health.timeoutMs },
    );
    if (!status.ok) return 0;
    let released = 0;
    for (const a of status.response.allocations) {
      if (a.state !== "active" || a.validator_hotkey !== this.d.validatorHotkey) continue;
      // unknown here (a crash before the record), or ended here while the miner could not remove it (Docker down)
      if ((await this.d.store.allocation(a.allocation_id))?.state === "active") continue;
      const r = await this.d.dendrite.query(
        target,
        Deallocate,
        { allocation_id: a.allocation_id },
        { timeoutMs: this.d.health.timeoutMs },
      );
      if (r.ok) released++;
      this.d.log.warn(
        { allocationId: a.allocation_id, miner: target.hotkey, released: r.ok },
        "released an allocation the miner still held that this validator has no active record of",
      );
    }
    return released;
  }

  /**
   * One round of health checks over every active rental: expired ones are released; a rental whose miner does
   * not report it active `maxFailures` times in a row is ended as lost, with the reason.
   */
  async checkAll(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const active = await this.d.store.activeAllocations();
      this.d.metrics.allocationsActive.set(active.length);
      await Promise.all(active.map((row) => this.checkOne(row)));
    } finally {
      this.checking = false;
    }
  }

  private async checkOne(row: AllocationRow): Promise<void> {
    const now = this.d.now();
    if (Date.parse(row.expires_at) <= now.getTime()) {
      await this.deallocateOnMiner(row, this.d.health.timeoutMs);
      await this.end(row, "released", "the rental time is over");
      return;
    }
    const target = this.d.targetOf(row.miner_hotkey);
    let problem: string | null;
    if (!target) problem = "the miner no longer serves an axon on the subnet";
    else {
      const res = await this.d.dendrite.query(
        target,
        AllocationStatus,
        { allocation_id: row.allocation_id },
        { timeoutMs: this.d.health.timeoutMs },
      );
      if (!res.ok) problem = `the miner did not answer (${res.kind}: ${res.message})`;
      else {
        const mine: AllocationInfo | undefined = res.response.allocations.find(
          (a) => a.allocation_id === row.allocation_id,
        );
        problem = !mine
          ? "the miner no longer knows this allocation"
          : mine.state !== "active"
            ? `the miner reports the allocation ${mine.state}${mine.end_reason ? `: ${mine.end_reason}` : ""}`
            : null;
      }
    }
    const failures = await this.d.store.recordAllocationHealth(
      row.allocation_id,
      row.miner_hotkey,
      problem === null,
      now.toISOString(),
    );
    this.d.metrics.healthChecks.inc({ result: problem === null ? "ok" : "failed" });
    if (problem === null) return;
    this.d.log.warn(
      { allocationId: row.allocation_id, miner: row.miner_hotkey, failures, problem },
      "allocation health check failed",
    );
    if (failures >= this.d.health.maxFailures) {
      if (target) await this.deallocateOnMiner(row, this.d.health.timeoutMs);
      await this.end(row, "lost", `health check failed ${failures} times in a row: ${problem}`);
    }
  }
}
