import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCmeshError } from "@computemesh/core";
import { describe, expect, it } from "vitest";
import { parseRenterKey } from "./ssh-key.ts";

function keygen(type: string, bits?: number): { pub: string; priv: string; fingerprint: string } {
  const f = join(mkdtempSync(join(tmpdir(), "cmesh-key-")), "k");
  execFileSync("ssh-keygen", [
    "-q",
    "-t",
    type,
    ...(bits ? ["-b", String(bits)] : []),
    "-N",
    "",
    "-C",
    "a b c",
    "-f",
    f,
  ]);
  const fingerprint = execFileSync("ssh-keygen", ["-lf", `${f}.pub`])
    .toString()
    .split(" ")[1];
  return { pub: readFileSync(`${f}.pub`, "utf8"), priv: readFileSync(f, "utf8"), fingerprint };
}

const code = (fn: () => unknown) => {
  try {
    fn();
    return "accepted";
  } catch (err) {
    return isCmeshError(err) ? `${err.code}: ${err.message}` : String(err);
  }
};

describe("parseRenterKey", () => {
  it("accepts ed25519, ecdsa and 3072-bit RSA keys, with ssh-keygen's fingerprint and a fixed comment", () => {
    for (const [type, bits] of [["ed25519"], ["ecdsa", 256], ["rsa", 3072]] as const) {
      const k = keygen(type, bits);
      const parsed = parseRenterKey(k.pub);
      expect(parsed.fingerprint).toBe(k.fingerprint);
      expect(parsed.authorizedKeysLine).toMatch(/ computemesh-renter$/);
      expect(parsed.authorizedKeysLine.split(" ")[1]).toBe(k.pub.split(" ")[1]);
    }
  });

  it("refuses weak RSA, private keys, options, several lines, garbage and empty input", () => {
    const ed = keygen("ed25519");
    expect(code(() => parseRenterKey(keygen("rsa", 1024).pub))).toMatch(
      /INVALID_SSH_KEY: RSA keys must have at least 2048/,
    );
    expect(code(() => parseRenterKey(ed.priv))).toMatch(/INVALID_SSH_KEY: .*(private key|single line)/);
    expect(code(() => parseRenterKey(`no-pty,command="id" ${ed.pub}`))).toMatch(
      /INVALID_SSH_KEY: unsupported or malformed key type/,
    );
    expect(code(() => parseRenterKey(`${ed.pub.trim()}\n${ed.pub}`))).toMatch(/single line/);
    expect(code(() => parseRenterKey("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"))).toMatch(
      /does not parse|malformed/,
    );
    expect(
      code(() =>
        parseRenterKey("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIJaVoRRTCLUFMofJwlvzDBorMytipv8rvgJ/SpCts78l"),
      ),
    ).toMatch(/INVALID_SSH_KEY/);
    expect(code(() => parseRenterKey("   "))).toMatch(/empty/);
  });
});
