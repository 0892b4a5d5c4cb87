// Test helper: the store backends every store-dependent test runs against (SQLite always, PostgreSQL when
// reachable; when CMESH_REQUIRE_DOCKER=1 an unreachable PostgreSQL is a failure, not a skip).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { ValidatorStore } from "./store.ts";

export const POSTGRES_URL =
  process.env.CMESH_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:55432/postgres";

export interface StoreBackend {
  name: "sqlite" | "postgres";
  /** Opens a fresh, empty store (its own PostgreSQL schema; SQLite in memory or at `file`). */
  open(file?: string): Promise<{ store: ValidatorStore; location: string; options: { pgSchema?: string } }>;
  /** Drops everything this backend created. */
  cleanup(): Promise<void>;
}

async function postgresReachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("select 1");
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Resolves the backends once per test file; throws when PostgreSQL is required and missing. */
export async function storeBackends(): Promise<StoreBackend[]> {
  const backends: StoreBackend[] = [
    {
      name: "sqlite",
      async open(file) {
        const location = file ?? ":memory:";
        return { store: await ValidatorStore.open(location), location, options: {} };
      },
      async cleanup() {},
    },
  ];
  const pgProblem = await postgresReachable();
  if (pgProblem === null) {
    const schemas: string[] = [];
    backends.push({
      name: "postgres",
      async open() {
        const pgSchema = `cmesh_test_${randomBytes(6).toString("hex")}`;
        schemas.push(pgSchema);
        return {
          store: await ValidatorStore.open(POSTGRES_URL, { pgSchema }),
          location: POSTGRES_URL,
          options: { pgSchema },
        };
      },
      async cleanup() {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
        await client.end();
      },
    });
  } else if (process.env.CMESH_REQUIRE_DOCKER === "1") {
    throw new Error(
      `PostgreSQL at ${POSTGRES_URL} is required (CMESH_REQUIRE_DOCKER=1) but unreachable: ${pgProblem}`,
    );
  } else {
    process.stderr.write(
      `\n*** SKIPPING the PostgreSQL store tests: ${POSTGRES_URL} is unreachable (${pgProblem}). Set CMESH_TEST_POSTGRES_URL. ***\n\n`,
    );
  }
  return backends;
}
