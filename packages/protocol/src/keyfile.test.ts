import { createCipheriv, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { cryptoReady, signText, verifySignature } from "./crypto.ts";
import {
  decryptKeyfile,
  encryptKeyfile,
  isNaclEncrypted,
  keyfileDataFromMnemonic,
  keypairFromKeyfileData,
  parseKeyfileData,
  polkadotSecretToSchnorrkel,
  schnorrkelSecretToPolkadot,
  serializeKeyfileData,
} from "./keyfile.ts";

const PHRASE = "old leopard transfer rib spatial phone calm indicate online fire caution review";
const ADDRESS = "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX";
/** btwallet tests/test_keyfile.py: this schnorrkel private key belongs to the PHRASE's public key. */
const PRIVATE_KEY =
  "0x1f1995bdf3a17b60626a26cfe6f564b337d46056b7a1281b64c649d592ccda0a9cffd34d9fb01cae1fba61aeed184c817442a2186d5172416729a4b54dd4b84e";
const FAST = { opslimit: 3, memlimit: 8192 };

beforeAll(() => cryptoReady());

describe("keyfile JSON", () => {
  it("writes btwallet's six fields with the schnorrkel private key form", () => {
    const data = keyfileDataFromMnemonic(PHRASE);
    expect(data).toMatchObject({
      secretPhrase: PHRASE,
      privateKey: PRIVATE_KEY,
      publicKey: "0xe4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446",
      accountId: "0xe4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446",
      ss58Address: ADDRESS,
    });
    expect(data.secretSeed).toMatch(/^0x[0-9a-f]{64}$/);
  });
  it("loads by priority: phrase, then seed, then private key", () => {
    const data = keyfileDataFromMnemonic(PHRASE);
    expect(keypairFromKeyfileData(data).address).toBe(ADDRESS);
    expect(keypairFromKeyfileData({ ...data, secretPhrase: undefined }).address).toBe(ADDRESS);
    const fromPrivate = keypairFromKeyfileData({ privateKey: PRIVATE_KEY, ss58Address: ADDRESS });
    expect(fromPrivate.address).toBe(ADDRESS);
    const sig = fromPrivate.sign(new TextEncoder().encode("m"));
    expect(keypairFromKeyfileData(data).verify("m", sig, fromPrivate.publicKey)).toBe(true);
    expect(verifySignature("m2", signText(fromPrivate, "m2"), ADDRESS)).toBe(true);
  });
  it("converts private key forms both ways", () => {
    const pjs = schnorrkelSecretToPolkadot(Buffer.from(PRIVATE_KEY.slice(2), "hex"));
    expect(Buffer.from(polkadotSecretToSchnorrkel(pjs)).toString("hex")).toBe(PRIVATE_KEY.slice(2));
  });
  it("refuses a public-only keyfile for signing, a mismatched address, bad JSON and a bad mnemonic", () => {
    expect(() => keypairFromKeyfileData({ ss58Address: ADDRESS })).toThrow(/only a public key/);
    const data = keyfileDataFromMnemonic(PHRASE);
    expect(() =>
      keypairFromKeyfileData({ ...data, ss58Address: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY" }),
    ).toThrow(/does not match/);
    expect(() => parseKeyfileData(new TextEncoder().encode("{nope"))).toThrow(/not JSON/);
    expect(() => parseKeyfileData(new TextEncoder().encode('{"secretSeed": 5}'))).toThrow(/invalid fields/);
    expect(() => keyfileDataFromMnemonic("this is not a mnemonic")).toThrow(/not a valid BIP-39/);
  });
});

describe("$NACL encryption", () => {
  it("round trips with btwallet's full Argon2i parameters (~5 s)", async () => {
    const plain = serializeKeyfileData(keyfileDataFromMnemonic(PHRASE));
    const enc = await encryptKeyfile(plain, "thisisafakepassword");
    expect(isNaclEncrypted(enc)).toBe(true);
    expect(enc.length).toBe(5 + 24 + 16 + plain.length);
    expect(Buffer.from(await decryptKeyfile(enc, "thisisafakepassword"))).toEqual(Buffer.from(plain));
  }, 120_000);
  it("rejects a wrong password and truncated data with typed errors", async () => {
    const enc = await encryptKeyfile(new TextEncoder().encode("{}"), "right", FAST);
    await expect(decryptKeyfile(enc, "wrong", { kdf: FAST })).rejects.toMatchObject({
      code: "WALLET_WRONG_PASSWORD",
    });
    await expect(decryptKeyfile(enc.subarray(0, 20), "right", { kdf: FAST })).rejects.toMatchObject({
      code: "KEYFILE_CORRUPT",
    });
    const flipped = Uint8Array.from(enc);
    flipped[flipped.length - 1] ^= 1;
    await expect(decryptKeyfile(flipped, "right", { kdf: FAST })).rejects.toMatchObject({
      code: "WALLET_WRONG_PASSWORD",
    });
  });
  it("a different nonce each time", async () => {
    const a = await encryptKeyfile(new TextEncoder().encode("{}"), "pw", FAST);
    const b = await encryptKeyfile(new TextEncoder().encode("{}"), "pw", FAST);
    expect(Buffer.from(a)).not.toEqual(Buffer.from(b));
  });
});

/** Ansible Vault 1.1 AES256 writer, following the published format, to produce legacy files to read. */
function ansibleVault(plain: Buffer, password: string): string {
  const salt = randomBytes(32);
  const derived = pbkdf2Sync(password, salt, 10000, 80, "sha256");
  const pad = 16 - (plain.length % 16);
  const padded = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
  const cipher = createCipheriv("aes-256-ctr", derived.subarray(0, 32), derived.subarray(64, 80));
  const ct = Buffer.concat([cipher.update(padded), cipher.final()]);
  const mac = createHmac("sha256", derived.subarray(32, 64)).update(ct).digest();
  const inner = Buffer.from([salt.toString("hex"), mac.toString("hex"), ct.toString("hex")].join("\n"));
  const lines = inner.toString("hex").match(/.{1,80}/g) ?? [];
  return `$ANSIBLE_VAULT;1.1;AES256\n${lines.join("\n")}\n`;
}

describe("legacy $ANSIBLE_VAULT keyfiles", () => {
  it("decrypts with the right password and refuses a wrong one", async () => {
    const plain = Buffer.from(serializeKeyfileData(keyfileDataFromMnemonic(PHRASE)));
    const vault = new TextEncoder().encode(ansibleVault(plain, "pw"));
    const out = await decryptKeyfile(vault, "pw");
    expect(keypairFromKeyfileData(parseKeyfileData(out)).address).toBe(ADDRESS);
    await expect(decryptKeyfile(vault, "nope")).rejects.toMatchObject({ code: "WALLET_WRONG_PASSWORD" });
  });
});
