import type { JobSpec, JobState, SignedJobReceipt } from "@computemesh/protocol";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";

/** One job as the validator tracks it (table `validator_jobs`). */
export interface ValidatorJobRow {
  jobId: string;
  state: JobState;
  minerHotkey: string | null;
  /** The miner the renter named (only that one is used), or null for "any suitable miner". */
  namedMiner: string | null;
  exitCode: number | null;
  reason: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  stdoutBytes: number;
  stderrBytes: number;
  spec: JobSpec;
  /** Miner attempts that were lost (dead miner); bounded by the service's maxAttempts. */
  attempts: number;
  /** Miners already tried (not chosen again). */
  tried: string[];
  /** Logs and outputs fetched once the job ended. */
  finalized: boolean;
  stdoutB64: string | null;
  stderrB64: string | null;
  outputs: { path: string; contentBase64: string }[] | null;
  receipt: SignedJobReceipt | null;
}

interface Raw {
  job_id: string;
  state: string;
  miner_hotkey: string | null;
  named_miner: string | null;
  exit_code: number | null;
  reason: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  stdout_bytes: number;
  stderr_bytes: number;
  spec_json: string;
  attempts: number;
  tried_json: string;
  finalized: number;
  stdout_b64: string | null;
  stderr_b64: string | null;
  outputs_json: string | null;
  receipt_json: string | null;
}

// biome-ignore lint/suspicious/noExplicitAny: the table is created at runtime in whatever database the validator uses
type AnyDb = Kysely<any>;

const TABLE = "validator_jobs";

function fromRaw(r: Raw): ValidatorJobRow {
  return {
    jobId: r.job_id,
    state: r.state as JobState,
    minerHotkey: r.miner_hotkey,
    namedMiner: r.named_miner,
    exitCode: r.exit_code === null ? null : Number(r.exit_code),
    reason: r.reason,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    stdoutBytes: Number(r.stdout_bytes),
    stderrBytes: Number(r.stderr_bytes),
    spec: JSON.parse(r.spec_json) as JobSpec,
    attempts: Number(r.attempts),
    tried: JSON.parse(r.tried_json) as string[],
    finalized: Number(r.finalized) === 1,
    stdoutB64: r.stdout_b64,
    stderrB64: r.stderr_b64,
    outputs: r.outputs_json === null ? null : JSON.parse(r.outputs_json),
    receipt: r.receipt_json === null ? null : JSON.parse(r.receipt_json),
  };
}

function toRaw(patch: Partial<ValidatorJobRow>): Partial<Raw> {
  const out: Record<string, unknown> = {};
  const map: Record<string, [string, (v: unknown) => unknown]> = {
    jobId: ["job_id", (v) => v],
    state: ["state", (v) => v],
    minerHotkey: ["miner_hotkey", (v) => v],
    namedMiner: ["named_miner", (v) => v],
    exitCode: ["exit_code", (v) => v],
    reason: ["reason", (v) => v],
    createdAt: ["created_at", (v) => v],
    startedAt: ["started_at", (v) => v],
    endedAt: ["ended_at", (v) => v],
    stdoutBytes: ["stdout_bytes", (v) => v],
    stderrBytes: ["stderr_bytes", (v) => v],
    spec: ["spec_json", (v) => JSON.stringify(v)],
    attempts: ["attempts", (v) => v],
    tried: ["tried_json", (v) => JSON.stringify(v)],
    finalized: ["finalized", (v) => (v ? 1 : 0)],
    stdoutB64: ["stdout_b64", (v) => v],
    stderrB64: ["stderr_b64", (v) => v],
    outputs: ["outputs_json", (v) => (v === null ? null : JSON.stringify(v))],
    receipt: ["receipt_json", (v) => (v === null ? null : JSON.stringify(v))],
  };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    const [col, conv] = map[k];
    out[col] = conv(v);
  }
  return out as Partial<Raw>;
}

/**
 * The validator's job table over Kysely: the validator's own database (SQLite or PostgreSQL, pass its Kysely
 * instance) or, standalone, an SQLite file of its own.
 */
export class ValidatorJobStore {
  private constructor(
    private readonly db: AnyDb,
    private readonly owned: boolean,
  ) {}

  static async open(opts: { db?: AnyDb; sqlitePath?: string } = {}): Promise<ValidatorJobStore> {
    let db = opts.db;
    let owned = false;
    if (!db) {
      const sqlite = new Database(opts.sqlitePath ?? ":memory:");
      sqlite.pragma("journal_mode = WAL");
      sqlite.pragma("busy_timeout = 5000");
      db = new Kysely({ dialect: new SqliteDialect({ database: sqlite }) });
      owned = true;
    }
    await db.schema
      .createTable(TABLE)
      .ifNotExists()
      .addColumn("job_id", "text", (c) => c.primaryKey())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("miner_hotkey", "text")
      .addColumn("named_miner", "text")
      .addColumn("exit_code", "integer")
      .addColumn("reason", "text")
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("started_at", "text")
      .addColumn("ended_at", "text")
      .addColumn("stdout_bytes", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("stderr_bytes", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("spec_json", "text", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("tried_json", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("finalized", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("stdout_b64", "text")
      .addColumn("stderr_b64", "text")
      .addColumn("outputs_json", "text")
      .addColumn("receipt_json", "text")
      .execute();
    await db.schema.createIndex(`${TABLE}_state`).ifNotExists().on(TABLE).column("state").execute();
    return new ValidatorJobStore(db, owned);
  }

  async insert(row: ValidatorJobRow): Promise<void> {
    await this.db.insertInto(TABLE).values(toRaw(row)).execute();
  }

  async get(jobId: string): Promise<ValidatorJobRow | undefined> {
    const r = (await this.db.selectFrom(TABLE).selectAll().where("job_id", "=", jobId).executeTakeFirst()) as
      | Raw
      | undefined;
    return r ? fromRaw(r) : undefined;
  }

  async update(jobId: string, patch: Partial<ValidatorJobRow>): Promise<void> {
    const raw = toRaw(patch);
    if (Object.keys(raw).length === 0) return;
    await this.db.updateTable(TABLE).set(raw).where("job_id", "=", jobId).execute();
  }

  /** Jobs whose results are not final yet (to resume after a restart). */
  async unfinished(): Promise<ValidatorJobRow[]> {
    const rows = (await this.db
      .selectFrom(TABLE)
      .selectAll()
      .where("finalized", "=", 0)
      .orderBy("created_at")
      .execute()) as Raw[];
    return rows.map(fromRaw);
  }

  async close(): Promise<void> {
    if (this.owned) await this.db.destroy();
  }
}
