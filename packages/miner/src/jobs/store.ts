import Database from "better-sqlite3";
import type { JobSpec, JobState, MinerJobStatus } from "@computemesh/protocol";

export interface MinerJobRow {
  jobId: string;
  owner: string;
  spec: JobSpec;
  state: JobState;
  exitCode: number | null;
  reason: string | null;
  containerId: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  /** Epoch ms when the execution limit runs out (set when the container starts). */
  deadlineAt: number | null;
  stdoutBytes: number;
  stderrBytes: number;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  cancelRequested: string | null;
  receipt: unknown | null;
}

interface RawRow {
  job_id: string;
  owner: string;
  spec_json: string;
  state: JobState;
  exit_code: number | null;
  reason: string | null;
  container_id: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  deadline_at: number | null;
  stdout_bytes: number;
  stderr_bytes: number;
  stdout_truncated: number;
  stderr_truncated: number;
  cancel_requested: string | null;
  receipt_json: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS miner_jobs (
  job_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  spec_json TEXT NOT NULL,
  state TEXT NOT NULL,
  exit_code INTEGER,
  reason TEXT,
  container_id TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  ended_at TEXT,
  deadline_at INTEGER,
  stdout_bytes INTEGER NOT NULL DEFAULT 0,
  stderr_bytes INTEGER NOT NULL DEFAULT 0,
  stdout_truncated INTEGER NOT NULL DEFAULT 0,
  stderr_truncated INTEGER NOT NULL DEFAULT 0,
  cancel_requested TEXT,
  receipt_json TEXT
);
CREATE INDEX IF NOT EXISTS miner_jobs_state ON miner_jobs(state);
`;

const COLUMNS: Record<keyof Omit<MinerJobRow, "jobId">, string> = {
  owner: "owner",
  spec: "spec_json",
  state: "state",
  exitCode: "exit_code",
  reason: "reason",
  containerId: "container_id",
  createdAt: "created_at",
  startedAt: "started_at",
  endedAt: "ended_at",
  deadlineAt: "deadline_at",
  stdoutBytes: "stdout_bytes",
  stderrBytes: "stderr_bytes",
  stdoutTruncated: "stdout_truncated",
  stderrTruncated: "stderr_truncated",
  cancelRequested: "cancel_requested",
  receipt: "receipt_json",
};

function toDb(key: keyof typeof COLUMNS, value: unknown): unknown {
  if (key === "spec" || key === "receipt") return value === null ? null : JSON.stringify(value);
  if (key === "stdoutTruncated" || key === "stderrTruncated") return value ? 1 : 0;
  return value;
}

function fromDb(r: RawRow): MinerJobRow {
  return {
    jobId: r.job_id,
    owner: r.owner,
    spec: JSON.parse(r.spec_json) as JobSpec,
    state: r.state,
    exitCode: r.exit_code,
    reason: r.reason,
    containerId: r.container_id,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    deadlineAt: r.deadline_at,
    stdoutBytes: r.stdout_bytes,
    stderrBytes: r.stderr_bytes,
    stdoutTruncated: r.stdout_truncated === 1,
    stderrTruncated: r.stderr_truncated === 1,
    cancelRequested: r.cancel_requested,
    receipt: r.receipt_json === null ? null : JSON.parse(r.receipt_json),
  };
}

/** The miner's job table (SQLite): survives restarts so the miner reports the true state of every job. */
export class MinerJobStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
  }

  /** The spec is stored without input contents (those live in the job's input directory). */
  insert(row: Pick<MinerJobRow, "jobId" | "owner" | "spec" | "state" | "createdAt">): void {
    this.db
      .prepare("INSERT INTO miner_jobs (job_id, owner, spec_json, state, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(row.jobId, row.owner, JSON.stringify(row.spec), row.state, row.createdAt);
  }

  get(jobId: string): MinerJobRow | undefined {
    const r = this.db.prepare("SELECT * FROM miner_jobs WHERE job_id = ?").get(jobId) as RawRow | undefined;
    return r ? fromDb(r) : undefined;
  }

  update(jobId: string, patch: Partial<Omit<MinerJobRow, "jobId">>): void {
    const keys = Object.keys(patch) as (keyof typeof COLUMNS)[];
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${COLUMNS[k]} = ?`).join(", ");
    const values = keys.map((k) => toDb(k, patch[k]));
    this.db.prepare(`UPDATE miner_jobs SET ${sets} WHERE job_id = ?`).run(...values, jobId);
  }

  unfinished(): MinerJobRow[] {
    const rows = this.db
      .prepare("SELECT * FROM miner_jobs WHERE state IN ('queued','accepted','running') ORDER BY created_at")
      .all() as RawRow[];
    return rows.map(fromDb);
  }

  countUnfinished(): number {
    const r = this.db
      .prepare("SELECT COUNT(*) AS n FROM miner_jobs WHERE state IN ('queued','accepted','running')")
      .get() as { n: number };
    return r.n;
  }

  close(): void {
    this.db.close();
  }
}

export function toStatus(row: MinerJobRow): MinerJobStatus {
  return {
    jobId: row.jobId,
    state: row.state,
    exitCode: row.exitCode,
    reason: row.reason,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    stdoutBytes: row.stdoutBytes,
    stderrBytes: row.stderrBytes,
    stdoutTruncated: row.stdoutTruncated,
    stderrTruncated: row.stderrTruncated,
  };
}
