import { DEV_PHRASE, Keyring } from "@polkadot/keyring";
import { decodePair } from "@polkadot/keyring/pair/decode";
import type { KeyringPair } from "@polkadot/keyring/types";
import { hexToU8a, isHex, u8aToHex, u8aToU8a, u8aWrapBytes } from "@polkadot/util";
import { cryptoWaitReady, decodeAddress, sr25519Verify } from "@polkadot/util-crypto";
import {
  isReady as wasmReady,
  sr25519Sign as wasmSign,
  sr25519Verify as wasmVerify,
} from "@polkadot/wasm-crypto";

export type { KeyringPair } from "@polkadot/keyring/types";

/** SS58 prefix of every Bittensor network (addresses start with "5"). */
export const SS58_FORMAT = 42;

let ready: Promise<void> | undefined;

/** Waits once for the WASM crypto of @polkadot/util-crypto; call before any other key function. */
export function cryptoReady(): Promise<void> {
  ready ??= cryptoWaitReady().then(() => undefined);
  return ready;
}

/** A fresh sr25519 keyring using the Bittensor SS58 prefix. */
export function newKeyring(): Keyring {
  return new Keyring({ type: "sr25519", ss58Format: SS58_FORMAT });
}

/**
 * sr25519 keypair from a Substrate secret URI: a dev URI ("//Alice"), a mnemonic, or a mnemonic with derivation
 * path ("phrase//hard/soft"). Call `await cryptoReady()` first.
 */
export function keypairFromUri(uri: string): KeyringPair {
  // Like Substrate (and btwallet), a URI that is only a derivation path ("/Bob//test") starts from the dev phrase;
  // polkadot-js does this for "//" paths only.
  return newKeyring().addFromUri(uri.startsWith("/") ? `${DEV_PHRASE}${uri}` : uri);
}

// @polkadot/util-crypto 14 signs and verifies sr25519 in pure JS (@scure/sr25519); the WASM build of schnorrkel in
// @polkadot/wasm-crypto is about 7× faster and produces/accepts the same signatures. KeyringPair does not expose
// its secret, so it is read once from the pair's unencrypted PKCS#8 and kept per pair.
const secrets = new WeakMap<KeyringPair, Uint8Array | null>();

function secretOf(pair: KeyringPair): Uint8Array | null {
  let secret = secrets.get(pair);
  if (secret === undefined) {
    try {
      secret =
        pair.type === "sr25519" && !pair.isLocked
          ? decodePair(undefined, pair.encodePkcs8(), ["none"]).secretKey
          : null;
    } catch {
      secret = null;
    }
    secrets.set(pair, secret);
  }
  return secret;
}

/** Signs bytes with an sr25519 pair (randomized signature, 64 bytes). */
export function signBytes(pair: KeyringPair, message: Uint8Array): Uint8Array {
  const secret = wasmReady() ? secretOf(pair) : null;
  return secret ? wasmSign(pair.publicKey, secret, message) : pair.sign(message);
}

/** Signs UTF-8 text (never interpreted as hex) and returns "0x" + 128 hex chars. */
export function signText(pair: KeyringPair, message: string): string {
  return u8aToHex(signBytes(pair, new TextEncoder().encode(message)));
}

function sr25519Check(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  return wasmReady()
    ? wasmVerify(signature, message, publicKey)
    : sr25519Verify(message, signature, publicKey);
}

/**
 * Verifies an sr25519 signature the way btwallet does: over the message itself, or else over the message wrapped
 * in `<Bytes>…</Bytes>` (what polkadot-js extensions' signRaw produce). A string message is UTF-8 text.
 * Returns false (never throws) for a malformed signature or address.
 */
export function verifySignature(message: string | Uint8Array, signatureHex: string, ss58: string): boolean {
  try {
    if (!isHex(signatureHex) || signatureHex.length !== 130) return false;
    const publicKey = decodeAddress(ss58);
    const signature = hexToU8a(signatureHex);
    const bytes = typeof message === "string" ? new TextEncoder().encode(message) : u8aToU8a(message);
    if (publicKey.length !== 32) return false;
    if (sr25519Check(bytes, signature, publicKey)) return true;
    return sr25519Check(u8aWrapBytes(bytes), signature, publicKey);
  } catch {
    return false;
  }
}
