import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { createDecipheriv, createHmac, pbkdf2Sync, timingSafeEqual } from "node:crypto";
import type { KeyringPair } from "@polkadot/keyring/types";
import { hexToU8a, isHex, u8aToHex } from "@polkadot/util";
import {
  decodeAddress,
  encodeAddress,
  mnemonicToMiniSecret,
  mnemonicValidate,
  sr25519PairFromSeed,
} from "@polkadot/util-crypto";
import sodium from "libsodium-wrappers-sumo";
import { z } from "zod";
import { newKeyring, SS58_FORMAT } from "./crypto.ts";
import { ProtocolError } from "./errors.ts";

/**
 * btwallet keyfiles (reference §2.2–2.3): JSON key data, optionally encrypted as `$NACL` (Argon2i13 + XSalsa20-
 * Poly1305). Reads the legacy `$ANSIBLE_VAULT` format too.
 */

export const NACL_PREFIX = "$NACL";
const NACL_SALT = hexToU8a("0x137183dff15a09bc9c90b5518739e9b1");

/** Argon2i cost; btwallet always uses SENSITIVE (8, 512 MiB). Lower values exist only to keep tests fast. */
export interface KdfParams {
  opslimit: number;
  memlimit: number;
}
export const BTWALLET_KDF: KdfParams = { opslimit: 8, memlimit: 512 * 1024 * 1024 };

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/);
export const keyfileDataSchema = z.object({
  secretPhrase: z.string().nullish(),
  secretSeed: hex.nullish(),
  privateKey: hex.nullish(),
  publicKey: hex.nullish(),
  accountId: hex.nullish(),
  ss58Address: z.string().nullish(),
});
export type KeyfileData = z.infer<typeof keyfileDataSchema>;

let sodiumReady: Promise<void> | undefined;
async function ready(): Promise<typeof sodium> {
  sodiumReady ??= sodium.ready;
  await sodiumReady;
  return sodium;
}

const kdfWorkerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const sodium = require(workerData.sodiumPath);
sodium.ready.then(() => {
  const d = workerData;
  parentPort.postMessage(sodium.crypto_pwhash(d.keyBytes, d.password, d.salt, d.opslimit, d.memlimit, sodium.crypto_pwhash_ALG_ARGON2I13));
});
`;

/**
 * Argon2i13 key from the password and btwallet's fixed salt (~5 s and 512 MiB with BTWALLET_KDF). It runs in a
 * worker thread so the event loop (and a CLI spinner) keeps going.
 */
export async function deriveKeyfileKey(password: string, kdf: KdfParams = BTWALLET_KDF): Promise<Uint8Array> {
  const s = await ready();
  if (kdf.opslimit < 3 || kdf.memlimit < 8192) {
    throw new RangeError("Argon2i13 needs opslimit ≥ 3 and memlimit ≥ 8192 bytes");
  }
  const worker = new Worker(kdfWorkerSource, {
    eval: true,
    workerData: {
      sodiumPath: createRequire(import.meta.url).resolve("libsodium-wrappers-sumo"),
      keyBytes: s.crypto_secretbox_KEYBYTES,
      password: new TextEncoder().encode(password),
      salt: NACL_SALT,
      opslimit: kdf.opslimit,
      memlimit: kdf.memlimit,
    },
  });
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      worker.once("message", (key: Uint8Array) => resolve(new Uint8Array(key)));
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`Argon2i worker exited with code ${code}`)));
    });
  } finally {
    await worker.terminate();
  }
}

export function isNaclEncrypted(data: Uint8Array): boolean {
  return Buffer.from(data.subarray(0, NACL_PREFIX.length)).toString("latin1") === NACL_PREFIX;
}

export function isAnsibleVault(data: Uint8Array): boolean {
  return Buffer.from(data.subarray(0, 14)).toString("latin1") === "$ANSIBLE_VAULT";
}

export function isEncrypted(data: Uint8Array): boolean {
  return isNaclEncrypted(data) || isAnsibleVault(data);
}

/** `$NACL` ‖ nonce(24) ‖ secretbox(plaintext). */
export async function encryptKeyfile(
  plain: Uint8Array,
  password: string,
  kdf?: KdfParams,
): Promise<Uint8Array> {
  const s = await ready();
  const key = await deriveKeyfileKey(password, kdf);
  const nonce = s.randombytes_buf(s.crypto_secretbox_NONCEBYTES);
  const box = s.crypto_secretbox_easy(plain, nonce, key);
  return Buffer.concat([Buffer.from(NACL_PREFIX, "latin1"), nonce, box]);
}

function wrongPassword(path?: string): ProtocolError {
  return new ProtocolError("WALLET_WRONG_PASSWORD", `wrong password for keyfile${path ? ` ${path}` : ""}`, {
    hint: "check the password (or CMESH_WALLET_PASSWORD); it cannot be recovered, but the key can be regenerated from its mnemonic",
  });
}

/** Decrypts `$NACL` or `$ANSIBLE_VAULT` keyfile bytes; a wrong password throws WALLET_WRONG_PASSWORD. */
export async function decryptKeyfile(
  data: Uint8Array,
  password: string,
  opts: { kdf?: KdfParams; path?: string } = {},
): Promise<Uint8Array> {
  if (isAnsibleVault(data))
    return decryptAnsibleVault(Buffer.from(data).toString("utf8"), password, opts.path);
  if (!isNaclEncrypted(data)) {
    throw new ProtocolError(
      "KEYFILE_NOT_ENCRYPTED",
      `keyfile${opts.path ? ` ${opts.path}` : ""} is not encrypted`,
    );
  }
  const s = await ready();
  const nonce = data.subarray(NACL_PREFIX.length, NACL_PREFIX.length + s.crypto_secretbox_NONCEBYTES);
  const box = data.subarray(NACL_PREFIX.length + s.crypto_secretbox_NONCEBYTES);
  if (box.length < s.crypto_secretbox_MACBYTES) {
    throw new ProtocolError("KEYFILE_CORRUPT", `keyfile${opts.path ? ` ${opts.path}` : ""} is truncated`);
  }
  const key = await deriveKeyfileKey(password, opts.kdf);
  try {
    return s.crypto_secretbox_open_easy(box, nonce, key);
  } catch {
    throw wrongPassword(opts.path);
  }
}

/**
 * Ansible Vault 1.1 AES256 (btwallet's legacy format): PBKDF2-SHA256 (10000 rounds) → AES-256-CTR key, HMAC key
 * and IV; HMAC-SHA256 over the ciphertext; PKCS#7 padding.
 */
export function decryptAnsibleVault(text: string, password: string, path?: string): Uint8Array {
  const lines = text.trim().split(/\r?\n/);
  const header = lines[0].split(";");
  if (header[0] !== "$ANSIBLE_VAULT" || header[2]?.trim() !== "AES256") {
    throw new ProtocolError("KEYFILE_CORRUPT", `unsupported vault header ${lines[0]}`);
  }
  const inner = Buffer.from(lines.slice(1).join(""), "hex").toString("latin1").split("\n");
  if (inner.length < 3) throw new ProtocolError("KEYFILE_CORRUPT", "vault payload is malformed");
  const [salt, mac, cipher] = inner.map((h) => Buffer.from(h.trim(), "hex"));
  const derived = pbkdf2Sync(password, salt, 10000, 80, "sha256");
  const expected = createHmac("sha256", derived.subarray(32, 64)).update(cipher).digest();
  if (expected.length !== mac.length || !timingSafeEqual(expected, mac)) throw wrongPassword(path);
  const decipher = createDecipheriv("aes-256-ctr", derived.subarray(0, 32), derived.subarray(64, 80));
  const padded = Buffer.concat([decipher.update(cipher), decipher.final()]);
  const pad = padded[padded.length - 1];
  if (!pad || pad > 16) throw new ProtocolError("KEYFILE_CORRUPT", "vault padding is malformed");
  return padded.subarray(0, padded.length - pad);
}

function shiftScalar(bytes: Uint8Array, left: boolean): Uint8Array {
  let n = 0n;
  for (let i = 31; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  n = left ? (n << 3n) & ((1n << 256n) - 1n) : n >> 3n;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** polkadot-js 64-byte secret (ed25519-style scalar × 8 ‖ nonce) → schnorrkel `SecretKey::to_bytes()`. */
export function polkadotSecretToSchnorrkel(secret: Uint8Array): Uint8Array {
  return Uint8Array.from([...shiftScalar(secret.subarray(0, 32), false), ...secret.subarray(32, 64)]);
}

/** schnorrkel `SecretKey::to_bytes()` → polkadot-js 64-byte secret. */
export function schnorrkelSecretToPolkadot(secret: Uint8Array): Uint8Array {
  return Uint8Array.from([...shiftScalar(secret.subarray(0, 32), true), ...secret.subarray(32, 64)]);
}

/** Keyfile JSON for a key made from a mnemonic (btwallet writes all six fields). */
export function keyfileDataFromMnemonic(mnemonic: string): KeyfileData {
  if (!mnemonicValidate(mnemonic)) {
    throw new ProtocolError("INVALID_MNEMONIC", "the mnemonic is not a valid BIP-39 English phrase", {
      hint: "check the words and their order (12, 15, 18, 21 or 24 words)",
    });
  }
  const seed = mnemonicToMiniSecret(mnemonic);
  const pair = newKeyring().addFromSeed(seed);
  const secret = sr25519PairFromSeed(seed).secretKey;
  return {
    secretPhrase: mnemonic,
    secretSeed: u8aToHex(seed),
    privateKey: u8aToHex(polkadotSecretToSchnorrkel(secret)),
    publicKey: u8aToHex(pair.publicKey),
    accountId: u8aToHex(pair.publicKey),
    ss58Address: pair.address,
  };
}

/** The public parts only (coldkeypub.txt, hotkeys/NAMEpub.txt). */
export function publicKeyfileData(data: KeyfileData): KeyfileData {
  return { publicKey: data.publicKey, accountId: data.accountId, ss58Address: data.ss58Address };
}

export function serializeKeyfileData(data: KeyfileData): Uint8Array {
  const clean = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined && v !== null));
  return new TextEncoder().encode(JSON.stringify(clean));
}

export function parseKeyfileData(bytes: Uint8Array, path?: string): KeyfileData {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ProtocolError("KEYFILE_CORRUPT", `keyfile${path ? ` ${path}` : ""} is not JSON`, {
      hint: "an encrypted keyfile needs its password; otherwise regenerate the key from its mnemonic",
    });
  }
  const parsed = keyfileDataSchema.safeParse(json);
  if (!parsed.success) {
    throw new ProtocolError(
      "KEYFILE_CORRUPT",
      `keyfile${path ? ` ${path}` : ""} has invalid fields: ${parsed.error.message}`,
    );
  }
  return parsed.data;
}

/** Loads a signing keypair in btwallet's priority: secretPhrase → secretSeed → privateKey. */
export function keypairFromKeyfileData(data: KeyfileData, path?: string): KeyringPair {
  const keyring = newKeyring();
  let pair: KeyringPair;
  if (data.secretPhrase) pair = keyring.addFromUri(data.secretPhrase);
  else if (data.secretSeed) pair = keyring.addFromSeed(hexToU8a(data.secretSeed));
  else if (data.privateKey) {
    const secret = hexToU8a(data.privateKey);
    if (secret.length !== 64) throw new ProtocolError("KEYFILE_CORRUPT", "privateKey must be 64 bytes");
    const publicKey = data.publicKey ? hexToU8a(data.publicKey) : decodeAddress(data.ss58Address ?? "");
    pair = keyring.addFromPair({ publicKey, secretKey: schnorrkelSecretToPolkadot(secret) });
  } else {
    throw new ProtocolError("KEYFILE_NO_SECRET", `keyfile${path ? ` ${path}` : ""} holds only a public key`, {
      hint: "signing needs the full keyfile; regenerate it from the mnemonic with `cmesh wallet regen-…`",
    });
  }
  const claimed = addressOfKeyfileData(data);
  if (claimed && claimed !== pair.address) {
    throw new ProtocolError(
      "KEYFILE_CORRUPT",
      `keyfile${path ? ` ${path}` : ""} secret does not match its address ${claimed}`,
    );
  }
  return pair;
}

/** SS58 address (prefix 42) a keyfile declares, from ss58Address or its public key. */
export function addressOfKeyfileData(data: KeyfileData): string | undefined {
  if (data.ss58Address) return encodeAddress(decodeAddress(data.ss58Address), SS58_FORMAT);
  const pub = data.publicKey ?? data.accountId;
  if (pub && isHex(pub)) return encodeAddress(hexToU8a(pub), SS58_FORMAT);
  return undefined;
}
