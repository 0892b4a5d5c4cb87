import { type Kysely, type Migration, type MigrationProvider, PostgresAdapter, sql } from "kysely";

function isPostgres(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** The API's own migrations; tracked in `cmesh_api_migration` so they never mix with the validator's. */
export const API_MIGRATION_TABLE = "cmesh_api_migration";
export const API_MIGRATION_LOCK_TABLE = "cmesh_api_migration_lock";

const migrations: Record<string, Migration> = {
  "001_accounts_keys_ledger": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("api_accounts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("api_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("account_id", "text", (c) => c.notNull().references("api_accounts.id"))
        .addColumn("label", "text", (c) => c.notNull())
        .addColumn("key_hash", "text", (c) => c.notNull().unique())
        .addColumn("prefix", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("revoked_at", "text")
        .execute();
      await db.schema
        .createTable("api_ledger")
        .addColumn("seq", isPostgres(db) ? "bigserial" : "integer", (c) =>
          isPostgres(db) ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn("id", "text", (c) => c.notNull().unique())
        .addColumn("account_id", "text", (c) => c.notNull().references("api_accounts.id"))
        .addColumn("amount_micro", "bigint", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("rental_id", "text")
        .addColumn("memo", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("api_ledger_account").on("api_ledger").column("account_id").execute();
    },
  },
  "002_rentals_jobs": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("api_rentals")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("account_id", "text", (c) => c.notNull().references("api_accounts.id"))
        .addColumn("miner_hotkey", "text", (c) => c.notNull())
        .addColumn("allocation_id", "text")
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("ssh_host", "text")
        .addColumn("ssh_port", "integer")
        .addColumn("ssh_user", "text")
        .addColumn("ssh_command", "text")
        .addColumn("gpu_model", "text")
        .addColumn("gpu_count", "integer", (c) => c.notNull())
        .addColumn("price_per_gpu_hour", "double precision", (c) => c.notNull())
        .addColumn("rate_micro_per_hour", "bigint", (c) => c.notNull())
        .addColumn("duration_sec", "integer", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("metered_from_ms", "bigint")
        .addColumn("expires_at_ms", "bigint")
        .addColumn("ended_at_ms", "bigint")
        .addColumn("end_reason", "text")
        .addColumn("charged_micro", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("low_balance_warned", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex("api_rentals_account").on("api_rentals").column("account_id").execute();
      await db.schema
        .createIndex("api_rentals_allocation")
        .on("api_rentals")
        .column("allocation_id")
        .execute();
      // One live rental per machine, enforced by the database so concurrent rents cannot both win.
      await sql`create unique index api_rentals_one_live_per_machine on api_rentals (miner_hotkey) where state in ('starting', 'active')`.execute(
        db,
      );
      await db.schema
        .createTable("api_jobs")
        .addColumn("job_id", "text", (c) => c.primaryKey())
        .addColumn("account_id", "text", (c) => c.notNull().references("api_accounts.id"))
        .addColumn("image", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("api_jobs_account").on("api_jobs").column("account_id").execute();
    },
  },
  "003_idempotency_webhooks": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("api_idempotency")
        .addColumn("account_id", "text", (c) => c.notNull())
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("method", "text", (c) => c.notNull())
        .addColumn("path", "text", (c) => c.notNull())
        .addColumn("request_hash", "text", (c) => c.notNull())
        .addColumn("status_code", "integer")
        .addColumn("response_body", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("api_idempotency_pk", ["account_id", "key"])
        .execute();
      await db.schema
        .createTable("api_webhooks")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("account_id", "text", (c) => c.notNull().references("api_accounts.id"))
        .addColumn("url", "text", (c) => c.notNull())
        .addColumn("secret", "text", (c) => c.notNull())
        .addColumn("events", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("revoked_at", "text")
        .execute();
    },
  },
  "004_job_charges": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("api_jobs").addColumn("charged_micro", "bigint").execute();
      await db.schema.alterTable("api_jobs").addColumn("settled_at", "text").execute();
    },
  },
  "005_webhook_outbox": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("api_webhook_deliveries")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("webhook_id", "text", (c) => c.notNull().references("api_webhooks.id"))
        .addColumn("event", "text", (c) => c.notNull())
        .addColumn("body", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("next_at_ms", "bigint", (c) => c.notNull())
        .addColumn("delivered_at", "text")
        .addColumn("failed_at", "text")
        .addColumn("last_error", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("api_webhook_deliveries_due")
        .on("api_webhook_deliveries")
        .columns(["delivered_at", "failed_at", "next_at_ms"])
        .execute();
    },
  },
};

export const apiMigrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
