import { Counter, Gauge, type Registry } from "prom-client";

/** Job metrics of the miner, registered on the miner's registry when one is given. */
export class JobRunnerMetrics {
  readonly ended: Counter<"state">;
  readonly active: Gauge;

  constructor(registry: Registry) {
    this.ended = new Counter({
      name: "cmesh_miner_jobs_ended_total",
      help: "Jobs that ended on this miner, by final state",
      labelNames: ["state"] as const,
      registers: [registry],
    });
    this.active = new Gauge({
      name: "cmesh_miner_jobs_active",
      help: "Jobs accepted or running on this miner",
      registers: [registry],
    });
  }
}
