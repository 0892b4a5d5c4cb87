import Database from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import { CmeshError } from "@computemesh/core";
import { API_MIGRATION_LOCK_TABLE, API_MIGRATION_TABLE, apiMigrationProvider } from "./migrations.ts";
import type { ApiDatabase } from "./schema.ts";

export type ApiDb = Kysely<ApiDatabase>;

/**
 * Opens the API database: an existing Kysely instance (shared with the validator's store), a PostgreSQL URL
 * (`postgres://…`), or a SQLite file path (`:memory:` for tests). `owned` says whether closing is ours.
 */
export function openApiDb(target: Kysely<unknown> | Kysely<ApiDatabase> | string): {
  db: ApiDb;
  owned: boolean;
} {
  if (typeof target !== "string") return { db: target as unknown as ApiDb, owned: false };
  if (/^postgres(ql)?:\/\//.test(target)) {
    const pool = new pg.Pool({ connectionString: target, max: 10 });
    return { db: new Kysely<ApiDatabase>({ dialect: new PostgresDialect({ pool }) }), owned: true };
  }
  const sqlite = new Database(target);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  return { db: new Kysely<ApiDatabase>({ dialect: new SqliteDialect({ database: sqlite }) }), owned: true };
}

/** Brings the API's tables up to date; safe to run on every start and from several processes. */
export async function migrateApiDb(db: ApiDb): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: apiMigrationProvider,
    migrationTableName: API_MIGRATION_TABLE,
    migrationLockTableName: API_MIGRATION_LOCK_TABLE,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    throw new CmeshError("API_DB_MIGRATION_FAILED", `API database migration ${failed ?? ""} failed`, {
      cause: error,
      hint: "check that the database is reachable and writable",
    });
  }
}

/** Integers from the database: SQLite gives numbers, PostgreSQL gives bigint columns as strings. */
export function toInt(v: number | string | bigint | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "number" ? v : Number(v);
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    e?.code === "23505" ||
    e?.code === "SQLITE_CONSTRAINT_UNIQUE" ||
    e?.code === "SQLITE_CONSTRAINT_PRIMARYKEY"
  );
}
