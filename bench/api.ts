// `npm run bench -- api`: the renter API on loopback over 10,000 machines.
//  - search: GET /v1/machines with a five-term query (autocannon, 10 connections, 5 s): p50, p99, requests/s;
//    baseline in the same run: GET /healthz (same server, no work) → ratio search/baseline.
//  - jobs: trivial job submit → completed (the in-memory market double runs `echo` at once), 50 rounds, p50 ms,
//    measured as POST then polling GET every 2 ms; baseline: one GET /v1/account round trip, p50.
// Backend: the in-memory market double (the API's own work: auth, parsing, filtering, sorting, serializing).
import { createRequire } from "node:module";
import pino from "pino";
import { createAccount } from "../packages/api/src/accounts.ts";
import { startApiServer } from "../packages/api/src/server.ts";
import { InMemoryMarketDouble, sampleMachines } from "../packages/api/src/testing/in-memory-market-double.ts";

interface CannonResult {
  latency: { p50: number; p99: number };
  requests: { average: number };
  non2xx: number;
  errors: number;
}
const autocannon = createRequire(import.meta.url)("autocannon") as (opts: {
  url: string;
  connections: number;
  duration: number;
  headers?: Record<string, string>;
}) => Promise<CannonResult>;

const MACHINES = 10_000;
const QUERY = "gpu=NVIDIA_H100_80GB_HBM3 count>=2 vram>=80 price<=2.5 reliability>=0.95 sort=-tops limit=50";

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const backend = new InMemoryMarketDouble(sampleMachines(MACHINES));
const api = await startApiServer({
  backend,
  db: ":memory:",
  logger: pino({ level: "silent" }),
  rateLimit: false,
  meterIntervalMs: 0,
  logPollMs: 5,
  web: false,
});
const { apiKey } = await createAccount(api.db, { name: "bench", initialCredits: 1000 });
const auth = { authorization: `Bearer ${apiKey}` };
try {
  const check = await fetch(`${api.url}/v1/machines?q=${encodeURIComponent(QUERY)}`);
  const body = (await check.json()) as { total: number };
  if (check.status !== 200 || body.total === 0)
    throw new Error(`search returned ${check.status} with ${body.total} hits`);

  const run = (path: string) =>
    autocannon({ url: `${api.url}${path}`, connections: 10, duration: 5, headers: auth });
  const baseline = await run("/healthz");
  const search = await run(`/v1/machines?q=${encodeURIComponent(QUERY)}`);
  if (search.non2xx || search.errors)
    throw new Error(`search had ${search.non2xx} non-2xx and ${search.errors} errors`);

  const jobMs: number[] = [];
  const rttMs: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await (await fetch(`${api.url}/v1/account`, { headers: auth })).json();
    rttMs.push(performance.now() - t0);
    const t1 = performance.now();
    const res = await fetch(`${api.url}/v1/jobs`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ image: "alpine:3", command: ["echo", "hi"] }),
    });
    const job = (await res.json()) as { jobId: string };
    for (;;) {
      const s = (await (await fetch(`${api.url}/v1/jobs/${job.jobId}`, { headers: auth })).json()) as {
        state: string;
      };
      if (s.state === "completed") break;
      if (s.state !== "queued" && s.state !== "running") throw new Error(`job ended ${s.state}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    jobMs.push(performance.now() - t1);
  }

  process.stdout.write(
    `${JSON.stringify({
      bench: "api",
      machines: MACHINES,
      query: QUERY,
      search: {
        p50_ms: search.latency.p50,
        p99_ms: search.latency.p99,
        requests_per_s: Math.round(search.requests.average),
        hits: body.total,
      },
      search_baseline_healthz: {
        p50_ms: baseline.latency.p50,
        p99_ms: baseline.latency.p99,
        requests_per_s: Math.round(baseline.requests.average),
      },
      search_vs_baseline_rps_ratio: Number((search.requests.average / baseline.requests.average).toFixed(3)),
      job_submit_to_completed: {
        p50_ms: Number(pct(jobMs, 50).toFixed(2)),
        rounds: jobMs.length,
        backend: "in-memory market double",
      },
      job_baseline_account_rtt: { p50_ms: Number(pct(rttMs, 50).toFixed(2)) },
      job_vs_baseline_ratio: Number((pct(jobMs, 50) / pct(rttMs, 50)).toFixed(2)),
      unit: "ms and requests/s, loopback, 10 connections, 5 s per autocannon run",
    })}\n`,
  );
} finally {
  await api.close();
}
