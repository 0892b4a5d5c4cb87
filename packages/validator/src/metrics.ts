import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * The validator's Prometheus metrics, on a registry of its own (several validators can share a process in tests
 * and in the local network).
 */
export class ValidatorMetrics {
  readonly registry = new Registry();
  readonly minersSeen: Gauge;
  readonly minersServing: Gauge;
  readonly minersVerified: Gauge;
  readonly proofs: Counter<"result" | "reason">;
  readonly epochDuration: Histogram;
  readonly epochs: Counter;
  readonly weightTx: Counter<"result">;
  readonly specsQueries: Counter<"result">;
  readonly healthChecks: Counter<"result">;
  readonly allocationsActive: Gauge;
  readonly allocationsEnded: Counter<"outcome">;
  readonly receipts: Counter<"source" | "result">;
  readonly lastBlock: Gauge;

  constructor(opts: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}) {
    if (opts.labels) this.registry.setDefaultLabels(opts.labels);
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    const r = [this.registry];
    this.minersSeen = new Gauge({
      name: "cmesh_validator_miners_seen",
      help: "UIDs on the metagraph",
      registers: r,
    });
    this.minersServing = new Gauge({
      name: "cmesh_validator_miners_serving",
      help: "UIDs with an axon that answered this epoch",
      registers: r,
    });
    this.minersVerified = new Gauge({
      name: "cmesh_validator_miners_verified",
      help: "miners whose last proof-of-GPU passed and has not expired",
      registers: r,
    });
    this.proofs = new Counter({
      name: "cmesh_validator_proofs_total",
      help: "proof-of-GPU rounds by result and reason",
      labelNames: ["result", "reason"],
      registers: r,
    });
    this.epochDuration = new Histogram({
      name: "cmesh_validator_epoch_duration_seconds",
      help: "wall time of one scoring epoch (specs, proofs, receipts, scores, weights)",
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers: r,
    });
    this.epochs = new Counter({
      name: "cmesh_validator_epochs_total",
      help: "scoring epochs completed",
      registers: r,
    });
    this.weightTx = new Counter({
      name: "cmesh_validator_weight_transactions_total",
      help: "set-weights transactions by result (ok, error, skipped, failed)",
      labelNames: ["result"],
      registers: r,
    });
    this.specsQueries = new Counter({
      name: "cmesh_validator_specs_queries_total",
      help: "Specs queries by result",
      labelNames: ["result"],
      registers: r,
    });
    this.healthChecks = new Counter({
      name: "cmesh_validator_health_checks_total",
      help: "allocation health checks by result",
      labelNames: ["result"],
      registers: r,
    });
    this.allocationsActive = new Gauge({
      name: "cmesh_validator_allocations_active",
      help: "allocations this validator holds",
      registers: r,
    });
    this.allocationsEnded = new Counter({
      name: "cmesh_validator_allocations_ended_total",
      help: "allocations ended, by outcome",
      labelNames: ["outcome"],
      registers: r,
    });
    this.receipts = new Counter({
      name: "cmesh_validator_receipts_total",
      help: "receipts issued or fetched, by result",
      labelNames: ["source", "result"],
      registers: r,
    });
    this.lastBlock = new Gauge({
      name: "cmesh_validator_last_block",
      help: "latest block seen",
      registers: r,
    });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
