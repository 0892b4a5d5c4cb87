import { useQuery } from "@tanstack/react-query";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { ago, api, unwrap } from "../api.ts";
import { Badge, ErrorBox, Loading, Section } from "../components.tsx";
import { go, href } from "../router.ts";

export function MachinePage({ hotkey }: { hotkey: string }) {
  const q = useQuery({
    queryKey: ["machine", hotkey],
    queryFn: async () => unwrap(await api.GET("/v1/machines/{hotkey}", { params: { path: { hotkey } } })),
    refetchInterval: 10_000,
  });
  if (q.error) return <ErrorBox error={q.error} />;
  if (!q.data) return <Loading what="machine" />;
  const { machine: m, history } = q.data;
  // oldest first, whatever order the backend gives
  const scores = [...history.scores].sort((a, b) => a.at.localeCompare(b.at)).map((s) => ({
    at: new Date(s.at).toLocaleTimeString(),
    score: s.score,
    uptime: s.reliability === undefined ? null : Math.round(s.reliability * 1000) / 10,
  }));
  const passed = history.proofs.filter((p) => p.passed).length;
  return (
    <>
      <Section
        title={`Machine uid ${m.uid}`}
        actions={
          m.verified && !m.allocated ? (
            <button type="button" onClick={() => go("rent", m.minerHotkey)}>
              Rent this machine
            </button>
          ) : null
        }
      >
        <dl className="specs">
          <dt>Hotkey</dt>
          <dd>
            <code>{m.minerHotkey}</code> (<a href={href("miner", m.minerHotkey)}>miner view</a>)
          </dd>
          <dt>GPU</dt>
          <dd>
            {m.gpuCount} × {m.gpuModel ?? `unproven (claims ${m.claimedGpuModel ?? "?"})`}{" "}
            {m.verified ? <Badge kind="ok">✓ proven</Badge> : <Badge kind="warn">not proven</Badge>}
            {m.simulated ? <Badge kind="info">simulated GPU</Badge> : null}
          </dd>
          <dt>VRAM</dt>
          <dd>{m.vramGiB.toFixed(1)} GiB per GPU</dd>
          <dt>Measured throughput</dt>
          <dd>{m.measuredTops === null ? "not measured" : `${m.measuredTops.toFixed(1)} TOPS (int8)`}</dd>
          <dt>Price</dt>
          <dd>
            {m.pricePerGpuHour.toFixed(2)} cr per GPU-hour ({(m.pricePerGpuHour * m.gpuCount).toFixed(2)} cr/h
            for the machine)
          </dd>
          <dt>Reliability</dt>
          <dd>{(m.reliability * 100).toFixed(1)}%</dd>
          <dt>Score</dt>
          <dd>{m.score.toFixed(2)} / 100</dd>
          <dt>CPU / RAM / disk</dt>
          <dd>
            {m.cpuCores} cores / {m.ramGiB.toFixed(1)} GiB / {m.diskGiB.toFixed(0)} GiB
          </dd>
          <dt>Last proof</dt>
          <dd>{ago(m.lastProofAt)}</dd>
          <dt>State</dt>
          <dd>{m.allocated ? "rented" : "available"}</dd>
        </dl>
      </Section>
      <Section title="Score and uptime over time">
        {scores.length < 2 ? <p className="muted">Only {scores.length} sample so far.</p> : null}
        <div className="chart" role="img" aria-label="score and uptime chart">
          <ResponsiveContainer width="100%" height={240}>
            <LineChart data={scores}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="at" />
              <YAxis yAxisId="score" />
              <YAxis yAxisId="uptime" orientation="right" domain={[0, 100]} unit="%" />
              <Legend />
              <Tooltip />
              <Line
                yAxisId="score"
                type="monotone"
                dataKey="score"
                stroke="#2563eb"
                name="score"
                isAnimationActive={false}
              />
              <Line
                type="monotone"
                dataKey="uptime"
                stroke="#16a34a"
                name="uptime %"
                isAnimationActive={false}
              />
            </LineChart>
          </ResponsiveContainer>
        </div>
      </Section>
      <Section title={`Proof-of-GPU history (${passed} of ${history.proofs.length} passed)`}>
        <table className="grid" aria-label="proof history">
          <thead>
            <tr>
              <th>When</th>
              <th>Result</th>
              <th>Model</th>
              <th>TOPS</th>
              <th>Reason</th>
            </tr>
          </thead>
          <tbody>
            {history.proofs.map((p) => (
              <tr key={`${p.at}-${p.passed}`}>
                <td>{new Date(p.at).toLocaleString()}</td>
                <td>{p.passed ? <Badge kind="ok">passed</Badge> : <Badge kind="bad">failed</Badge>}</td>
                <td>{p.model ?? "—"}</td>
                <td>{p.measuredTops === null ? "—" : p.measuredTops.toFixed(0)}</td>
                <td>{p.reason ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}
