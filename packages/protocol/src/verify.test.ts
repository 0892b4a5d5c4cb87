import type { KeyringPair } from "@polkadot/keyring/types";
import { beforeAll, describe, expect, it } from "vitest";
import { cryptoReady, keypairFromUri, signText } from "./crypto.ts";
import { NonceVerifier, requestSigningMessage } from "./verify.ts";
import { emptyTerminal, type TerminalInfo } from "./wire.ts";

const HASH = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a";
const NOW = 1_800_000_000_000_000_000n;
const SEC = 1_000_000_000n;
let alice: KeyringPair;
let bob: KeyringPair;

beforeAll(async () => {
  await cryptoReady();
  alice = keypairFromUri("//Alice");
  bob = keypairFromUri("//Bob");
});

function signed(nonce: bigint, uuid = "u-1", signer = bob): TerminalInfo {
  const message = requestSigningMessage(nonce, bob.address, alice.address, uuid, HASH);
  return { ...emptyTerminal(), nonce, uuid, hotkey: bob.address, signature: signText(signer, message) };
}

describe("NonceVerifier", () => {
  const verifier = () => new NonceVerifier(alice.address, () => 12n * SEC);

  it("accepts a fresh signed nonce once", () => {
    const v = verifier();
    expect(v.verify(signed(NOW - SEC), HASH, 12, NOW)).toBeNull();
    expect(v.verify(signed(NOW - SEC), HASH, 12, NOW)).toBe(
      "Nonce is too old, a newer one was last processed",
    );
  });

  it("accepts concurrent requests arriving out of order, each once", () => {
    const v = verifier();
    const early = signed(NOW - 2n * SEC);
    const late = signed(NOW - SEC);
    expect(v.verify(late, HASH, 12, NOW)).toBeNull();
    expect(v.verify(early, HASH, 12, NOW)).toBeNull();
    expect(v.verify(early, HASH, 12, NOW)).toMatch(/Nonce is too old/);
    expect(v.verify(late, HASH, 12, NOW)).toMatch(/Nonce is too old/);
  });

  it("refuses nonces older than 4 s + timeout, and future nonces are allowed", () => {
    const v = verifier();
    expect(v.verify(signed(NOW - 17n * SEC), HASH, 12, NOW)).toBe(
      "Nonce is too old: acceptable delta is 16.00 seconds but request was 17.00 seconds old",
    );
    expect(v.verify(signed(NOW + 30n * SEC), HASH, 12, NOW)).toBeNull();
  });

  it("keeps state per hotkey:uuid", () => {
    const v = verifier();
    expect(v.verify(signed(NOW, "a"), HASH, 12, NOW)).toBeNull();
    expect(v.verify(signed(NOW, "b"), HASH, 12, NOW)).toBeNull();
    expect(v.size).toBe(2);
  });

  it("refuses wrong signer, other body hash and missing fields; a failed check stores nothing", () => {
    const v = verifier();
    expect(v.verify(signed(NOW, "u", alice), HASH, 12, NOW)).toMatch(/^Signature mismatch with /);
    expect(v.verify(signed(NOW), "00", 12, NOW)).toMatch(/^Signature mismatch with /);
    expect(v.size).toBe(0);
    expect(v.verify({ ...signed(NOW), signature: null }, HASH, 12, NOW)).toBe("Missing Signature");
    expect(v.verify({ ...signed(NOW), nonce: null }, HASH, 12, NOW)).toBe("Missing Nonce");
    expect(v.verify({ ...signed(NOW), uuid: null }, HASH, 12, NOW)).toBe("Missing UUID");
    expect(v.verify(signed(NOW), HASH, 12, NOW)).toBeNull();
  });

  it("prunes endpoints whose nonces left the window; their replays still fail by age", () => {
    const v = verifier();
    const req = signed(NOW);
    expect(v.verify(req, HASH, 12, NOW)).toBeNull();
    v.prune(NOW + 60n * SEC);
    expect(v.size).toBe(0);
    expect(v.verify(req, HASH, 12, NOW + 60n * SEC)).toMatch(/^Nonce is too old: acceptable delta/);
  });
});
