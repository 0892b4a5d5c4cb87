import { existsSync, statSync } from "node:fs";
import { CmeshError } from "@computemesh/core";
import { randomAsHex } from "@polkadot/util-crypto";
import Database from "better-sqlite3";

export const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts (address TEXT PRIMARY KEY, balance TEXT NOT NULL DEFAULT '0', nonce INTEGER NOT NULL DEFAULT 0);
CREATE TABLE hotkey_owner (hotkey TEXT PRIMARY KEY, coldkey TEXT NOT NULL);
CREATE TABLE subnets (
  netuid INTEGER PRIMARY KEY, owner_coldkey TEXT NOT NULL, owner_hotkey TEXT NOT NULL, params TEXT NOT NULL,
  created_at INTEGER NOT NULL, last_epoch_block INTEGER NOT NULL DEFAULT 0, pending_emission TEXT NOT NULL DEFAULT '0');
CREATE TABLE neurons (
  netuid INTEGER NOT NULL, uid INTEGER NOT NULL, hotkey TEXT NOT NULL, registered_at INTEGER NOT NULL,
  last_update INTEGER NOT NULL, axon TEXT, axon_block INTEGER NOT NULL DEFAULT 0,
  consensus INTEGER NOT NULL DEFAULT 0, incentive INTEGER NOT NULL DEFAULT 0, dividends INTEGER NOT NULL DEFAULT 0,
  validator_trust INTEGER NOT NULL DEFAULT 0, emission TEXT NOT NULL DEFAULT '0',
  validator_permit INTEGER NOT NULL DEFAULT 0, active INTEGER NOT NULL DEFAULT 1,
  weights TEXT NOT NULL DEFAULT '[]', bonds TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (netuid, uid));
CREATE UNIQUE INDEX neurons_hotkey ON neurons(netuid, hotkey);
CREATE TABLE stakes (netuid INTEGER NOT NULL, hotkey TEXT NOT NULL, coldkey TEXT NOT NULL, amount TEXT NOT NULL,
  PRIMARY KEY (netuid, hotkey, coldkey));
CREATE TABLE commits (netuid INTEGER NOT NULL, hotkey TEXT NOT NULL, hash TEXT NOT NULL, commit_block INTEGER NOT NULL,
  commit_epoch INTEGER NOT NULL, PRIMARY KEY (netuid, hotkey, hash));
CREATE TABLE txs (hash TEXT PRIMARY KEY, block INTEGER NOT NULL, signer TEXT NOT NULL, call TEXT NOT NULL,
  ok INTEGER NOT NULL, error TEXT);
`;

const REQUIRED_TABLES = [
  "meta",
  "accounts",
  "hotkey_owner",
  "subnets",
  "neurons",
  "stakes",
  "commits",
  "txs",
];

/**
 * Opens the chain database. A missing file is created only with `create`; a file that is not a chain database
 * (corrupt, foreign, or from another schema version) is always an error — never silently a new chain.
 */
export function openChainDb(dbPath: string, create: boolean): { db: Database.Database; chainId: string } {
  const exists = existsSync(dbPath) && statSync(dbPath).size > 0;
  if (!exists && !create) {
    throw new CmeshError("CHAIN_STATE_MISSING", `no local chain state at ${dbPath}`, {
      hint: "start a new chain with `cmesh chain serve --data-dir DIR` (creates it) or check the path",
    });
  }
  let db: Database.Database;
  try {
    db = new Database(dbPath);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
  } catch (cause) {
    throw corrupt(dbPath, cause);
  }
  try {
    if (!exists) {
      const chainId = randomAsHex(32);
      db.transaction(() => {
        db.exec(SCHEMA);
        const put = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
        put.run("schema_version", String(SCHEMA_VERSION));
        put.run("chain_id", chainId);
        put.run("block", "0");
      })();
      return { db, chainId };
    }
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") throw new Error(`sqlite quick_check: ${String(check)}`);
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
        (r) => r.name,
      ),
    );
    const missing = REQUIRED_TABLES.filter((t) => !tables.has(t));
    if (missing.length > 0) throw new Error(`missing tables: ${missing.join(", ")}`);
    const meta = new Map(
      (db.prepare("SELECT key, value FROM meta").all() as { key: string; value: string }[]).map((r) => [
        r.key,
        r.value,
      ]),
    );
    if (meta.get("schema_version") !== String(SCHEMA_VERSION)) {
      throw new Error(`schema version ${meta.get("schema_version")} (expected ${SCHEMA_VERSION})`);
    }
    const chainId = meta.get("chain_id");
    const block = meta.get("block");
    if (!chainId || !/^0x[0-9a-f]{64}$/.test(chainId) || !block || !/^\d+$/.test(block)) {
      throw new Error("meta table lacks chain_id/block");
    }
    return { db, chainId };
  } catch (cause) {
    db.close();
    if (cause instanceof CmeshError) throw cause;
    throw corrupt(dbPath, cause);
  }
}

function corrupt(dbPath: string, cause: unknown): CmeshError {
  return new CmeshError(
    "CHAIN_STATE_CORRUPT",
    `local chain state at ${dbPath} is unreadable: ${String((cause as Error)?.message ?? cause)}`,
    {
      hint: "restore it from a backup, or start over with `cmesh chain serve --reset` (deletes every registration, stake and weight)",
      cause,
    },
  );
}
