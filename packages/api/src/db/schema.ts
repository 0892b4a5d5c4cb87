import type { Generated } from "kysely";

/** Tables owned by the renter API (all prefixed `api_`, so they can share a database with the validator). */
export interface ApiDatabase {
  api_accounts: AccountsTable;
  api_keys: ApiKeysTable;
  api_ledger: LedgerTable;
  api_rentals: RentalsTable;
  api_jobs: JobsTable;
  api_idempotency: IdempotencyTable;
  api_webhooks: WebhooksTable;
  api_webhook_deliveries: WebhookDeliveriesTable;
}

export interface AccountsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface ApiKeysTable {
  id: string;
  account_id: string;
  label: string;
  /** SHA-256 of the key, hex. The key itself is shown once and never stored. */
  key_hash: string;
  /** First characters of the key, so a renter can tell keys apart in a listing. */
  prefix: string;
  created_at: string;
  revoked_at: string | null;
}

export interface LedgerTable {
  seq: Generated<number>;
  id: string;
  account_id: string;
  /** Signed micro-credits: deposits positive, charges negative. */
  amount_micro: number | string | bigint;
  kind: "deposit" | "charge" | "adjustment";
  rental_id: string | null;
  memo: string;
  created_at: string;
}

export type RentalState = "starting" | "active" | "released" | "lost" | "failed";

export interface RentalsTable {
  id: string;
  account_id: string;
  miner_hotkey: string;
  allocation_id: string | null;
  state: RentalState;
  ssh_host: string | null;
  ssh_port: number | null;
  ssh_user: string | null;
  ssh_command: string | null;
  gpu_model: string | null;
  gpu_count: number;
  price_per_gpu_hour: number;
  rate_micro_per_hour: number | string | bigint;
  duration_sec: number;
  created_at: string;
  /** Metering starts here (SSH ready), in epoch milliseconds of the API clock. */
  metered_from_ms: number | string | bigint | null;
  expires_at_ms: number | string | bigint | null;
  ended_at_ms: number | string | bigint | null;
  end_reason: string | null;
  charged_micro: number | string | bigint;
  low_balance_warned: number;
}

export interface JobsTable {
  job_id: string;
  account_id: string;
  image: string;
  created_at: string;
  /** What the finished job cost (run seconds × the machine's hourly price); null until settled. */
  charged_micro: number | string | bigint | null;
  settled_at: string | null;
}

export interface IdempotencyTable {
  account_id: string;
  key: string;
  method: string;
  path: string;
  request_hash: string;
  status_code: number | null;
  response_body: string | null;
  created_at: string;
}

export interface WebhooksTable {
  id: string;
  account_id: string;
  url: string;
  secret: string;
  /** JSON array of event kinds. */
  events: string;
  created_at: string;
  revoked_at: string | null;
}

/** The webhook outbox: one row per event per webhook, written before any attempt, so a restart loses none. */
export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event: string;
  /** The exact JSON body that is signed and sent. */
  body: string;
  attempts: number;
  /** Epoch ms of the next attempt (also the lease of an attempt in flight). */
  next_at_ms: number | string;
  delivered_at: string | null;
  /** Set when the retries are used up or the webhook was deleted. */
  failed_at: string | null;
  last_error: string | null;
  created_at: string;
}
