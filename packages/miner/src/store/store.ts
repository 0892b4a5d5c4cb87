// The miner's own store: allocations, the slots they hold, and their history. SQLite through Kysely.
// Exclusivity is enforced by the database as well as in process: a slot ("machine" or "gpu:<uuid>") is a primary
// key, so two allocations can never hold it at once, and a host port is unique among live allocations.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import {
  type Generated,
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  SqliteDialect,
  type Transaction,
  sql,
} from "kysely";
import type { AllocationState } from "@computemesh/protocol";

export interface AllocationsTable {
  id: string;
  state: AllocationState;
  validator_hotkey: string;
  image: string;
  /** JSON of the ResourceRequest. */
  resources: string;
  /** JSON array of GPU UUIDs. */
  gpu_uuids: string;
  ssh_public_key: string;
  ssh_key_fingerprint: string;
  host_public_key: string;
  host_ip: string;
  host_port: number;
  container_id: string | null;
  created_at: number;
  expires_at: number;
  ended_at: number | null;
  end_reason: string | null;
}

export interface AllocationSlotsTable {
  slot: string;
  allocation_id: string;
}

export interface AllocationEventsTable {
  id: Generated<number>;
  allocation_id: string;
  at: number;
  event: string;
  detail: string | null;
}

export interface MinerDatabase {
  allocations: AllocationsTable;
  allocation_slots: AllocationSlotsTable;
  allocation_events: AllocationEventsTable;
}

export type AllocationRow = AllocationsTable;
export type MinerDb = Kysely<MinerDatabase>;
export type MinerTx = Transaction<MinerDatabase>;

export const LIVE_STATES: AllocationState[] = ["creating", "active"];

const migrations: Record<string, Migration> = {
  "001_allocations": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("allocations")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("state", "text", (c) =>
          c.notNull().check(sql`state in ('creating','active','released','expired','lost','failed')`),
        )
        .addColumn("validator_hotkey", "text", (c) => c.notNull())
        .addColumn("image", "text", (c) => c.notNull())
        .addColumn("resources", "text", (c) => c.notNull())
        .addColumn("gpu_uuids", "text", (c) => c.notNull())
        .addColumn("ssh_public_key", "text", (c) => c.notNull())
        .addColumn("ssh_key_fingerprint", "text", (c) => c.notNull())
        .addColumn("host_public_key", "text", (c) => c.notNull())
        .addColumn("host_ip", "text", (c) => c.notNull())
        .addColumn("host_port", "integer", (c) => c.notNull())
        .addColumn("container_id", "text")
        .addColumn("created_at", "integer", (c) => c.notNull())
        .addColumn("expires_at", "integer", (c) => c.notNull())
        .addColumn("ended_at", "integer")
        .addColumn("end_reason", "text")
        .execute();
      await sql`create unique index allocations_live_port on allocations(host_ip, host_port)
                where state in ('creating','active')`.execute(db);
      await db.schema.createIndex("allocations_state").on("allocations").column("state").execute();
      await db.schema
        .createTable("allocation_slots")
        .addColumn("slot", "text", (c) => c.primaryKey())
        .addColumn("allocation_id", "text", (c) => c.notNull().references("allocations.id"))
        .execute();
      await db.schema
        .createTable("allocation_events")
        .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
        .addColumn("allocation_id", "text", (c) => c.notNull())
        .addColumn("at", "integer", (c) => c.notNull())
        .addColumn("event", "text", (c) => c.notNull())
        .addColumn("detail", "text")
        .execute();
      await db.schema
        .createIndex("allocation_events_allocation")
        .on("allocation_events")
        .columns(["allocation_id", "id"])
        .execute();
    },
  },
};

class InlineMigrations implements MigrationProvider {
  async getMigrations() {
    return migrations;
  }
}

/** Opens (creating if needed) the miner store at `path` and brings its schema up to date. */
export async function openMinerStore(path: string): Promise<MinerDb> {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL"); // WAL + NORMAL: durable across process crashes (kill -9)
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = new Kysely<MinerDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
  const { error } = await new Migrator({ db, provider: new InlineMigrations() }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  return db;
}
