import { useQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { ago, api, unwrap } from "../api.ts";
import { Badge, ErrorBox, Loading, Section } from "../components.tsx";
import { go, href } from "../router.ts";

export function MinerPage({ hotkey }: { hotkey?: string }) {
  const [input, setInput] = useState(hotkey ?? "");
  const q = useQuery({
    queryKey: ["miner", hotkey],
    queryFn: async () =>
      unwrap(await api.GET("/v1/miners/{hotkey}", { params: { path: { hotkey: hotkey as string } } })),
    enabled: !!hotkey,
    refetchInterval: 10_000,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (input.trim()) go("miner", input.trim());
  };
  return (
    <>
      <Section title="Miner view">
        <form onSubmit={submit} className="row" aria-label="miner lookup">
          <label className="wide">
            Miner hotkey
            <input name="hotkey" value={input} onChange={(e) => setInput(e.target.value)} placeholder="5F…" />
          </label>
          <button type="submit">Show</button>
        </form>
      </Section>
      {hotkey && q.isLoading ? <Loading what="miner" /> : null}
      <ErrorBox error={q.error} />
      {q.data ? (
        <>
          <Section title="Earnings">
            {q.data.neuron ? (
              <dl className="specs">
                <dt>UID</dt>
                <dd>{q.data.neuron.uid}</dd>
                <dt>Emission</dt>
                <dd>{q.data.neuron.emission.toFixed(4)} per epoch</dd>
                <dt>Incentive</dt>
                <dd>{q.data.neuron.incentive.toFixed(4)}</dd>
                <dt>Trust</dt>
                <dd>{q.data.neuron.trust.toFixed(3)}</dd>
                <dt>Stake</dt>
                <dd>{q.data.neuron.stake.toFixed(2)}</dd>
              </dl>
            ) : (
              <p className="muted">Not in the metagraph the API can see.</p>
            )}
          </Section>
          <Section title="Machines and score breakdown">
            <table className="grid" aria-label="miner machines">
              <thead>
                <tr>
                  <th>Machine</th>
                  <th>GPU</th>
                  <th>Proof</th>
                  <th>Base score</th>
                  <th>GPUs counted</th>
                  <th>Allocation bonus</th>
                  <th>Total</th>
                  <th>Last proof</th>
                </tr>
              </thead>
              <tbody>
                {q.data.machines.map((m) => (
                  <tr key={m.minerHotkey + m.uid}>
                    <td>
                      <a href={href("machine", m.minerHotkey)}>uid {m.uid}</a>
                    </td>
                    <td>
                      {m.gpuCount} × {m.gpuModel ?? m.claimedGpuModel ?? "?"}
                    </td>
                    <td>
                      <Badge
                        kind={
                          m.breakdown.proofStatus === "verified"
                            ? "ok"
                            : m.breakdown.proofStatus === "failed"
                              ? "bad"
                              : "warn"
                        }
                      >
                        {m.breakdown.proofStatus}
                      </Badge>
                    </td>
                    <td>{m.breakdown.baseScore.toFixed(2)}</td>
                    <td>{Math.min(m.breakdown.gpuCount, 8)}</td>
                    <td>{m.breakdown.allocationBonus.toFixed(2)}</td>
                    <td>{m.score.toFixed(2)}</td>
                    <td>{ago(m.lastProofAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
        </>
      ) : null}
    </>
  );
}
