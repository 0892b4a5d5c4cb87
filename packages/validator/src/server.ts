// /metrics (Prometheus text), /status (JSON table of miners) and /healthz for a running validator.
import { createServer, type Server } from "node:http";
import type { ValidatorMetrics } from "./metrics.ts";
import type { StatusRow } from "./status.ts";

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(opts: {
  host: string;
  port: number;
  metrics: ValidatorMetrics;
  status: () => Promise<StatusRow[]>;
}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { "content-type": type });
      res.end(body);
    };
    if (req.method !== "GET") return send(405, "text/plain", "method not allowed\n");
    if (path === "/metrics") {
      opts.metrics.text().then(
        (text) => send(200, opts.metrics.registry.contentType, text),
        (err) => send(500, "text/plain", `${String(err)}\n`),
      );
    } else if (path === "/status") {
      opts.status().then(
        (rows) => send(200, "application/json", JSON.stringify({ miners: rows })),
        (err) => send(500, "text/plain", `${String(err)}\n`),
      );
    } else if (path === "/healthz") send(200, "text/plain", "ok\n");
    else send(404, "text/plain", "not found: try /metrics, /status or /healthz\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
