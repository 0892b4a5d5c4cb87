import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

/**
 * TEST DOUBLE of a miner's allocation container: a real OpenSSH server on 127.0.0.1 that accepts exactly the
 * renter's public key, so UI tests can log in through the `ssh` command the API hands out. Needs /usr/sbin/sshd.
 */
export interface TestSshd {
  host: string;
  port: number;
  user: string;
  stop(): void;
}

export const SSHD_PATH = process.env.CMESH_SSHD ?? "/usr/sbin/sshd";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export async function startTestSshd(authorizedKey: string): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), "cmesh-sshd-"));
  const hostKey = join(dir, "host_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  writeFileSync(join(dir, "authorized_keys"), `${authorizedKey.trim()}\n`, { mode: 0o600 });
  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      "StrictModes no",
      "UsePAM no",
      "",
    ].join("\n"),
  );
  if (!existsSync("/run/sshd")) mkdirSync("/run/sshd", { recursive: true });
  const proc: ChildProcess = spawn(SSHD_PATH, ["-D", "-e", "-f", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr?.on("data", (c) => (stderr += c));
  // Wait until it listens.
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`sshd exited: ${stderr}`);
    if (stderr.includes("Server listening")) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: "127.0.0.1",
    port,
    user: userInfo().username,
    stop() {
      proc.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
