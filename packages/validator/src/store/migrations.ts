import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely";

export type StoreDialect = "sqlite" | "postgres";

/**
 * Schema migrations, in order. Each is written once for both dialects; only the auto-increment key differs.
 * Never edit a migration that has shipped: add a new one.
 */
export function validatorMigrations(dialect: StoreDialect): Record<string, Migration> {
  const autoId = dialect === "postgres" ? ("serial" as const) : ("integer" as const);
  const real = dialect === "postgres" ? sql`double precision` : sql`real`;
  return {
    "0001_initial": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("miners")
          .addColumn("hotkey", "text", (c) => c.primaryKey())
          .addColumn("uid", "integer", (c) => c.notNull())
          .addColumn("coldkey", "text", (c) => c.notNull())
          .addColumn("ip", "text")
          .addColumn("port", "integer")
          .addColumn("registered", "integer", (c) => c.notNull().defaultTo(1))
          .addColumn("first_seen_at", "text", (c) => c.notNull())
          .addColumn("last_seen_at", "text", (c) => c.notNull())
          .addColumn("specs_json", "text")
          .addColumn("specs_at", "text")
          .addColumn("specs_failures", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("miner_version", "text")
          .addColumn("next_pog_at", "text")
          .execute();
        await db.schema.createIndex("miners_uid").on("miners").column("uid").execute();

        await db.schema
          .createTable("specs_history")
          .addColumn("id", autoId, (c) =>
            dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn("hotkey", "text", (c) => c.notNull())
          .addColumn("taken_at", "text", (c) => c.notNull())
          .addColumn("ok", "integer", (c) => c.notNull())
          .addColumn("specs_json", "text")
          .addColumn("error", "text")
          .execute();
        await db.schema
          .createIndex("specs_history_hotkey")
          .on("specs_history")
          .columns(["hotkey", "taken_at"])
          .execute();

        await db.schema
          .createTable("pog_results")
          .addColumn("id", autoId, (c) =>
            dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn("round_id", "text", (c) => c.notNull().unique())
          .addColumn("hotkey", "text", (c) => c.notNull())
          .addColumn("started_at", "text", (c) => c.notNull())
          .addColumn("finished_at", "text", (c) => c.notNull())
          .addColumn("passed", "integer", (c) => c.notNull())
          .addColumn("reason", "text")
          .addColumn("claimed_model", "text")
          .addColumn("proven_model", "text")
          .addColumn("gpu_count", "integer", (c) => c.notNull())
          .addColumn("measured_tops", real)
          .addColumn("simulated", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("uuids_json", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("pog_results_hotkey")
          .on("pog_results")
          .columns(["hotkey", "finished_at"])
          .execute();

        await db.schema
          .createTable("scores")
          .addColumn("id", autoId, (c) =>
            dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn("epoch", "integer", (c) => c.notNull())
          .addColumn("uid", "integer", (c) => c.notNull())
          .addColumn("hotkey", "text", (c) => c.notNull())
          .addColumn("score", real, (c) => c.notNull())
          .addColumn("proven_model", "text")
          .addColumn("gpu_count", "integer", (c) => c.notNull())
          .addColumn("allocated", "integer", (c) => c.notNull())
          .addColumn("computed_at", "text", (c) => c.notNull())
          .addUniqueConstraint("scores_epoch_uid", ["epoch", "uid"])
          .execute();

        await db.schema
          .createTable("weight_sets")
          .addColumn("id", autoId, (c) =>
            dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn("epoch", "integer", (c) => c.notNull().unique())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("uids_json", "text", (c) => c.notNull())
          .addColumn("weights_json", "text", (c) => c.notNull())
          .addColumn("version_key", "integer", (c) => c.notNull())
          .addColumn("last_error", "text")
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .execute();

        await db.schema
          .createTable("allocations")
          .addColumn("allocation_id", "text", (c) => c.primaryKey())
          .addColumn("miner_hotkey", "text", (c) => c.notNull())
          .addColumn("validator_hotkey", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("ssh_host", "text", (c) => c.notNull())
          .addColumn("ssh_port", "integer", (c) => c.notNull())
          .addColumn("ssh_user", "text", (c) => c.notNull())
          .addColumn("ssh_public_key", "text", (c) => c.notNull())
          .addColumn("image", "text")
          .addColumn("resources_json", "text")
          .addColumn("started_at", "text", (c) => c.notNull())
          .addColumn("expires_at", "text", (c) => c.notNull())
          .addColumn("ended_at", "text")
          .addColumn("end_reason", "text")
          .addColumn("health_failures", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("last_health_at", "text")
          .addColumn("receipt_seq", "integer", (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema
          .createIndex("allocations_miner_state")
          .on("allocations")
          .columns(["miner_hotkey", "state"])
          .execute();

        await db.schema
          .createTable("receipts")
          .addColumn("receipt_id", "text", (c) => c.primaryKey())
          .addColumn("allocation_id", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("seq", "integer", (c) => c.notNull())
          .addColumn("miner_hotkey", "text", (c) => c.notNull())
          .addColumn("validator_hotkey", "text", (c) => c.notNull())
          .addColumn("issued_at", "text", (c) => c.notNull())
          .addColumn("payload_json", "text", (c) => c.notNull())
          .addColumn("validator_signature", "text", (c) => c.notNull())
          .addColumn("miner_signature", "text", (c) => c.notNull())
          .addColumn("source", "text", (c) => c.notNull())
          .addColumn("stored_at", "text", (c) => c.notNull())
          .addUniqueConstraint("receipts_allocation_seq", ["allocation_id", "seq"])
          .execute();
        await db.schema
          .createIndex("receipts_miner")
          .on("receipts")
          .columns(["miner_hotkey", "issued_at"])
          .execute();

        await db.schema
          .createTable("probes")
          .addColumn("id", autoId, (c) =>
            dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn("hotkey", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("ok", "integer", (c) => c.notNull())
          .addColumn("at", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("probes_hotkey_at").on("probes").columns(["hotkey", "at"]).execute();

        await db.schema
          .createTable("validator_state")
          .addColumn("key", "text", (c) => c.primaryKey())
          .addColumn("value", "text", (c) => c.notNull())
          .execute();
      },
      async down(db: Kysely<unknown>) {
        for (const table of [
          "validator_state",
          "probes",
          "receipts",
          "allocations",
          "weight_sets",
          "scores",
          "pog_results",
          "specs_history",
          "miners",
        ]) {
          await db.schema.dropTable(table).ifExists().execute();
        }
      },
    },
    "0002_allocation_client_ref": {
      // The renter API passes its rental id into rent(), so after a crash between the validator's record and the
      // API's, the API's restart can find the allocation and release it instead of leaving it held unpaid.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable("allocations").addColumn("client_ref", "text").execute();
        await db.schema
          .createIndex("allocations_client_ref")
          .on("allocations")
          .column("client_ref")
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropIndex("allocations_client_ref").ifExists().execute();
        await db.schema.alterTable("allocations").dropColumn("client_ref").execute();
      },
    },
    "0003_metagraph_history": {
      // The chain's figures per neuron at each of this validator's epochs, for the network page's charts over epochs.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("metagraph_history")
          .addColumn("epoch", "integer", (c) => c.notNull())
          .addColumn("block", "integer", (c) => c.notNull())
          .addColumn("uid", "integer", (c) => c.notNull())
          .addColumn("hotkey", "text", (c) => c.notNull())
          .addColumn("stake", real, (c) => c.notNull())
          .addColumn("incentive", real, (c) => c.notNull())
          .addColumn("dividends", real, (c) => c.notNull())
          .addColumn("emission", real, (c) => c.notNull())
          .addColumn("trust", real, (c) => c.notNull())
          .addPrimaryKeyConstraint("metagraph_history_pk", ["epoch", "uid"])
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable("metagraph_history").ifExists().execute();
      },
    },
  };
}

/** Serves the in-code migrations to Kysely's Migrator (no migration files on disk to lose or mis-order). */
export class InCodeMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: StoreDialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return validatorMigrations(this.dialect);
  }
}
