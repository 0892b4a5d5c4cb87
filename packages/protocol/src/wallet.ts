import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { KeyringPair } from "@polkadot/keyring/types";
import { mnemonicGenerate } from "@polkadot/util-crypto";
import { cryptoReady } from "./crypto.ts";
import { ProtocolError } from "./errors.ts";
import {
  addressOfKeyfileData,
  decryptKeyfile,
  encryptKeyfile,
  isEncrypted,
  type KdfParams,
  type KeyfileData,
  keyfileDataFromMnemonic,
  keypairFromKeyfileData,
  parseKeyfileData,
  publicKeyfileData,
  serializeKeyfileData,
} from "./keyfile.ts";

export const DEFAULT_WALLET_PATH = "~/.bittensor/wallets";

export type MnemonicWords = 12 | 15 | 18 | 21 | 24;

export interface CreateKeyOptions {
  /** Regenerate from this phrase instead of generating a new one. */
  mnemonic?: string;
  /** Encrypt with this password; null writes plain JSON. Coldkeys require one of the two, hotkeys default to null. */
  password?: string | null;
  /** Replace an existing key file (otherwise WALLET_KEY_EXISTS). */
  overwrite?: boolean;
  words?: MnemonicWords;
}

export function expandHome(path: string): string {
  if (path === "~") return homedir();
  if (path.startsWith("~/")) return join(homedir(), path.slice(2));
  return resolve(path);
}

function assertName(kind: string, name: string): void {
  if (!name || name.includes("/") || name.includes("\\") || name === "." || name === "..") {
    throw new ProtocolError("WALLET_BAD_NAME", `${kind} name "${name}" is not a valid file name`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A btcli-compatible wallet: `<path>/<name>/coldkey`, `coldkeypub.txt`, `hotkeys/<hotkey>` (+ `<hotkey>pub.txt`).
 * Keyfiles are btwallet's JSON, encrypted as `$NACL` when a password is given.
 */
export class Wallet {
  readonly name: string;
  readonly hotkeyName: string;
  readonly path: string;
  readonly coldkeyFile: string;
  readonly coldkeypubFile: string;
  readonly hotkeyFile: string;
  readonly hotkeypubFile: string;
  private readonly kdf?: KdfParams;

  /** `kdf` lowers the Argon2i cost for tests only; such files do not open with btcli. */
  constructor(opts: { name?: string; hotkey?: string; path?: string; kdf?: KdfParams } = {}) {
    this.name = opts.name ?? "default";
    this.hotkeyName = opts.hotkey ?? "default";
    assertName("wallet", this.name);
    assertName("hotkey", this.hotkeyName);
    this.path = expandHome(opts.path ?? DEFAULT_WALLET_PATH);
    this.kdf = opts.kdf;
    const dir = join(this.path, this.name);
    this.coldkeyFile = join(dir, "coldkey");
    this.coldkeypubFile = join(dir, "coldkeypub.txt");
    this.hotkeyFile = join(dir, "hotkeys", this.hotkeyName);
    this.hotkeypubFile = join(dir, "hotkeys", `${this.hotkeyName}pub.txt`);
  }

  async createColdkey(o: CreateKeyOptions = {}): Promise<{ mnemonic: string; address: string }> {
    if (o.password === undefined) {
      throw new ProtocolError(
        "WALLET_PASSWORD_REQUIRED",
        "a coldkey needs a password or an explicit password: null",
        {
          hint: "pass a password, or --no-password to write it unencrypted",
        },
      );
    }
    return this.createKey(this.coldkeyFile, this.coldkeypubFile, o);
  }

  async createHotkey(o: CreateKeyOptions = {}): Promise<{ mnemonic: string; address: string }> {
    return this.createKey(this.hotkeyFile, this.hotkeypubFile, { ...o, password: o.password ?? null });
  }

  private async createKey(
    file: string,
    pubFile: string,
    o: CreateKeyOptions,
  ): Promise<{ mnemonic: string; address: string }> {
    await cryptoReady();
    if (!o.overwrite && (await exists(file))) {
      throw new ProtocolError("WALLET_KEY_EXISTS", `${file} already exists`, {
        hint: "pass --overwrite to replace it (the old key is lost unless you kept its mnemonic)",
      });
    }
    const mnemonic = (o.mnemonic ?? mnemonicGenerate(o.words ?? 12)).trim().split(/\s+/).join(" ");
    const data = keyfileDataFromMnemonic(mnemonic);
    const plain = serializeKeyfileData(data);
    const bytes = o.password ? await encryptKeyfile(plain, o.password, this.kdf) : plain;
    await writeSecret(file, bytes);
    await writeSecret(pubFile, serializeKeyfileData(publicKeyfileData(data)));
    return { mnemonic, address: data.ss58Address! };
  }

  loadColdkey(password?: string): Promise<KeyringPair> {
    return this.loadKey(this.coldkeyFile, "coldkey", password);
  }

  loadHotkey(password?: string): Promise<KeyringPair> {
    return this.loadKey(this.hotkeyFile, "hotkey", password);
  }

  /** Whether the key file is encrypted (so loading it needs a password). */
  async isEncrypted(which: "coldkey" | "hotkey"): Promise<boolean> {
    return isEncrypted(
      await this.readKeyfile(which === "coldkey" ? this.coldkeyFile : this.hotkeyFile, which),
    );
  }

  async coldkeyAddress(): Promise<string> {
    return this.addressFrom([this.coldkeypubFile, this.coldkeyFile], "coldkey");
  }

  async hotkeyAddress(): Promise<string> {
    return this.addressFrom([this.hotkeypubFile, this.hotkeyFile], "hotkey");
  }

  /** Hotkey names present in this wallet (files under hotkeys/ that are not pub files). */
  async hotkeyNames(): Promise<string[]> {
    try {
      const names = await readdir(join(this.path, this.name, "hotkeys"));
      return names.filter((n) => !n.endsWith("pub.txt")).sort();
    } catch {
      return [];
    }
  }

  private async readKeyfile(file: string, kind: string): Promise<Uint8Array> {
    try {
      return await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new ProtocolError("WALLET_NOT_FOUND", `no ${kind} at ${file}`, {
          hint: `create it with \`cmesh wallet new-${kind}\` or regenerate it with \`cmesh wallet regen-${kind} --mnemonic "…"\` (check --wallet.path/--wallet.name/--wallet.hotkey)`,
        });
      }
      throw err;
    }
  }

  private async loadKey(file: string, kind: string, password?: string): Promise<KeyringPair> {
    await cryptoReady();
    let bytes = await this.readKeyfile(file, kind);
    if (isEncrypted(bytes)) {
      if (password === undefined) {
        throw new ProtocolError("WALLET_PASSWORD_REQUIRED", `${file} is encrypted and needs its password`, {
          hint: "enter it at the prompt or set CMESH_WALLET_PASSWORD",
        });
      }
      bytes = await decryptKeyfile(bytes, password, { kdf: this.kdf, path: file });
    }
    return keypairFromKeyfileData(parseKeyfileData(bytes, file), file);
  }

  private async addressFrom(files: string[], kind: string): Promise<string> {
    for (const file of files) {
      let bytes: Uint8Array;
      try {
        bytes = await readFile(file);
      } catch {
        continue;
      }
      if (isEncrypted(bytes)) continue;
      const data: KeyfileData = parseKeyfileData(bytes, file);
      const address = addressOfKeyfileData(data);
      if (address) return address;
    }
    throw new ProtocolError(
      "WALLET_NOT_FOUND",
      `no readable public ${kind} for wallet ${this.name} in ${this.path}`,
      {
        hint: `create it with \`cmesh wallet new-${kind}\` (check --wallet.path/--wallet.name/--wallet.hotkey)`,
      },
    );
  }
}

async function writeSecret(file: string, bytes: Uint8Array): Promise<void> {
  await mkdir(join(file, ".."), { recursive: true, mode: 0o700 });
  await writeFile(file, bytes, { mode: 0o600 });
  await chmod(file, 0o600);
}
