import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { api, credits, idem, shortKey, unwrap, useApiKey } from "../api.ts";
import { ErrorBox, Loading, NeedKey, Section } from "../components.tsx";
import { href } from "../router.ts";

const SSH_KEY_STORAGE = "cmesh.sshPublicKey";

function CopyButton({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="secondary"
      onClick={async () => {
        await navigator.clipboard?.writeText(text).catch(() => undefined);
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? "Copied" : "Copy"}
    </button>
  );
}

/** Rent form for one machine: paste an SSH public key, get the ssh command. */
export function RentPage({ hotkey }: { hotkey: string }) {
  const key = useApiKey();
  const qc = useQueryClient();
  const [sshKey, setSshKey] = useState(localStorage.getItem(SSH_KEY_STORAGE) ?? "");
  const [hours, setHours] = useState("1");
  const machine = useQuery({
    queryKey: ["machine", hotkey],
    queryFn: async () => unwrap(await api.GET("/v1/machines/{hotkey}", { params: { path: { hotkey } } })),
  });
  const rent = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/rentals", {
          body: {
            minerHotkey: hotkey,
            sshPublicKey: sshKey.trim(),
            durationSec: Math.round(Number(hours) * 3600),
          },
          headers: idem(),
        }),
      ),
    onSuccess: () => {
      localStorage.setItem(SSH_KEY_STORAGE, sshKey.trim());
      void qc.invalidateQueries({ queryKey: ["rentals"] });
      void qc.invalidateQueries({ queryKey: ["machines"] });
    },
  });
  if (!key) return <NeedKey />;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    rent.mutate();
  };
  const m = machine.data?.machine;
  return (
    <>
      <Section title="Rent a machine">
        {machine.error ? <ErrorBox error={machine.error} /> : null}
        {m ? (
          <p>
            uid {m.uid} · {m.gpuCount} × {m.gpuModel ?? "unproven"} · {m.pricePerGpuHour.toFixed(2)} cr per
            GPU-hour = <strong>{(m.pricePerGpuHour * m.gpuCount).toFixed(2)} cr/h</strong>, billed per second
            from SSH-ready to release.
          </p>
        ) : (
          <Loading what="machine" />
        )}
        <form onSubmit={submit} className="stack" aria-label="rent form">
          <label>
            SSH public key (the line from <code>~/.ssh/id_ed25519.pub</code>)
            <textarea
              name="sshPublicKey"
              rows={3}
              value={sshKey}
              onChange={(e) => setSshKey(e.target.value)}
              placeholder="ssh-ed25519 AAAA… you@laptop"
              required
            />
          </label>
          <label>
            Longest duration (hours)
            <input
              name="hours"
              type="number"
              min={0.02}
              step="any"
              value={hours}
              onChange={(e) => setHours(e.target.value)}
            />
          </label>
          <button type="submit" disabled={rent.isPending || rent.isSuccess}>
            {rent.isPending ? "Starting… (waiting for SSH)" : "Rent"}
          </button>
        </form>
        <ErrorBox error={rent.error} />
        {rent.data ? (
          <div className="success" role="status">
            <p>
              Rental <code>{rent.data.id}</code> is active. Connect with:
            </p>
            <pre data-testid="ssh-command">{rent.data.sshCommand}</pre>
            <CopyButton text={rent.data.sshCommand ?? ""} /> <a href={href("rentals")}>See my rentals</a>
          </div>
        ) : null}
      </Section>
    </>
  );
}

function RunningCost({
  startedAt,
  rate,
  charged,
  active,
}: {
  startedAt: string | null;
  rate: number;
  charged: number;
  active: boolean;
}) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  if (!active || !startedAt) return <>{credits(charged)}</>;
  const seconds = Math.max(0, Math.floor((now - Date.parse(startedAt)) / 1000));
  return (
    <>
      {credits(Math.floor((rate * seconds) / 3600))} <span className="muted">({seconds}s)</span>
    </>
  );
}

export function RentalsPage() {
  const key = useApiKey();
  const qc = useQueryClient();
  const [showEnded, setShowEnded] = useState(false);
  const rentals = useQuery({
    queryKey: ["rentals", showEnded],
    queryFn: async () =>
      unwrap(await api.GET("/v1/rentals", { params: { query: { state: showEnded ? "all" : "live" } } })),
    refetchInterval: 3000,
    enabled: !!key,
  });
  const release = useMutation({
    mutationFn: async (id: string) =>
      unwrap(
        await api.POST("/v1/rentals/{id}/release", { params: { path: { id } }, body: {}, headers: idem() }),
      ),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ["rentals"] });
      void qc.invalidateQueries({ queryKey: ["account"] });
      void qc.invalidateQueries({ queryKey: ["machines"] });
    },
  });
  if (!key) return <NeedKey />;
  const list = rentals.data?.rentals ?? [];
  return (
    <Section
      title="My rentals"
      actions={
        <label className="check">
          <input type="checkbox" checked={showEnded} onChange={(e) => setShowEnded(e.target.checked)} /> show
          ended
        </label>
      }
    >
      <ErrorBox error={rentals.error ?? release.error} />
      {rentals.isLoading ? <Loading what="rentals" /> : null}
      {rentals.data && list.length === 0 ? (
        <p data-testid="no-rentals">No rentals. Rent one from the marketplace.</p>
      ) : null}
      {list.length > 0 ? (
        <table className="grid" aria-label="rentals">
          <thead>
            <tr>
              <th>Rental</th>
              <th>Machine</th>
              <th>State</th>
              <th>SSH</th>
              <th>Rate</th>
              <th>Cost so far</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={r.id} data-rental={r.id}>
                <td>
                  <code>{r.id}</code>
                </td>
                <td>
                  <a href={href("machine", r.minerHotkey)}>{shortKey(r.minerHotkey)}</a>
                  <div className="muted">
                    {r.gpuCount} × {r.gpuModel ?? "?"}
                  </div>
                </td>
                <td>
                  {r.state}
                  {r.endReason ? <div className="muted">{r.endReason}</div> : null}
                </td>
                <td>{r.state === "active" ? <code>{r.sshCommand}</code> : "—"}</td>
                <td>{credits(r.rateMicroPerHour)}/h</td>
                <td>
                  <RunningCost
                    startedAt={r.startedAt}
                    rate={r.rateMicroPerHour}
                    charged={r.chargedMicro}
                    active={r.state === "active"}
                  />
                </td>
                <td>
                  {r.state === "active" ? (
                    <button
                      type="button"
                      className="danger"
                      onClick={() => release.mutate(r.id)}
                      disabled={release.isPending}
                      aria-label={`Release rental ${r.id}`}
                    >
                      Release
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}
