import { Counter, type Registry } from "prom-client";

/** Job metrics of the validator, registered on the validator's registry when one is given. */
export class JobServiceMetrics {
  readonly submitted: Counter;
  readonly ended: Counter<"state">;
  readonly retried: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.submitted = new Counter({
      name: "cmesh_validator_jobs_submitted_total",
      help: "Jobs queued",
      registers,
    });
    this.ended = new Counter({
      name: "cmesh_validator_jobs_ended_total",
      help: "Jobs that ended, by final state",
      labelNames: ["state"] as const,
      registers,
    });
    this.retried = new Counter({
      name: "cmesh_validator_jobs_retried_total",
      help: "Jobs moved to another miner after their miner lost them",
      registers,
    });
  }
}
