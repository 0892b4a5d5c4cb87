import { isCmeshError } from "@computemesh/core";
import type { Logger } from "pino";
import { balanceMicro, newId } from "./accounts.ts";
import type { AllocationEvent, MachineView, MarketBackend } from "./backend.ts";
import type { Clock } from "./clock.ts";
import { type ApiDb, isUniqueViolation, toInt } from "./db/open.ts";
import type { RentalsTable, RentalState } from "./db/schema.ts";
import { ApiError, statusForBackendCode } from "./errors.ts";
import { KeyedLock } from "./keyed-lock.ts";
import { costForSeconds, hourlyRateMicro } from "./money.ts";
import { applyQuery, withDefaults } from "./query/apply.ts";
import type { SearchQuery } from "./query/parse.ts";
import type { WebhookDispatcher } from "./webhooks.ts";

export interface RentalView {
  id: string;
  minerHotkey: string;
  allocationId: string | null;
  state: RentalState;
  gpuModel: string | null;
  gpuCount: number;
  pricePerGpuHour: number;
  rateMicroPerHour: number;
  ssh: { host: string; port: number; user: string } | null;
  sshCommand: string | null;
  createdAt: string;
  startedAt: string | null;
  expiresAt: string | null;
  endedAt: string | null;
  endReason: string | null;
  /** Seconds metered so far (whole seconds from SSH-ready to now or to the end). */
  meteredSeconds: number;
  /** Micro-credits due for the metered seconds; equals what the ledger holds once the rental has ended. */
  costMicro: number;
  chargedMicro: number;
}

export interface RentInput {
  minerHotkey?: string;
  query?: SearchQuery;
  sshPublicKey: string;
  durationSec: number;
  image?: string;
}

export interface RentalServiceOptions {
  /** Warn (webhook + UI notice) when the balance covers less than this many seconds of running rentals. */
  lowBalanceWarnSec?: number;
  /** A rent needs a balance that pays for at least this many seconds. */
  minimumPrepaidSec?: number;
}

const LIVE: RentalState[] = ["starting", "active"];

function iso(ms: number | string | bigint | null): string | null {
  return ms === null ? null : new Date(toInt(ms)).toISOString();
}

/**
 * Rentals and per-second metering. Metering runs from SSH-ready (when the backend's rent resolves) to the
 * release; every charge is a ledger row, charges never take the balance below zero, and a rental whose
 * account runs dry is released. All money movements of one account are serialized.
 */
export class RentalService {
  private readonly accountLock = new KeyedLock();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly db: ApiDb,
    private readonly backend: MarketBackend,
    private readonly clock: Clock,
    private readonly webhooks: WebhookDispatcher,
    private readonly logger: Logger,
    private readonly opts: RentalServiceOptions = {},
  ) {
    this.unsubscribe = backend.onAllocationEvent((e) => {
      void this.onAllocationEvent(e).catch((err) => this.logger.error({ err, e }, "allocation event failed"));
    });
  }

  close(): void {
    this.unsubscribe();
  }

  /**
   * Rentals left half-made by a crash are marked failed, never charged, and an allocation the backend made for one
   * is released (found by the rental id passed as `clientRef`); active rentals keep metering from where they were.
   */
  async recover(): Promise<void> {
    const starting = await this.db
      .selectFrom("api_rentals")
      .selectAll()
      .where("state", "=", "starting")
      .execute();
    for (const row of starting) {
      let reason = "the API restarted while the rental was starting; nothing was charged";
      const alloc = await this.backend.allocationByClientRef?.(row.id).catch((err: unknown) => {
        this.logger.warn({ err, rentalId: row.id }, "could not look up the allocation of a half-made rental");
        return undefined;
      });
      if (alloc?.state === "active") {
        try {
          await this.backend.release(alloc.allocationId, `rental ${row.id} was never recorded by the API`);
          reason += "; the machine it had started was released";
        } catch (err) {
          this.logger.warn(
            { err, rentalId: row.id, allocationId: alloc.allocationId },
            "could not release the allocation of a half-made rental",
          );
        }
      }
      await this.db
        .updateTable("api_rentals")
        .set({
          state: "failed",
          end_reason: reason,
          allocation_id: alloc?.allocationId ?? null,
          ended_at_ms: this.clock.now(),
        })
        .where("id", "=", row.id)
        .where("state", "=", "starting")
        .execute();
      this.logger.warn({ rentalId: row.id, allocationId: alloc?.allocationId }, reason);
    }
  }

  view(row: RentalsTable, nowMs = this.clock.now()): RentalView {
    const from = row.metered_from_ms === null ? null : toInt(row.metered_from_ms);
    const until = row.ended_at_ms !== null ? toInt(row.ended_at_ms) : nowMs;
    const meteredSeconds = from === null ? 0 : Math.max(0, Math.floor((until - from) / 1000));
    const rate = toInt(row.rate_micro_per_hour);
    return {
      id: row.id,
      minerHotkey: row.miner_hotkey,
      allocationId: row.allocation_id,
      state: row.state,
      gpuModel: row.gpu_model,
      gpuCount: row.gpu_count,
      pricePerGpuHour: row.price_per_gpu_hour,
      rateMicroPerHour: rate,
      ssh:
        row.ssh_host && row.ssh_port !== null && row.ssh_user
          ? { host: row.ssh_host, port: row.ssh_port, user: row.ssh_user }
          : null,
      sshCommand: row.ssh_command,
      createdAt: row.created_at,
      startedAt: iso(row.metered_from_ms),
      expiresAt: iso(row.expires_at_ms),
      endedAt: iso(row.ended_at_ms),
      endReason: row.end_reason,
      meteredSeconds,
      costMicro: row.state === "active" ? costForSeconds(rate, meteredSeconds) : toInt(row.charged_micro),
      chargedMicro: toInt(row.charged_micro),
    };
  }

  async get(accountId: string, rentalId: string): Promise<RentalView> {
    const row = await this.db
      .selectFrom("api_rentals")
      .selectAll()
      .where("id", "=", rentalId)
      .where("account_id", "=", accountId)
      .executeTakeFirst();
    if (!row)
      throw new ApiError(404, "RENTAL_NOT_FOUND", `no rental ${rentalId} on this account`, {
        field: "rentalId",
      });
    return this.view(row);
  }

  async list(accountId: string, opts: { live?: boolean } = {}): Promise<RentalView[]> {
    let q = this.db.selectFrom("api_rentals").selectAll().where("account_id", "=", accountId);
    if (opts.live) q = q.where("state", "in", LIVE);
    const rows = await q.orderBy("created_at", "desc").limit(500).execute();
    const now = this.clock.now();
    return rows.map((r) => this.view(r, now));
  }

  async rent(accountId: string, input: RentInput): Promise<RentalView> {
    const machines = await this.backend.listMachines();
    let candidates: MachineView[];
    if (input.minerHotkey) {
      const m = machines.find((x) => x.minerHotkey === input.minerHotkey);
      if (!m) {
        throw new ApiError(404, "MACHINE_NOT_FOUND", `no machine with hotkey ${input.minerHotkey}`, {
          field: "minerHotkey",
          hint: "search first: GET /v1/machines?q=…",
        });
      }
      if (!m.verified) {
        throw new ApiError(
          409,
          "MACHINE_NOT_VERIFIED",
          `machine ${m.minerHotkey} has not passed proof-of-GPU`,
          {
            field: "minerHotkey",
            hint: "rent a machine whose search result shows verified=true",
          },
        );
      }
      if (m.allocated) {
        throw new ApiError(409, "ALLOCATION_CONFLICT", `machine ${m.minerHotkey} is already rented`, {
          field: "minerHotkey",
        });
      }
      if (!m.runsContainers) {
        throw new ApiError(
          409,
          "MACHINE_NOT_RENTABLE",
          `machine ${m.minerHotkey} cannot start rental containers (no Docker${m.gpuCount > 0 ? " with NVIDIA's runtime" : ""} on the miner)`,
          { field: "minerHotkey", hint: "search with rentable=true" },
        );
      }
      candidates = [m];
    } else if (input.query) {
      const q = withDefaults({ ...input.query, limit: 10 });
      q.filters.push({ field: "rentable", op: "eq", value: true });
      candidates = applyQuery(machines, q, this.clock.now()).machines;
      if (candidates.length === 0) {
        throw new ApiError(409, "NO_MACHINE_MATCHES", "no available proven machine matches the query", {
          field: "query",
          hint: "loosen the query; GET /v1/machines shows what is there",
        });
      }
    } else {
      throw new ApiError(400, "VALIDATION_FAILED", "give minerHotkey or query", { field: "minerHotkey" });
    }

    let lastConflict: unknown;
    for (const machine of candidates.slice(0, 5)) {
      try {
        return await this.rentMachine(accountId, machine, input);
      } catch (err) {
        if (input.query && err instanceof ApiError && err.code === "ALLOCATION_CONFLICT") {
          lastConflict = err;
          continue;
        }
        throw err;
      }
    }
    throw lastConflict;
  }

  private async rentMachine(accountId: string, m: MachineView, input: RentInput): Promise<RentalView> {
    const rate = hourlyRateMicro(m.pricePerGpuHour, m.gpuCount);
    const needed = costForSeconds(rate, this.opts.minimumPrepaidSec ?? 60);
    const balance = await balanceMicro(this.db, accountId);
    if (balance <= 0 || balance < needed) {
      throw new ApiError(
        402,
        "INSUFFICIENT_BALANCE",
        `balance ${balance} µcr does not cover a minute of this machine (${needed} µcr)`,
        {
          hint: "deposit credits: `cmesh account deposit --credits 10`",
          details: { balanceMicro: balance, neededMicro: needed },
        },
      );
    }
    const id = newId("rnt");
    try {
      await this.db
        .insertInto("api_rentals")
        .values({
          id,
          account_id: accountId,
          miner_hotkey: m.minerHotkey,
          allocation_id: null,
          state: "starting",
          ssh_host: null,
          ssh_port: null,
          ssh_user: null,
          ssh_command: null,
          gpu_model: m.gpuModel,
          gpu_count: m.gpuCount,
          price_per_gpu_hour: m.pricePerGpuHour,
          rate_micro_per_hour: rate,
          duration_sec: input.durationSec,
          created_at: new Date(this.clock.now()).toISOString(),
          metered_from_ms: null,
          expires_at_ms: null,
          ended_at_ms: null,
          end_reason: null,
          charged_micro: 0,
          low_balance_warned: 0,
        })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ApiError(409, "ALLOCATION_CONFLICT", `machine ${m.minerHotkey} is already rented`, {
          field: "minerHotkey",
        });
      }
      throw err;
    }
    try {
      const alloc = await this.backend.rent({
        minerHotkey: m.minerHotkey,
        sshPublicKey: input.sshPublicKey,
        durationSec: input.durationSec,
        image: input.image,
        clientRef: id,
      });
      const startedMs = this.clock.now();
      await this.db
        .updateTable("api_rentals")
        .set({
          state: "active",
          allocation_id: alloc.allocationId,
          ssh_host: alloc.ssh.host,
          ssh_port: alloc.ssh.port,
          ssh_user: alloc.ssh.user,
          ssh_command: alloc.sshCommand,
          metered_from_ms: startedMs,
          expires_at_ms: startedMs + input.durationSec * 1000,
        })
        .where("id", "=", id)
        .execute();
      this.webhooks.emit(accountId, "rental.started", {
        rentalId: id,
        minerHotkey: m.minerHotkey,
        sshCommand: alloc.sshCommand,
      });
      this.logger.info({ rentalId: id, miner: m.minerHotkey }, "rental started");
      return this.get(accountId, id);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await this.db
        .updateTable("api_rentals")
        .set({ state: "failed", end_reason: reason, ended_at_ms: this.clock.now() })
        .where("id", "=", id)
        .execute();
      if (isCmeshError(err)) {
        throw new ApiError(statusForBackendCode(err.code), err.code, err.message, {
          hint: err.hint,
          cause: err,
        });
      }
      throw new ApiError(502, "BACKEND_FAILED", `the validator could not start the rental: ${reason}`, {
        cause: err,
      });
    }
  }

  /** Ends a rental: final charge up to `endMs`, state change, backend release (unless the backend ended it). */
  private async end(
    row: RentalsTable,
    state: "released" | "lost",
    reason: string,
    opts: { callBackend: boolean; endMs?: number },
  ): Promise<void> {
    await this.accountLock.run(row.account_id, async () => {
      const fresh = await this.db
        .selectFrom("api_rentals")
        .selectAll()
        .where("id", "=", row.id)
        .executeTakeFirst();
      if (!fresh || fresh.state !== "active") return;
      const endMs = opts.endMs ?? this.clock.now();
      await this.chargeLocked(fresh, endMs);
      await this.db
        .updateTable("api_rentals")
        .set({ state, end_reason: reason, ended_at_ms: endMs })
        .where("id", "=", row.id)
        .where("state", "=", "active")
        .execute();
    });
    if (opts.callBackend && row.allocation_id) {
      try {
        await this.backend.release(row.allocation_id, reason);
      } catch (err) {
        this.logger.warn(
          { err, rentalId: row.id },
          "backend release failed; the rental is ended and no longer charged",
        );
      }
    }
    this.webhooks.emit(row.account_id, state === "lost" ? "rental.lost" : "rental.released", {
      rentalId: row.id,
      minerHotkey: row.miner_hotkey,
      reason,
    });
  }

  async release(accountId: string, rentalId: string, reason = "released by renter"): Promise<RentalView> {
    const row = await this.db
      .selectFrom("api_rentals")
      .selectAll()
      .where("id", "=", rentalId)
      .where("account_id", "=", accountId)
      .executeTakeFirst();
    if (!row)
      throw new ApiError(404, "RENTAL_NOT_FOUND", `no rental ${rentalId} on this account`, {
        field: "rentalId",
      });
    if (row.state === "starting") {
      throw new ApiError(409, "RENTAL_STARTING", "the rental is still starting", {
        hint: "retry in a few seconds",
      });
    }
    if (row.state === "active") await this.end(row, "released", reason, { callBackend: true });
    return this.get(accountId, rentalId);
  }

  /** Charges one rental up to `nowMs`; call with the account lock held. Returns whether the balance ran out. */
  private async chargeLocked(
    row: RentalsTable,
    nowMs: number,
  ): Promise<{ exhausted: boolean; balance: number }> {
    const from = toInt(row.metered_from_ms);
    const seconds = Math.max(0, Math.floor((nowMs - from) / 1000));
    const rate = toInt(row.rate_micro_per_hour);
    const charged = toInt(row.charged_micro);
    const due = costForSeconds(rate, seconds) - charged;
    const balance = await balanceMicro(this.db, row.account_id);
    if (due <= 0) return { exhausted: balance <= 0 && rate > 0, balance };
    const amount = Math.min(due, Math.max(balance, 0));
    if (amount > 0) {
      // Compare-and-set on what was charged so far: if another API process sharing this database charged the same
      // seconds first, this charge and its ledger row roll back together (no double charge across replicas).
      const applied = await this.db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable("api_rentals")
          .set({ charged_micro: charged + amount })
          .where("id", "=", row.id)
          .where("charged_micro", "=", charged)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) !== 1) return false;
        await trx
          .insertInto("api_ledger")
          .values({
            id: newId("led"),
            account_id: row.account_id,
            amount_micro: -amount,
            kind: "charge",
            rental_id: row.id,
            memo: `rental ${row.id} on ${row.miner_hotkey}: ${seconds}s metered`,
            created_at: new Date(nowMs).toISOString(),
          })
          .execute();
        return true;
      });
      if (!applied) {
        const fresh = await balanceMicro(this.db, row.account_id);
        return { exhausted: fresh <= 0 && rate > 0, balance: fresh };
      }
    }
    return { exhausted: amount < due, balance: balance - amount };
  }

  /**
   * One metering pass at `nowMs`: charges every active rental, warns accounts about to run dry, releases
   * rentals whose account is empty or whose time is up.
   */
  async tick(nowMs = this.clock.now()): Promise<void> {
    const rows = await this.db.selectFrom("api_rentals").selectAll().where("state", "=", "active").execute();
    const byAccount = new Map<string, RentalsTable[]>();
    for (const r of rows) byAccount.set(r.account_id, [...(byAccount.get(r.account_id) ?? []), r]);
    for (const [accountId, rentals] of byAccount) {
      const toEnd: { row: RentalsTable; reason: string; endMs: number }[] = [];
      await this.accountLock.run(accountId, async () => {
        let balance = 0;
        let exhausted = false;
        for (const r of rentals) {
          const expires = r.expires_at_ms === null ? Number.POSITIVE_INFINITY : toInt(r.expires_at_ms);
          const until = Math.min(nowMs, expires);
          const res = await this.chargeLocked(r, until);
          balance = res.balance;
          if (res.exhausted) exhausted = true;
          else if (until >= expires)
            toEnd.push({ row: r, reason: "rental duration reached", endMs: expires });
        }
        if (exhausted) {
          for (const r of rentals) toEnd.push({ row: r, reason: "balance exhausted", endMs: nowMs });
          return;
        }
        const rate = rentals.reduce((s, r) => s + toInt(r.rate_micro_per_hour), 0);
        const warnAt = costForSeconds(rate, this.opts.lowBalanceWarnSec ?? 600);
        const unwarned = rentals.filter((r) => r.low_balance_warned === 0);
        if (balance < warnAt && unwarned.length > 0) {
          // only the process that flips the flag warns (another API replica may run the same pass)
          const flipped = await this.db
            .updateTable("api_rentals")
            .set({ low_balance_warned: 1 })
            .where(
              "id",
              "in",
              unwarned.map((r) => r.id),
            )
            .where("low_balance_warned", "=", 0)
            .executeTakeFirst();
          if (Number(flipped.numUpdatedRows) === 0) return;
          const secondsLeft = rate > 0 ? Math.floor((balance * 3600) / rate) : null;
          this.webhooks.emit(accountId, "rental.low_balance", {
            balanceMicro: balance,
            secondsLeft,
            rentalIds: rentals.map((r) => r.id),
          });
        }
      });
      const seen = new Set<string>();
      for (const e of toEnd) {
        if (seen.has(e.row.id)) continue;
        seen.add(e.row.id);
        await this.end(e.row, "released", e.reason, { callBackend: true, endMs: e.endMs });
      }
    }
  }

  private async onAllocationEvent(e: AllocationEvent): Promise<void> {
    if (e.kind === "started") return;
    const row = await this.db
      .selectFrom("api_rentals")
      .selectAll()
      .where("allocation_id", "=", e.allocationId)
      .where("state", "=", "active")
      .executeTakeFirst();
    if (!row) return;
    await this.end(row, e.kind === "lost" ? "lost" : "released", e.reason ?? e.kind, { callBackend: false });
  }

  /** True when the account's balance covers less than the warning window of its running rentals. */
  async lowBalanceNotice(accountId: string): Promise<{ low: boolean; secondsLeft: number | null }> {
    const live = await this.list(accountId, { live: true });
    const rate = live.reduce((s, r) => s + r.rateMicroPerHour, 0);
    const balance = await balanceMicro(this.db, accountId);
    const unbilled = live.reduce((s, r) => s + Math.max(0, r.costMicro - r.chargedMicro), 0);
    const left = balance - unbilled;
    if (rate === 0) return { low: false, secondsLeft: null };
    const secondsLeft = Math.max(0, Math.floor((left * 3600) / rate));
    return { low: secondsLeft < (this.opts.lowBalanceWarnSec ?? 600), secondsLeft };
  }
}
