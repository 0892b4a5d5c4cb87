// Validation of the renter's SSH public key. The key is written into authorized_keys by the miner, so only a
// plain `type base64 [comment]` line is accepted: no options (command=, from=, …), no private keys, no second line.
import { createHash } from "node:crypto";
import { CmeshError } from "@computemesh/core";
import ssh2 from "ssh2";

const ALLOWED_TYPES = new Set([
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
]);
const MIN_RSA_BITS = 2048;

export interface RenterKey {
  type: string;
  /** `type base64` with the comment replaced by a fixed one (the comment is never written verbatim). */
  authorizedKeysLine: string;
  /** OpenSSH-style `SHA256:…` fingerprint. */
  fingerprint: string;
}

function invalid(message: string): CmeshError {
  return new CmeshError("INVALID_SSH_KEY", message, {
    hint: "send one OpenSSH public key line, e.g. the content of ~/.ssh/id_ed25519.pub",
  });
}

/** Bits of the modulus of an ssh-rsa public key blob (string type, mpint e, mpint n). */
function rsaBits(blob: Buffer): number {
  let off = 0;
  const next = () => {
    const len = blob.readUInt32BE(off);
    const part = blob.subarray(off + 4, off + 4 + len);
    off += 4 + len;
    return part;
  };
  next(); // type
  next(); // e
  let n = next();
  while (n.length > 0 && n[0] === 0) n = n.subarray(1);
  return n.length === 0 ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(n[0]));
}

export function fingerprintOfBlob(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export function parseRenterKey(input: string): RenterKey {
  const line = input.trim();
  if (line === "") throw invalid("the SSH public key is empty");
  if (/[\r\n]/.test(line)) throw invalid("the SSH public key must be a single line");
  if (/PRIVATE KEY/.test(line)) throw invalid("that is a private key; send the public key (.pub) only");
  const fields = line.split(/\s+/);
  const [type, b64] = fields;
  if (!ALLOWED_TYPES.has(type)) {
    throw invalid(
      `unsupported or malformed key type "${type.slice(0, 40)}" (options before the key are not accepted; allowed: ${[...ALLOWED_TYPES].join(", ")})`,
    );
  }
  if (!b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64))
    throw invalid("the key's base64 body is missing or malformed");
  const parsed = ssh2.utils.parseKey(`${type} ${b64}`);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw invalid(
      `the SSH public key does not parse: ${parsed instanceof Error ? parsed.message : "several keys"}`,
    );
  }
  if (parsed.isPrivateKey()) throw invalid("that is a private key; send the public key (.pub) only");
  if (parsed.type !== type) throw invalid(`the key body is a ${parsed.type} key, but the line says ${type}`);
  const blob = parsed.getPublicSSH();
  if (type === "ssh-rsa" && rsaBits(blob) < MIN_RSA_BITS) {
    throw invalid(`RSA keys must have at least ${MIN_RSA_BITS} bits`);
  }
  return {
    type,
    authorizedKeysLine: `${type} ${blob.toString("base64")} computemesh-renter`,
    fingerprint: fingerprintOfBlob(blob),
  };
}
