import { DEV_PHRASE, Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { hexToU8a, isHex, u8aToHex, u8aToU8a, u8aWrapBytes } from "@polkadot/util";
import { cryptoWaitReady, decodeAddress, sr25519Verify } from "@polkadot/util-crypto";

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

/** Signs UTF-8 text (never interpreted as hex) and returns "0x" + 128 hex chars. */
export function signText(pair: KeyringPair, message: string): string {
  return u8aToHex(pair.sign(new TextEncoder().encode(message)));
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
    if (sr25519Verify(bytes, signature, publicKey)) return true;
    return sr25519Verify(u8aWrapBytes(bytes), signature, publicKey);
  } catch {
    return false;
  }
}
