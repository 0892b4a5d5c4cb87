// Prometheus metrics of the miner process, served at /metrics.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class MinerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "cmesh_miner_synapse_requests_total",
    help: "Synapse requests handled, by synapse and outcome",
    labelNames: ["synapse", "outcome"] as const,
    registers: [this.registry],
  });
  readonly refused = new Counter({
    name: "cmesh_miner_refused_total",
    help: "Callers refused by the access policy (403), by synapse",
    labelNames: ["synapse"] as const,
    registers: [this.registry],
  });
  readonly allocationEvents = new Counter({
    name: "cmesh_miner_allocation_events_total",
    help: "Allocation state changes (active, released, expired, lost, failed)",
    labelNames: ["event"] as const,
    registers: [this.registry],
  });
  readonly liveAllocations = new Gauge({
    name: "cmesh_miner_allocations_live",
    help: "Allocations currently holding this machine",
    registers: [this.registry],
  });
  readonly allocateSeconds = new Histogram({
    name: "cmesh_miner_allocate_seconds",
    help: "Time from an Allocate request to the rental's sshd answering",
    buckets: [0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  readonly dockerUp = new Gauge({
    name: "cmesh_miner_docker_up",
    help: "1 when the last check of the rentals against Docker reached Docker, 0 when Docker did not answer",
    registers: [this.registry],
  });
  readonly realigned = new Counter({
    name: "cmesh_miner_rentals_realigned_total",
    help: "Rental containers the miner started again or removed as orphans to match its records",
    labelNames: ["action"] as const,
    registers: [this.registry],
  });
  readonly metagraphAge = new Gauge({
    name: "cmesh_miner_metagraph_block",
    help: "Block of the metagraph the access policy uses",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "cmesh_miner_" });
  }

  /** Serves GET /metrics on host:port (0 = any free port); resolves to the server. */
  serve(host: string, port: number): Promise<Server> {
    const server = createServer(async (req, res) => {
      if (req.method === "GET" && req.url === "/metrics") {
        res.setHeader("content-type", this.registry.contentType);
        res.end(await this.registry.metrics());
        return;
      }
      res.statusCode = 404;
      res.end("not found\n");
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve(server));
    });
  }
}

export function serverPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}
