// Host ports for the rentals' sshd: the lowest port of the configured range that no live allocation holds and
// that can be bound on the configured host address right now.
import { createServer, Socket } from "node:net";

export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function pickPort(
  host: string,
  range: readonly [number, number],
  taken: ReadonlySet<number>,
): Promise<number | null> {
  for (let port = range[0]; port <= range[1]; port++) {
    if (taken.has(port)) continue;
    if (await canBind(host, port)) return port;
  }
  return null;
}

/** Resolves when an SSH server answers on host:port with its identification line ("SSH-2.0-…"). */
export async function waitForSshBanner(host: string, port: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    const banner = await new Promise<string | null>((resolve) => {
      const socket = new Socket();
      let data = "";
      const done = (value: string | null) => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(Math.min(2000, Math.max(100, deadline - Date.now())), () => done(null));
      socket.on("data", (chunk) => {
        data += chunk.toString("latin1");
        const line = data.split("\r\n")[0];
        if (data.includes("\n")) done(line.startsWith("SSH-") ? line.trim() : null);
      });
      socket.on("error", (err) => {
        last = err.message;
        done(null);
      });
      socket.on("close", () => done(null));
      socket.connect(port, host);
    });
    if (banner) return banner;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not answer on ${host}:${port} within ${timeoutMs} ms (${last})`);
}
