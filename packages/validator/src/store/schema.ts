import type { Generated } from "kysely";

/**
 * Tables of the validator store. The same schema runs on SQLite and PostgreSQL, so booleans are 0/1 integers,
 * times are ISO-8601 UTC strings (they sort as text) and JSON is text.
 */
export interface ValidatorDatabase {
  miners: MinersTable;
  specs_history: SpecsHistoryTable;
  pog_results: PogResultsTable;
  scores: ScoresTable;
  weight_sets: WeightSetsTable;
  allocations: AllocationsTable;
  receipts: ReceiptsTable;
  probes: ProbesTable;
  validator_state: ValidatorStateTable;
  metagraph_history: MetagraphHistoryTable;
}

/** One neuron's chain figures at one of this validator's epochs (stake and emission in TAO). */
export interface MetagraphHistoryTable {
  epoch: Int;
  block: Int;
  uid: Int;
  hotkey: string;
  stake: number;
  incentive: number;
  dividends: number;
  emission: number;
  trust: number;
}

type Bool01 = number;
type IsoTime = string;
/** An integer column (rows are normalized to numbers on read). */
type Int = number;

export interface MinersTable {
  hotkey: string;
  uid: Int;
  coldkey: string;
  ip: string | null;
  port: Int | null;
  /** 1 while the hotkey holds a UID on the metagraph. */
  registered: Bool01;
  first_seen_at: IsoTime;
  last_seen_at: IsoTime;
  /** Latest successful Specs answer, as JSON (null until one arrived). */
  specs_json: string | null;
  specs_at: IsoTime | null;
  /** Consecutive failed Specs queries. */
  specs_failures: Int;
  miner_version: string | null;
  /** When the next proof-of-GPU round is due (randomized so miners cannot predict it). */
  next_pog_at: IsoTime | null;
}

export interface SpecsHistoryTable {
  id: Generated<number>;
  hotkey: string;
  taken_at: IsoTime;
  ok: Bool01;
  specs_json: string | null;
  error: string | null;
}

export interface PogResultsTable {
  id: Generated<number>;
  /** Unique per round; a restarted validator never records a round twice. */
  round_id: string;
  hotkey: string;
  started_at: IsoTime;
  finished_at: IsoTime;
  passed: Bool01;
  reason: string | null;
  claimed_model: string | null;
  proven_model: string | null;
  gpu_count: Int;
  measured_tops: number | null;
  simulated: Bool01;
  uuids_json: string;
}

export interface ScoresTable {
  id: Generated<number>;
  epoch: Int;
  uid: Int;
  hotkey: string;
  score: number;
  proven_model: string | null;
  gpu_count: Int;
  allocated: Bool01;
  computed_at: IsoTime;
}

export interface WeightSetsTable {
  id: Generated<number>;
  /** Unique: one weight set per epoch, whatever the number of attempts and restarts. */
  epoch: Int;
  /** skipped: every score was 0, so there was nothing to set. */
  status: "pending" | "ok" | "failed" | "skipped";
  attempts: Int;
  uids_json: string;
  weights_json: string;
  version_key: Int;
  last_error: string | null;
  created_at: IsoTime;
  updated_at: IsoTime;
}

export interface AllocationsTable {
  allocation_id: string;
  miner_hotkey: string;
  validator_hotkey: string;
  state: "active" | "released" | "lost";
  ssh_host: string;
  ssh_port: Int;
  ssh_user: string;
  ssh_public_key: string;
  image: string | null;
  resources_json: string | null;
  started_at: IsoTime;
  expires_at: IsoTime;
  ended_at: IsoTime | null;
  end_reason: string | null;
  /** Consecutive failed health checks. */
  health_failures: Int;
  last_health_at: IsoTime | null;
  /** Sequence number of the last receipt issued for this allocation. */
  receipt_seq: Int;
  /** The caller's id for this rental (the renter API's rental id), so a restarted caller can find it. */
  client_ref: string | null;
}

export interface ReceiptsTable {
  /** SHA-256 of the canonical payload, hex. */
  receipt_id: string;
  allocation_id: string;
  kind: string;
  seq: Int;
  miner_hotkey: string;
  validator_hotkey: string;
  issued_at: IsoTime;
  payload_json: string;
  validator_signature: string;
  miner_signature: string;
  /** "own" when this validator issued it, "fetched" when learnt from a miner. */
  source: "own" | "fetched";
  stored_at: IsoTime;
}

export interface ProbesTable {
  id: Generated<number>;
  hotkey: string;
  kind: "specs" | "pog" | "health";
  ok: Bool01;
  at: IsoTime;
}

export interface ValidatorStateTable {
  key: string;
  value: string;
}
