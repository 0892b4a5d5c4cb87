import { useQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { ago, api, shortKey, unwrap } from "../api.ts";
import { Badge, ErrorBox, Loading, Section } from "../components.tsx";
import { go, href } from "../router.ts";

const SORTS = [
  ["price", "price, cheapest first"],
  ["-tops", "throughput, fastest first"],
  ["-reliability", "reliability, best first"],
  ["-count", "GPU count, most first"],
  ["-score", "score, highest first"],
] as const;

interface Filters {
  gpu: string;
  count: string;
  vram: string;
  price: string;
  reliability: string;
  verified: "true" | "any";
  available: boolean;
  sort: string;
  extra: string;
}

/** Builds the text query from the form; every filter is visible in the query line under the form. */
export function buildQuery(f: Filters): string {
  const terms: string[] = [];
  if (f.gpu.trim()) terms.push(`gpu=${f.gpu.trim().replace(/\s+/g, "_")}`);
  if (f.count) terms.push(`count>=${f.count}`);
  if (f.vram) terms.push(`vram>=${f.vram}`);
  if (f.price) terms.push(`price<=${f.price}`);
  if (f.reliability) terms.push(`reliability>=${f.reliability}`);
  terms.push(`verified=${f.verified}`);
  if (f.available) terms.push("available=true");
  if (f.extra.trim()) terms.push(f.extra.trim());
  terms.push(`sort=${f.sort}`);
  return terms.join(" ");
}

export function Marketplace() {
  const [form, setForm] = useState<Filters>({
    gpu: "",
    count: "",
    vram: "",
    price: "",
    reliability: "",
    verified: "true",
    available: false,
    sort: "price",
    extra: "",
  });
  const [query, setQuery] = useState(buildQuery(form));
  const search = useQuery({
    queryKey: ["machines", query],
    queryFn: async () =>
      unwrap(await api.GET("/v1/machines", { params: { query: { q: query, limit: 200 } } })),
    refetchInterval: 10_000,
  });
  const set = <K extends keyof Filters>(k: K, v: Filters[K]) => setForm((f) => ({ ...f, [k]: v }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setQuery(buildQuery(form));
  };

  return (
    <>
      <Section title="Find a machine">
        <form className="filters" onSubmit={submit} aria-label="search filters">
          <label>
            GPU model
            <input
              value={form.gpu}
              onChange={(e) => set("gpu", e.target.value)}
              placeholder="e.g. H100"
              name="gpu"
            />
          </label>
          <label>
            GPUs at least
            <input
              type="number"
              min={1}
              value={form.count}
              onChange={(e) => set("count", e.target.value)}
              name="count"
            />
          </label>
          <label>
            VRAM per GPU ≥ (GiB)
            <input
              type="number"
              min={0}
              value={form.vram}
              onChange={(e) => set("vram", e.target.value)}
              name="vram"
            />
          </label>
          <label>
            Price per GPU-hour ≤
            <input
              type="number"
              min={0}
              step="0.01"
              value={form.price}
              onChange={(e) => set("price", e.target.value)}
              name="price"
            />
          </label>
          <label>
            Reliability ≥
            <input
              type="number"
              min={0}
              max={1}
              step="0.01"
              value={form.reliability}
              onChange={(e) => set("reliability", e.target.value)}
              name="reliability"
            />
          </label>
          <label>
            Proof
            <select
              value={form.verified}
              onChange={(e) => set("verified", e.target.value as "true" | "any")}
              name="verified"
            >
              <option value="true">proven only</option>
              <option value="any">all machines</option>
            </select>
          </label>
          <label>
            Sort by
            <select value={form.sort} onChange={(e) => set("sort", e.target.value)} name="sort">
              {SORTS.map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={form.available}
              onChange={(e) => set("available", e.target.checked)}
              name="available"
            />
            available now
          </label>
          <label className="wide">
            More terms (query language)
            <input
              value={form.extra}
              onChange={(e) => set("extra", e.target.value)}
              placeholder="e.g. tops>=500 total_vram>=160"
              name="extra"
            />
          </label>
          <button type="submit">Search</button>
        </form>
        <p className="muted">
          Query: <code data-testid="applied-query">{search.data?.query ?? query}</code>
        </p>
        <ErrorBox error={search.error} />
      </Section>
      <Section title={search.data ? `${search.data.total} machine(s)` : "Machines"}>
        {search.isLoading ? <Loading what="machines" /> : null}
        {search.data && search.data.machines.length === 0 ? (
          <p>No machine matches. Loosen a filter.</p>
        ) : null}
        {search.data && search.data.machines.length > 0 ? (
          <table className="grid" aria-label="machines">
            <thead>
              <tr>
                <th>Machine</th>
                <th>GPU (proven)</th>
                <th>Count</th>
                <th>VRAM</th>
                <th>Measured TOPS</th>
                <th>Price / GPU-h</th>
                <th>Reliability</th>
                <th>Last proof</th>
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {search.data.machines.map((m) => (
                <tr key={m.minerHotkey} data-hotkey={m.minerHotkey}>
                  <td>
                    <a href={href("machine", m.minerHotkey)} title={m.minerHotkey}>
                      uid {m.uid} · {shortKey(m.minerHotkey)}
                    </a>
                  </td>
                  <td>
                    {m.verified && m.gpuModel ? (
                      <Badge kind="ok">✓ proven {m.gpuModel}</Badge>
                    ) : (
                      <Badge kind="warn">unproven (claims {m.claimedGpuModel ?? "?"})</Badge>
                    )}
                    {m.simulated ? (
                      <>
                        {" "}
                        <Badge kind="info">simulated</Badge>
                      </>
                    ) : null}
                  </td>
                  <td>{m.gpuCount}</td>
                  <td>{m.vramGiB.toFixed(0)} GiB</td>
                  <td>{m.measuredTops === null ? "—" : m.measuredTops.toFixed(0)}</td>
                  <td>{m.pricePerGpuHour.toFixed(2)} cr</td>
                  <td>{(m.reliability * 100).toFixed(1)}%</td>
                  <td>{ago(m.lastProofAt)}</td>
                  <td>
                    {m.allocated ? (
                      <Badge kind="bad">rented</Badge>
                    ) : m.rentable ? (
                      <button
                        type="button"
                        onClick={() => go("rent", m.minerHotkey)}
                        aria-label={`Rent machine uid ${m.uid}`}
                      >
                        Rent
                      </button>
                    ) : m.verified && !m.runsContainers ? (
                      <span
                        data-testid={`not-rentable-${m.uid}`}
                        title={`the miner cannot start containers for this machine (no Docker${m.gpuCount > 0 ? " with NVIDIA's runtime" : ""}); it is proven and scored, but not for rent`}
                      >
                        <Badge kind="warn">not for rent</Badge>
                      </span>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
    </>
  );
}
