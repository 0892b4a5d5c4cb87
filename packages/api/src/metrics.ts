import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus metrics of one API server (its own registry, so several servers can share a process). */
export function createApiMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "cmesh_api_" });
  return {
    registry,
    requests: new Histogram({
      name: "cmesh_api_http_request_seconds",
      help: "HTTP request duration by route and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    rentalsStarted: new Counter({
      name: "cmesh_api_rentals_started_total",
      help: "rentals started",
      registers: [registry],
    }),
    activeRentals: new Gauge({
      name: "cmesh_api_rentals_active",
      help: "rentals being metered",
      registers: [registry],
    }),
    meterTicks: new Counter({
      name: "cmesh_api_meter_ticks_total",
      help: "metering passes",
      registers: [registry],
    }),
    webhookAttempts: new Counter({
      name: "cmesh_api_webhook_attempts_total",
      help: "webhook delivery attempts by result (delivered, retry, failed)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
  };
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;
