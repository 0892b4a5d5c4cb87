import { createHash, randomBytes, randomUUID } from "node:crypto";
import { sql } from "kysely";
import { ApiError } from "./errors.ts";
import { type ApiDb, toInt } from "./db/open.ts";
import { creditsToMicro } from "./money.ts";

export const API_KEY_PREFIX = "cmk_";

export interface AccountRow {
  id: string;
  name: string;
  createdAt: string;
}
export interface ApiKeyInfo {
  id: string;
  label: string;
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, "").slice(0, 20)}`;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(24).toString("base64url");
}

/** Issues a new key for an account; the plaintext is returned here once and only its hash is stored. */
export async function createApiKey(
  db: ApiDb,
  accountId: string,
  label: string,
  now = new Date(),
): Promise<{ key: string; info: ApiKeyInfo }> {
  const key = generateApiKey();
  const info: ApiKeyInfo = {
    id: newId("key"),
    label,
    prefix: key.slice(0, API_KEY_PREFIX.length + 6),
    createdAt: now.toISOString(),
    revokedAt: null,
  };
  await db
    .insertInto("api_keys")
    .values({
      id: info.id,
      account_id: accountId,
      label,
      key_hash: hashApiKey(key),
      prefix: info.prefix,
      created_at: info.createdAt,
      revoked_at: null,
    })
    .execute();
  return { key, info };
}

/**
 * Creates a renter account with an API key and an optional opening deposit. This is the bootstrap path the
 * local network uses to hand its renter a ready key; the API's `POST /v1/accounts` uses it too.
 *
 * @example const { account, apiKey } = await createAccount(db, { name: "alice", initialCredits: 100 });
 */
export async function createAccount(
  db: ApiDb,
  opts: { name: string; initialCredits?: number; keyLabel?: string; now?: Date },
): Promise<{ account: AccountRow; apiKey: string; keyId: string }> {
  const now = opts.now ?? new Date();
  const account: AccountRow = { id: newId("acc"), name: opts.name, createdAt: now.toISOString() };
  await db
    .insertInto("api_accounts")
    .values({ id: account.id, name: account.name, created_at: account.createdAt })
    .execute();
  const { key, info } = await createApiKey(db, account.id, opts.keyLabel ?? "default", now);
  if (opts.initialCredits && opts.initialCredits > 0) {
    await deposit(db, account.id, creditsToMicro(opts.initialCredits), "opening deposit", now);
  }
  return { account, apiKey: key, keyId: info.id };
}

export async function findAccountByKey(db: ApiDb, key: string): Promise<AccountRow | undefined> {
  if (!key.startsWith(API_KEY_PREFIX)) return undefined;
  const row = await db
    .selectFrom("api_keys")
    .innerJoin("api_accounts", "api_accounts.id", "api_keys.account_id")
    .select(["api_accounts.id", "api_accounts.name", "api_accounts.created_at"])
    .where("api_keys.key_hash", "=", hashApiKey(key))
    .where("api_keys.revoked_at", "is", null)
    .executeTakeFirst();
  return row ? { id: row.id, name: row.name, createdAt: row.created_at } : undefined;
}

export async function listApiKeys(db: ApiDb, accountId: string): Promise<ApiKeyInfo[]> {
  const rows = await db
    .selectFrom("api_keys")
    .selectAll()
    .where("account_id", "=", accountId)
    .orderBy("created_at")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    label: r.label,
    prefix: r.prefix,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  }));
}

/** Revokes one of the account's own keys. A key of another account is "not found", never "forbidden". */
export async function revokeApiKey(
  db: ApiDb,
  accountId: string,
  keyId: string,
  now = new Date(),
): Promise<ApiKeyInfo> {
  const row = await db
    .selectFrom("api_keys")
    .selectAll()
    .where("id", "=", keyId)
    .where("account_id", "=", accountId)
    .executeTakeFirst();
  if (!row)
    throw new ApiError(404, "API_KEY_NOT_FOUND", `no API key ${keyId} on this account`, { field: "keyId" });
  const revokedAt = row.revoked_at ?? now.toISOString();
  await db.updateTable("api_keys").set({ revoked_at: revokedAt }).where("id", "=", keyId).execute();
  return { id: row.id, label: row.label, prefix: row.prefix, createdAt: row.created_at, revokedAt };
}

export async function deposit(
  db: ApiDb,
  accountId: string,
  amountMicro: number,
  memo: string,
  now = new Date(),
) {
  if (!Number.isSafeInteger(amountMicro) || amountMicro <= 0) {
    throw new ApiError(400, "VALIDATION_FAILED", "amount must be a positive number of credits", {
      field: "credits",
    });
  }
  const id = newId("led");
  await db
    .insertInto("api_ledger")
    .values({
      id,
      account_id: accountId,
      amount_micro: amountMicro,
      kind: "deposit",
      rental_id: null,
      memo,
      created_at: now.toISOString(),
    })
    .execute();
  return id;
}

/** The balance is always the sum of the ledger; there is no separately stored balance to drift. */
export async function balanceMicro(db: ApiDb, accountId: string): Promise<number> {
  const row = await db
    .selectFrom("api_ledger")
    .select(sql<string | number | null>`coalesce(sum(amount_micro), 0)`.as("total"))
    .where("account_id", "=", accountId)
    .executeTakeFirst();
  return toInt(row?.total ?? 0);
}

export interface LedgerEntry {
  id: string;
  amountMicro: number;
  kind: string;
  rentalId: string | null;
  memo: string;
  createdAt: string;
}

export async function ledger(db: ApiDb, accountId: string, limit = 200): Promise<LedgerEntry[]> {
  const rows = await db
    .selectFrom("api_ledger")
    .selectAll()
    .where("account_id", "=", accountId)
    .orderBy("seq", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    amountMicro: toInt(r.amount_micro),
    kind: r.kind,
    rentalId: r.rental_id,
    memo: r.memo,
    createdAt: r.created_at,
  }));
}
