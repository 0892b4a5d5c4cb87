// Test and bench support: drive the real OpenSSH client (`ssh`, `ssh-keygen`) against rental containers.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface KeyFiles {
  privatePath: string;
  publicLine: string;
}

/** A fresh ed25519 key pair from ssh-keygen, in a temporary directory. */
export function makeKeyPair(
  dir = mkdtempSync(join(tmpdir(), "cmesh-ssh-")),
  name = "id_ed25519",
): Promise<KeyFiles> {
  const privatePath = join(dir, name);
  return new Promise((resolve, reject) => {
    execFile(
      "ssh-keygen",
      ["-q", "-t", "ed25519", "-N", "", "-C", "renter@test", "-f", privatePath],
      (err) => {
        if (err) reject(err);
        else resolve({ privatePath, publicLine: readFileSync(`${privatePath}.pub`, "utf8").trim() });
      },
    );
  });
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SshTarget {
  host: string;
  port: number;
  user?: string;
  /** When given, the server's host key is pinned (StrictHostKeyChecking=yes) instead of ignored. */
  hostPublicKey?: string;
}

/** Runs one command over ssh (BatchMode: never prompts, so a refused key fails at once). */
export function sshRun(
  target: SshTarget,
  keyPath: string,
  command: string,
  timeoutMs = 20_000,
): Promise<SshResult> {
  const opts = [
    "-o",
    "BatchMode=yes",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=10",
    "-o",
    "IdentitiesOnly=yes",
  ];
  if (target.hostPublicKey) {
    const kh = join(mkdtempSync(join(tmpdir(), "cmesh-kh-")), "known_hosts");
    writeFileSync(kh, `[${target.host}]:${target.port} ${target.hostPublicKey}\n`);
    opts.push("-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${kh}`);
  } else {
    opts.push("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null");
  }
  const args = [
    ...opts,
    "-i",
    keyPath,
    "-p",
    String(target.port),
    `${target.user ?? "root"}@${target.host}`,
    command,
  ];
  return new Promise((resolve) => {
    execFile("ssh", args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === "number"
          ? (err as { code: number }).code
          : 255
        : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Tries until the first success (or the deadline); returns that result and when it came. */
export async function sshUntilOk(
  target: SshTarget,
  keyPath: string,
  command: string,
  deadlineMs = 20_000,
): Promise<SshResult> {
  const end = Date.now() + deadlineMs;
  let last: SshResult = { code: 255, stdout: "", stderr: "not tried" };
  while (Date.now() < end) {
    last = await sshRun(target, keyPath, command, Math.max(1000, end - Date.now()));
    if (last.code === 0) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}
