import { useQuery } from "@tanstack/react-query";
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { api, shortKey, unwrap } from "../api.ts";
import { ErrorBox, Loading, Section } from "../components.tsx";
import { href } from "../router.ts";

const LINE_COLORS = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777", "#65a30d", "#475569"];

export function NetworkPage() {
  const q = useQuery({
    queryKey: ["network"],
    queryFn: async () => unwrap(await api.GET("/v1/network")),
    refetchInterval: 5000,
  });
  if (q.error) return <ErrorBox error={q.error} />;
  if (!q.data) return <Loading what="metagraph" />;
  const n = q.data;
  const byUid = [...n.neurons].sort((a, b) => a.uid - b.uid);
  // incentive of the UIDs that earn most now, one line each, over the recorded epochs
  const epochs = n.chain ?? [];
  const earned = new Set(epochs.flatMap((e) => e.neurons.filter((x) => x.incentive > 0).map((x) => x.uid)));
  const top = [...(epochs.at(-1)?.neurons ?? [])]
    .filter((x) => earned.has(x.uid))
    .sort((a, b) => b.incentive - a.incentive)
    .slice(0, LINE_COLORS.length)
    .map((x) => x.uid);
  const incentiveOverEpochs = epochs.map((e) => ({
    epoch: e.epoch,
    ...Object.fromEntries(e.neurons.filter((x) => top.includes(x.uid)).map((x) => [`uid ${x.uid}`, x.incentive])),
  }));
  return (
    <>
      <Section title={`Metagraph${n.netuid !== undefined ? ` of subnet ${n.netuid}` : ""}`}>
        <p className="muted">
          {n.block !== undefined ? `block ${n.block}` : ""}{" "}
          {n.epoch !== undefined ? `· epoch ${n.epoch}` : ""} · {n.neurons.length} neurons
        </p>
        {!n.available ? (
          <div className="notice" role="status">
            This API's backend does not expose the metagraph; showing the miners it knows without chain
            figures.
          </div>
        ) : null}
        <table className="grid" aria-label="metagraph">
          <thead>
            <tr>
              <th>UID</th>
              <th>Hotkey</th>
              <th>Role</th>
              <th>Stake</th>
              <th>Incentive</th>
              <th>Dividends</th>
              <th>Emission</th>
              <th>Trust</th>
            </tr>
          </thead>
          <tbody>
            {byUid.map((x) => (
              <tr key={x.uid} data-uid={x.uid}>
                <td>{x.uid}</td>
                <td>
                  <a href={href("miner", x.hotkey)} title={x.hotkey}>
                    {shortKey(x.hotkey)}
                  </a>
                </td>
                <td>
                  {(x.isValidator ?? x.validatorPermit)
                    ? "validator"
                    : x.stake > 0 || x.incentive > 0
                      ? "miner"
                      : "—"}
                </td>
                <td>{x.stake.toFixed(2)}</td>
                <td>{x.incentive.toFixed(4)}</td>
                <td>{x.dividends.toFixed(4)}</td>
                <td>{x.emission.toFixed(4)}</td>
                <td>{x.trust.toFixed(3)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Incentive and dividends by UID">
        <div className="chart" role="img" aria-label="incentive by uid chart">
          <ResponsiveContainer width="100%" height={240}>
            <BarChart data={byUid}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="uid" />
              <YAxis />
              <Tooltip />
              <Legend />
              <Bar dataKey="incentive" fill="#2563eb" isAnimationActive={false} />
              <Bar dataKey="dividends" fill="#16a34a" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        </div>
      </Section>
      <Section title="Incentive over epochs (chain)">
        {incentiveOverEpochs.length > 1 && top.length > 0 ? (
          <div className="chart" role="img" aria-label="incentive over epochs chart">
            <ResponsiveContainer width="100%" height={240}>
              <LineChart data={incentiveOverEpochs}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="epoch" />
                <YAxis />
                <Tooltip />
                <Legend />
                {top.map((uid, i) => (
                  <Line
                    key={uid}
                    dataKey={`uid ${uid}`}
                    stroke={LINE_COLORS[i]}
                    dot={false}
                    isAnimationActive={false}
                  />
                ))}
              </LineChart>
            </ResponsiveContainer>
          </div>
        ) : (
          <p className="muted">Incentive is charted once two epochs are recorded and a UID has earned some.</p>
        )}
      </Section>
      <Section title="Scores over epochs (this validator's view)">
        {n.history && n.history.length > 0 ? (
          <div className="chart" role="img" aria-label="scores over epochs chart">
            <ResponsiveContainer width="100%" height={240}>
              <LineChart data={n.history}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="epoch" />
                <YAxis yAxisId="e" />
                <YAxis yAxisId="i" orientation="right" />
                <Tooltip />
                <Legend />
                <Line
                  yAxisId="e"
                  dataKey="totalScore"
                  stroke="#9333ea"
                  name="sum of scores"
                  isAnimationActive={false}
                />
                <Line
                  yAxisId="i"
                  dataKey="meanScore"
                  stroke="#ea580c"
                  name="mean score"
                  isAnimationActive={false}
                />
              </LineChart>
            </ResponsiveContainer>
          </div>
        ) : (
          <p className="muted">No epoch history yet.</p>
        )}
      </Section>
    </>
  );
}
