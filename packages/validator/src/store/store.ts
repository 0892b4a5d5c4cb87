import { CmeshError } from "@computemesh/core";
import Database from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Transaction } from "kysely";
import pg from "pg";
import { InCodeMigrationProvider, type StoreDialect } from "./migrations.ts";
import type {
  AllocationsTable,
  MetagraphHistoryTable,
  MinersTable,
  PogResultsTable,
  ReceiptsTable,
  ValidatorDatabase,
  WeightSetsTable,
} from "./schema.ts";

export type MinerRow = MinersTable;
export type AllocationRow = AllocationsTable;
export type ReceiptRow = ReceiptsTable;
export type PogResultRow = Omit<PogResultsTable, "id"> & { id: number };
export type WeightSetRow = Omit<WeightSetsTable, "id"> & { id: number };

export interface NeuronEntry {
  uid: number;
  hotkey: string;
  coldkey: string;
  ip: string | null;
  port: number | null;
}

export interface NewPogResult {
  roundId: string;
  hotkey: string;
  startedAt: string;
  finishedAt: string;
  passed: boolean;
  reason: string | null;
  claimedModel: string | null;
  provenModel: string | null;
  gpuCount: number;
  measuredTops: number | null;
  simulated: boolean;
  uuids: string[];
}

export interface ScoreEntry {
  uid: number;
  hotkey: string;
  score: number;
  provenModel: string | null;
  gpuCount: number;
  allocated: boolean;
}

export interface OpenStoreOptions {
  /** PostgreSQL only: the schema to use (created when missing). Lets tests isolate runs in one database. */
  pgSchema?: string;
  /** PostgreSQL only: pool size. */
  pgPoolSize?: number;
}

const PG_SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The validator's persistent state: miners, specs history, proof-of-GPU results, scores, weight sets,
 * allocations, receipts and health probes. One class over Kysely; SQLite (a file path or ":memory:") or
 * PostgreSQL (a postgres:// URL). Every write that may be repeated after a crash is idempotent.
 */
export class ValidatorStore {
  private constructor(
    readonly db: Kysely<ValidatorDatabase>,
    readonly dialect: StoreDialect,
    private readonly pgSchema?: string,
  ) {}

  /** Opens (and migrates) the store at `location`: "postgres://…" / "postgresql://…", otherwise an SQLite path. */
  static async open(location: string, options: OpenStoreOptions = {}): Promise<ValidatorStore> {
    const isPg = /^postgres(ql)?:\/\//.test(location);
    let db: Kysely<ValidatorDatabase>;
    if (isPg) {
      const schema = options.pgSchema;
      if (schema !== undefined && !PG_SCHEMA_NAME.test(schema)) {
        throw new CmeshError("STORE_BAD_SCHEMA", `"${schema}" is not a valid PostgreSQL schema name`, {
          hint: "use lower-case letters, digits and underscores",
        });
      }
      if (schema) {
        const admin = new pg.Client({ connectionString: location });
        try {
          await admin.connect();
          await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
        } catch (err) {
          throw unreachable(location, err);
        } finally {
          await admin.end().catch(() => {});
        }
      }
      const pool = new pg.Pool({
        connectionString: location,
        max: options.pgPoolSize ?? 10,
        ...(schema ? { options: `-c search_path="${schema}"` } : {}),
      });
      try {
        await pool.query("select 1");
      } catch (err) {
        await pool.end().catch(() => {});
        throw unreachable(location, err);
      }
      db = new Kysely<ValidatorDatabase>({ dialect: new PostgresDialect({ pool }) });
    } else {
      let sqlite: Database.Database;
      try {
        sqlite = new Database(location);
      } catch (err) {
        throw new CmeshError("STORE_OPEN_FAILED", `cannot open SQLite database at ${location}`, {
          cause: err,
          hint: "check that the directory exists and is writable",
        });
      }
      sqlite.pragma("journal_mode = WAL");
      sqlite.pragma("synchronous = NORMAL");
      sqlite.pragma("busy_timeout = 5000");
      db = new Kysely<ValidatorDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
    }
    const store = new ValidatorStore(db, isPg ? "postgres" : "sqlite", isPg ? options.pgSchema : undefined);
    try {
      await store.migrate();
    } catch (err) {
      await db.destroy().catch(() => {});
      throw err;
    }
    return store;
  }

  async migrate(): Promise<void> {
    // The migration bookkeeping tables live in the store's own schema, so several schemas in one database
    // (parallel test runs, several validators) never see each other's migration state.
    const migrator = new Migrator({
      db: this.db,
      provider: new InCodeMigrationProvider(this.dialect),
      ...(this.dialect === "postgres" ? { migrationTableSchema: this.pgSchema ?? "public" } : {}),
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
      const why = error instanceof Error ? error.message : String(error);
      throw new CmeshError("STORE_MIGRATION_FAILED", `store migration ${failed} failed: ${why}`, {
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  // ---------- miners ----------

  /**
   * Mirrors the metagraph: inserts new hotkeys, refreshes UID/axon of known ones, and marks hotkeys that no
   * longer hold a UID as unregistered. Returns the hotkeys that appeared and disappeared.
   */
  async syncMiners(neurons: NeuronEntry[], now: string): Promise<{ added: string[]; removed: string[] }> {
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom("miners").select(["hotkey", "registered"]).execute();
      const known = new Map(existing.map((r) => [r.hotkey, Number(r.registered) === 1]));
      const present = new Set<string>();
      const added: string[] = [];
      for (const n of neurons) {
        present.add(n.hotkey);
        if (!known.has(n.hotkey)) added.push(n.hotkey);
        await trx
          .insertInto("miners")
          .values({
            hotkey: n.hotkey,
            uid: n.uid,
            coldkey: n.coldkey,
            ip: n.ip,
            port: n.port,
            registered: 1,
            first_seen_at: now,
            last_seen_at: now,
            specs_json: null,
            specs_at: null,
            specs_failures: 0,
            miner_version: null,
            next_pog_at: null,
          })
          .onConflict((oc) =>
            oc.column("hotkey").doUpdateSet({
              uid: n.uid,
              coldkey: n.coldkey,
              ip: n.ip,
              port: n.port,
              registered: 1,
              last_seen_at: now,
            }),
          )
          .execute();
      }
      const removed = [...known.entries()].filter(([h, reg]) => reg && !present.has(h)).map(([h]) => h);
      if (removed.length > 0) {
        await trx.updateTable("miners").set({ registered: 0 }).where("hotkey", "in", removed).execute();
      }
      return { added, removed };
    });
  }

  async listMiners(opts: { registeredOnly?: boolean } = {}): Promise<MinerRow[]> {
    let q = this.db.selectFrom("miners").selectAll().orderBy("uid");
    if (opts.registeredOnly !== false) q = q.where("registered", "=", 1);
    return (await q.execute()).map(normalizeMiner);
  }

  async getMiner(hotkey: string): Promise<MinerRow | undefined> {
    const row = await this.db
      .selectFrom("miners")
      .selectAll()
      .where("hotkey", "=", hotkey)
      .executeTakeFirst();
    return row ? normalizeMiner(row) : undefined;
  }

  /** Records one Specs query: the history row, the probe, and the miner's latest specs (on success). */
  async recordSpecs(
    hotkey: string,
    outcome: { ok: true; specs: unknown; version: string | null } | { ok: false; error: string },
    at: string,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("specs_history")
        .values({
          hotkey,
          taken_at: at,
          ok: outcome.ok ? 1 : 0,
          specs_json: outcome.ok ? JSON.stringify(outcome.specs) : null,
          error: outcome.ok ? null : outcome.error,
        })
        .execute();
      if (outcome.ok) {
        await trx
          .updateTable("miners")
          .set({
            specs_json: JSON.stringify(outcome.specs),
            specs_at: at,
            specs_failures: 0,
            miner_version: outcome.version,
          })
          .where("hotkey", "=", hotkey)
          .execute();
      } else {
        await trx
          .updateTable("miners")
          .set((eb) => ({ specs_failures: eb("specs_failures", "+", 1) }))
          .where("hotkey", "=", hotkey)
          .execute();
      }
      await insertProbe(trx, hotkey, "specs", outcome.ok, at);
    });
  }

  async specsHistory(hotkey: string, limit = 20) {
    return this.db
      .selectFrom("specs_history")
      .selectAll()
      .where("hotkey", "=", hotkey)
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
  }

  async setNextPog(hotkey: string, at: string | null): Promise<void> {
    await this.db.updateTable("miners").set({ next_pog_at: at }).where("hotkey", "=", hotkey).execute();
  }

  // ---------- proof-of-GPU ----------

  /** Stores a round's verdict once (keyed by round id). Returns false when the round was already stored. */
  async recordPogResult(r: NewPogResult, nextPogAt?: string | null): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const res = await trx
        .insertInto("pog_results")
        .values({
          round_id: r.roundId,
          hotkey: r.hotkey,
          started_at: r.startedAt,
          finished_at: r.finishedAt,
          passed: r.passed ? 1 : 0,
          reason: r.reason,
          claimed_model: r.claimedModel,
          proven_model: r.provenModel,
          gpu_count: r.gpuCount,
          measured_tops: r.measuredTops,
          simulated: r.simulated ? 1 : 0,
          uuids_json: JSON.stringify(r.uuids),
        })
        .onConflict((oc) => oc.column("round_id").doNothing())
        .executeTakeFirst();
      const inserted = Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
      if (inserted) {
        await insertProbe(trx, r.hotkey, "pog", r.passed, r.finishedAt);
        if (nextPogAt !== undefined) {
          await trx
            .updateTable("miners")
            .set({ next_pog_at: nextPogAt })
            .where("hotkey", "=", r.hotkey)
            .execute();
        }
      }
      return inserted;
    });
  }

  async latestPogResult(hotkey: string): Promise<PogResultRow | undefined> {
    const row = await this.db
      .selectFrom("pog_results")
      .selectAll()
      .where("hotkey", "=", hotkey)
      .orderBy("finished_at", "desc")
      .orderBy("id", "desc")
      .executeTakeFirst();
    return row ? normalizePog(row) : undefined;
  }

  /** The latest round whose reason is not one of `inconclusive` (rounds that could not run say nothing). */
  async latestConclusivePog(
    hotkey: string,
    inconclusive: readonly string[],
  ): Promise<PogResultRow | undefined> {
    let q = this.db.selectFrom("pog_results").selectAll().where("hotkey", "=", hotkey);
    if (inconclusive.length > 0) {
      q = q.where((eb) => eb.or([eb("reason", "is", null), eb("reason", "not in", [...inconclusive])]));
    }
    const row = await q.orderBy("finished_at", "desc").orderBy("id", "desc").executeTakeFirst();
    return row ? normalizePog(row) : undefined;
  }

  async pogResults(hotkey: string, limit = 20): Promise<PogResultRow[]> {
    const rows = await this.db
      .selectFrom("pog_results")
      .selectAll()
      .where("hotkey", "=", hotkey)
      .orderBy("finished_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return rows.map(normalizePog);
  }

  async countPogResults(): Promise<number> {
    const row = await this.db
      .selectFrom("pog_results")
      .select((eb) => eb.fn.countAll<string | number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  // ---------- probes and reliability ----------

  async recordProbe(
    hotkey: string,
    kind: "specs" | "pog" | "health",
    ok: boolean,
    at: string,
  ): Promise<void> {
    await insertProbe(this.db, hotkey, kind, ok, at);
  }

  /** Share of probes (specs, proofs, health checks) that passed since `since`; 1 when there were none. */
  async reliability(hotkey: string, since: string): Promise<number> {
    const row = await this.db
      .selectFrom("probes")
      .select((eb) => [
        eb.fn.countAll<string | number>().as("n"),
        eb.fn.sum<string | number | null>("ok").as("ok"),
      ])
      .where("hotkey", "=", hotkey)
      .where("at", ">=", since)
      .executeTakeFirstOrThrow();
    const n = Number(row.n);
    return n === 0 ? 1 : Number(row.ok ?? 0) / n;
  }

  /** A hotkey's last `limit` health and reachability probes, oldest first. */
  async probesFor(hotkey: string, limit = 500): Promise<{ at: string; ok: boolean }[]> {
    const rows = await this.db
      .selectFrom("probes")
      .select(["at", "ok"])
      .where("hotkey", "=", hotkey)
      .orderBy("at", "desc")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ at: r.at, ok: Number(r.ok) === 1 })).reverse();
  }

  async pruneProbes(before: string): Promise<void> {
    await this.db.deleteFrom("probes").where("at", "<", before).execute();
  }

  // ---------- scores and weights ----------

  /**
   * Stores an epoch's scores and the weight set derived from them in one transaction. Idempotent: when the epoch
   * is already stored (a restart replaying it), nothing changes and the stored weight set is returned.
   */
  async saveEpoch(
    epoch: number,
    scores: ScoreEntry[],
    weights: { uids: number[]; weights: number[]; versionKey: number },
    now: string,
  ): Promise<{ created: boolean; weightSet: WeightSetRow }> {
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom("weight_sets")
        .selectAll()
        .where("epoch", "=", epoch)
        .executeTakeFirst();
      if (existing) return { created: false, weightSet: normalizeWeightSet(existing) };
      for (const s of scores) {
        await trx
          .insertInto("scores")
          .values({
            epoch,
            uid: s.uid,
            hotkey: s.hotkey,
            score: s.score,
            proven_model: s.provenModel,
            gpu_count: s.gpuCount,
            allocated: s.allocated ? 1 : 0,
            computed_at: now,
          })
          .onConflict((oc) => oc.columns(["epoch", "uid"]).doNothing())
          .execute();
      }
      await trx
        .insertInto("weight_sets")
        .values({
          epoch,
          status: "pending",
          attempts: 0,
          uids_json: JSON.stringify(weights.uids),
          weights_json: JSON.stringify(weights.weights),
          version_key: weights.versionKey,
          last_error: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      const row = await trx
        .selectFrom("weight_sets")
        .selectAll()
        .where("epoch", "=", epoch)
        .executeTakeFirstOrThrow();
      return { created: true, weightSet: normalizeWeightSet(row) };
    });
  }

  async scoresForEpoch(epoch: number) {
    const rows = await this.db
      .selectFrom("scores")
      .selectAll()
      .where("epoch", "=", epoch)
      .orderBy("uid")
      .execute();
    return rows.map((r) => ({
      ...r,
      uid: Number(r.uid),
      epoch: Number(r.epoch),
      gpu_count: Number(r.gpu_count),
    }));
  }

  /** One hotkey's scores, newest epoch first. */
  async scoresForHotkey(hotkey: string, limit = 100) {
    const rows = await this.db
      .selectFrom("scores")
      .select(["epoch", "score", "allocated", "computed_at"])
      .where("hotkey", "=", hotkey)
      .orderBy("epoch", "desc")
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      ...r,
      epoch: Number(r.epoch),
      score: Number(r.score),
      allocated: Number(r.allocated),
    }));
  }

  /** The chain's figures of every neuron at `epoch` (kept once per epoch: a repeated epoch changes nothing). */
  async recordMetagraph(epoch: number, block: number, neurons: Omit<MetagraphHistoryTable, "epoch" | "block">[]) {
    if (neurons.length === 0) return;
    await this.db
      .insertInto("metagraph_history")
      .values(neurons.map((n) => ({ ...n, epoch, block })))
      .onConflict((oc) => oc.columns(["epoch", "uid"]).doNothing())
      .execute();
  }

  /** The recorded metagraphs of the last `limit` epochs, oldest first, each with its neurons by uid. */
  async metagraphHistory(limit = 50): Promise<{ epoch: number; block: number; neurons: MetagraphHistoryTable[] }[]> {
    const epochs = await this.db
      .selectFrom("metagraph_history")
      .select("epoch")
      .distinct()
      .orderBy("epoch", "desc")
      .limit(limit)
      .execute();
    if (epochs.length === 0) return [];
    const rows = await this.db
      .selectFrom("metagraph_history")
      .selectAll()
      .where(
        "epoch",
        "in",
        epochs.map((e) => Number(e.epoch)),
      )
      .orderBy("epoch")
      .orderBy("uid")
      .execute();
    const out = new Map<number, { epoch: number; block: number; neurons: MetagraphHistoryTable[] }>();
    for (const r of rows) {
      const n = { ...r, epoch: Number(r.epoch), block: Number(r.block), uid: Number(r.uid) };
      const e = out.get(n.epoch) ?? { epoch: n.epoch, block: n.block, neurons: [] };
      e.neurons.push(n);
      out.set(n.epoch, e);
    }
    return [...out.values()];
  }

  /** Sum and number of the scores of each of the last `limit` scored epochs, oldest first. */
  async scoreTotalsByEpoch(limit = 50): Promise<{ epoch: number; total: number; count: number }[]> {
    const rows = await this.db
      .selectFrom("scores")
      .select((eb) => [
        "epoch",
        eb.fn.sum<string | number>("score").as("total"),
        eb.fn.countAll<string | number>().as("n"),
      ])
      .groupBy("epoch")
      .orderBy("epoch", "desc")
      .limit(limit)
      .execute();
    return rows
      .map((r) => ({ epoch: Number(r.epoch), total: Number(r.total), count: Number(r.n) }))
      .reverse();
  }

  /** The most recent epoch with stored scores, or undefined. */
  async latestScoredEpoch(): Promise<number | undefined> {
    const row = await this.db
      .selectFrom("scores")
      .select((eb) => eb.fn.max("epoch").as("epoch"))
      .executeTakeFirst();
    return row?.epoch == null ? undefined : Number(row.epoch);
  }

  async countScores(): Promise<number> {
    const row = await this.db
      .selectFrom("scores")
      .select((eb) => eb.fn.countAll<string | number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async weightSet(epoch: number): Promise<WeightSetRow | undefined> {
    const row = await this.db
      .selectFrom("weight_sets")
      .selectAll()
      .where("epoch", "=", epoch)
      .executeTakeFirst();
    return row ? normalizeWeightSet(row) : undefined;
  }

  async weightSets(
    opts: { status?: WeightSetsTable["status"]; limit?: number } = {},
  ): Promise<WeightSetRow[]> {
    let q = this.db.selectFrom("weight_sets").selectAll().orderBy("epoch", "desc");
    if (opts.status) q = q.where("status", "=", opts.status);
    if (opts.limit) q = q.limit(opts.limit);
    return (await q.execute()).map(normalizeWeightSet);
  }

  /** Records one attempt at submitting an epoch's weights. */
  async recordWeightAttempt(
    epoch: number,
    outcome: { ok: true } | { ok: false; error: string; final: boolean },
    now: string,
  ): Promise<void> {
    await this.db
      .updateTable("weight_sets")
      .set((eb) => ({
        attempts: eb("attempts", "+", 1),
        status: outcome.ok ? "ok" : outcome.final ? "failed" : "pending",
        last_error: outcome.ok ? null : outcome.error,
        updated_at: now,
      }))
      .where("epoch", "=", epoch)
      .execute();
  }

  /** Marks an epoch's weights as not sent, with the reason (e.g. every score was 0). */
  async skipWeightSet(epoch: number, reason: string, now: string): Promise<void> {
    await this.db
      .updateTable("weight_sets")
      .set({ status: "skipped", last_error: reason, updated_at: now })
      .where("epoch", "=", epoch)
      .where("status", "=", "pending")
      .execute();
  }

  // ---------- allocations ----------

  async insertAllocation(row: AllocationRow): Promise<void> {
    await this.db.insertInto("allocations").values(row).execute();
  }

  async allocation(allocationId: string): Promise<AllocationRow | undefined> {
    const row = await this.db
      .selectFrom("allocations")
      .selectAll()
      .where("allocation_id", "=", allocationId)
      .executeTakeFirst();
    return row ? normalizeAllocation(row) : undefined;
  }

  /** The newest allocation made for the caller's rental id `clientRef`. */
  async allocationByClientRef(clientRef: string): Promise<AllocationRow | undefined> {
    const row = await this.db
      .selectFrom("allocations")
      .selectAll()
      .where("client_ref", "=", clientRef)
      .orderBy("started_at", "desc")
      .executeTakeFirst();
    return row ? normalizeAllocation(row) : undefined;
  }

  async activeAllocations(): Promise<AllocationRow[]> {
    const rows = await this.db
      .selectFrom("allocations")
      .selectAll()
      .where("state", "=", "active")
      .orderBy("started_at")
      .execute();
    return rows.map(normalizeAllocation);
  }

  async activeAllocationForMiner(minerHotkey: string): Promise<AllocationRow | undefined> {
    const row = await this.db
      .selectFrom("allocations")
      .selectAll()
      .where("miner_hotkey", "=", minerHotkey)
      .where("state", "=", "active")
      .executeTakeFirst();
    return row ? normalizeAllocation(row) : undefined;
  }

  /**
   * Ends an active allocation. Only the first caller wins (the update is conditional on state = active), so a
   * release racing a health-check loss never ends it twice. Returns the ended row, or undefined if it was not active.
   */
  async endAllocation(
    allocationId: string,
    state: "released" | "lost",
    reason: string,
    at: string,
  ): Promise<AllocationRow | undefined> {
    const res = await this.db
      .updateTable("allocations")
      .set({ state, end_reason: reason, ended_at: at })
      .where("allocation_id", "=", allocationId)
      .where("state", "=", "active")
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return undefined;
    return this.allocation(allocationId);
  }

  /** Records a health check; returns the consecutive failure count after it. */
  async recordAllocationHealth(
    allocationId: string,
    minerHotkey: string,
    ok: boolean,
    at: string,
  ): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable("allocations")
        .set((eb) => ({
          health_failures: ok ? 0 : eb("health_failures", "+", 1),
          last_health_at: at,
        }))
        .where("allocation_id", "=", allocationId)
        .execute();
      await insertProbe(trx, minerHotkey, "health", ok, at);
      const row = await trx
        .selectFrom("allocations")
        .select("health_failures")
        .where("allocation_id", "=", allocationId)
        .executeTakeFirst();
      return Number(row?.health_failures ?? 0);
    });
  }

  async setAllocationExpiry(allocationId: string, expiresAt: string): Promise<void> {
    await this.db
      .updateTable("allocations")
      .set({ expires_at: expiresAt })
      .where("allocation_id", "=", allocationId)
      .execute();
  }

  /** Reserves the next receipt sequence number for an allocation (1, 2, …). */
  async nextReceiptSeq(allocationId: string): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable("allocations")
        .set((eb) => ({ receipt_seq: eb("receipt_seq", "+", 1) }))
        .where("allocation_id", "=", allocationId)
        .execute();
      const row = await trx
        .selectFrom("allocations")
        .select("receipt_seq")
        .where("allocation_id", "=", allocationId)
        .executeTakeFirstOrThrow();
      return Number(row.receipt_seq);
    });
  }

  // ---------- receipts ----------

  /** Stores a verified receipt once; returns false when it (or another receipt with its allocation and seq) exists. */
  async insertReceipt(row: ReceiptRow): Promise<boolean> {
    const res = await this.db
      .insertInto("receipts")
      .values(row)
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  /** Receipts this validator signed that still wait for the miner's countersignature, in chain order. */
  async pendingOwnReceipts(): Promise<ReceiptRow[]> {
    const rows = await this.db
      .selectFrom("receipts")
      .selectAll()
      .where("source", "=", "own")
      .where("miner_signature", "=", "")
      .orderBy("allocation_id")
      .orderBy("seq")
      .execute();
    return rows.map(normalizeReceipt);
  }

  async completeReceipt(receiptId: string, minerSignature: string): Promise<void> {
    await this.db
      .updateTable("receipts")
      .set({ miner_signature: minerSignature })
      .where("receipt_id", "=", receiptId)
      .where("miner_signature", "=", "")
      .execute();
  }

  async lastReceiptOf(allocationId: string): Promise<ReceiptRow | undefined> {
    const row = await this.db
      .selectFrom("receipts")
      .selectAll()
      .where("allocation_id", "=", allocationId)
      .orderBy("seq", "desc")
      .executeTakeFirst();
    return row ? normalizeReceipt(row) : undefined;
  }

  /** Every countersigned receipt (own and fetched). */
  async completeReceipts(): Promise<ReceiptRow[]> {
    const rows = await this.db
      .selectFrom("receipts")
      .selectAll()
      .where("miner_signature", "!=", "")
      .orderBy("allocation_id")
      .orderBy("seq")
      .execute();
    return rows.map(normalizeReceipt);
  }

  async receiptsForMiner(minerHotkey: string): Promise<ReceiptRow[]> {
    const rows = await this.db
      .selectFrom("receipts")
      .selectAll()
      .where("miner_hotkey", "=", minerHotkey)
      .orderBy("issued_at")
      .orderBy("seq")
      .execute();
    return rows.map(normalizeReceipt);
  }

  async receiptsForAllocation(allocationId: string): Promise<ReceiptRow[]> {
    const rows = await this.db
      .selectFrom("receipts")
      .selectAll()
      .where("allocation_id", "=", allocationId)
      .orderBy("seq")
      .execute();
    return rows.map(normalizeReceipt);
  }

  // ---------- key/value state ----------

  async getState(key: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("validator_state")
      .select("value")
      .where("key", "=", key)
      .executeTakeFirst();
    return row?.value;
  }

  async setState(key: string, value: string): Promise<void> {
    await this.db
      .insertInto("validator_state")
      .values({ key, value })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
      .execute();
  }
}

async function insertProbe(
  db: Kysely<ValidatorDatabase> | Transaction<ValidatorDatabase>,
  hotkey: string,
  kind: "specs" | "pog" | "health",
  ok: boolean,
  at: string,
): Promise<void> {
  await db
    .insertInto("probes")
    .values({ hotkey, kind, ok: ok ? 1 : 0, at })
    .execute();
}

function unreachable(location: string, cause: unknown): CmeshError {
  const safe = location.replace(/\/\/[^@/]*@/, "//***@");
  return new CmeshError("STORE_UNREACHABLE", `cannot reach PostgreSQL at ${safe}`, {
    cause,
    hint: "start the server or pass --db with a reachable postgres:// URL (or a SQLite file path)",
  });
}

// PostgreSQL returns integers declared as such as numbers, but counts and sums as strings; normalize rows so
// callers see the same types from both stores.
function normalizeMiner(r: MinerRow): MinerRow {
  return {
    ...r,
    uid: Number(r.uid),
    port: r.port == null ? null : Number(r.port),
    registered: Number(r.registered),
    specs_failures: Number(r.specs_failures),
  };
}

function normalizePog(r: PogResultRow): PogResultRow {
  return {
    ...r,
    id: Number(r.id),
    passed: Number(r.passed),
    gpu_count: Number(r.gpu_count),
    simulated: Number(r.simulated),
    measured_tops: r.measured_tops == null ? null : Number(r.measured_tops),
  };
}

function normalizeWeightSet(r: WeightSetRow): WeightSetRow {
  return {
    ...r,
    id: Number(r.id),
    epoch: Number(r.epoch),
    attempts: Number(r.attempts),
    version_key: Number(r.version_key),
  };
}

function normalizeAllocation(r: AllocationRow): AllocationRow {
  return {
    ...r,
    ssh_port: Number(r.ssh_port),
    health_failures: Number(r.health_failures),
    receipt_seq: Number(r.receipt_seq),
  };
}

function normalizeReceipt(r: ReceiptRow): ReceiptRow {
  return { ...r, seq: Number(r.seq) };
}
