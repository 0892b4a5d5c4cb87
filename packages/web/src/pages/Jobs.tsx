import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { ApiProblem, api, credits, getApiKey, idem, unwrap, useApiKey } from "../api.ts";
import { Badge, ErrorBox, NeedKey, Section } from "../components.tsx";

/** Splits a command line like a shell would for simple cases: spaces separate, quotes group. */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

async function fileToBase64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function stateBadge(state: string) {
  const kind =
    state === "completed"
      ? "ok"
      : state === "failed" || state === "timed_out"
        ? "bad"
        : state === "cancelled"
          ? "warn"
          : "info";
  return <Badge kind={kind}>{state}</Badge>;
}

/** Follows the job's log stream (server-sent events over fetch, so the API key stays in a header). */
function LiveLogs({ jobId, onEnd }: { jobId: string; onEnd: () => void }) {
  const [stdout, setStdout] = useState("");
  const [stderr, setStderr] = useState("");
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const ctrl = new AbortController();
    setStdout("");
    setStderr("");
    (async () => {
      const res = await fetch(`/v1/jobs/${encodeURIComponent(jobId)}/logs?follow=1`, {
        headers: { authorization: `Bearer ${getApiKey()}` },
        signal: ctrl.signal,
      });
      if (!res.ok || !res.body) {
        const body = await res.json().catch(() => ({}));
        throw new ApiProblem(
          body?.error?.message ?? `log stream failed (${res.status})`,
          body?.error?.code ?? "HTTP",
          res.status,
        );
      }
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i = buf.indexOf("\n\n");
        while (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null");
          if (event === "stdout") setStdout((s) => s + data);
          if (event === "stderr") setStderr((s) => s + data);
          if (event === "end") onEnd();
          i = buf.indexOf("\n\n");
        }
      }
    })().catch((err) => {
      if (!ctrl.signal.aborted) setError(err);
    });
    return () => ctrl.abort();
  }, [jobId, onEnd]);
  return (
    <div>
      <ErrorBox error={error} />
      <h3>stdout</h3>
      <pre className="logs" data-testid="job-stdout" aria-live="polite">
        {stdout || " "}
      </pre>
      {stderr ? (
        <>
          <h3>stderr</h3>
          <pre className="logs">{stderr}</pre>
        </>
      ) : null}
    </div>
  );
}

function JobDetail({ jobId }: { jobId: string }) {
  const qc = useQueryClient();
  const job = useQuery({
    queryKey: ["job", jobId],
    queryFn: async () => unwrap(await api.GET("/v1/jobs/{id}", { params: { path: { id: jobId } } })),
    refetchInterval: (q) =>
      q.state.data && ["completed", "failed", "timed_out", "cancelled"].includes(q.state.data.state)
        ? false
        : 1000,
  });
  const finished = !!job.data && ["completed", "failed", "timed_out", "cancelled"].includes(job.data.state);
  const outputs = useQuery({
    queryKey: ["job-outputs", jobId],
    queryFn: async () => unwrap(await api.GET("/v1/jobs/{id}/outputs", { params: { path: { id: jobId } } })),
    enabled: finished,
  });
  const receipt = useQuery({
    queryKey: ["job-receipt", jobId],
    queryFn: async () => unwrap(await api.GET("/v1/jobs/{id}/receipt", { params: { path: { id: jobId } } })),
    enabled: finished,
  });
  const cancel = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/jobs/{id}/cancel", {
          params: { path: { id: jobId } },
          body: {},
          headers: idem(),
        }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["job", jobId] }),
  });
  const onEnd = () => {
    void qc.invalidateQueries({ queryKey: ["job", jobId] });
    void qc.invalidateQueries({ queryKey: ["jobs"] });
  };
  return (
    <Section title={`Job ${jobId}`}>
      <ErrorBox error={job.error ?? cancel.error} />
      {job.data ? (
        <p data-testid="job-state">
          {stateBadge(job.data.state)} {job.data.exitCode != null ? `exit code ${job.data.exitCode}` : ""}{" "}
          {job.data.reason ?? ""} {job.data.costMicro !== null ? `· cost ${credits(job.data.costMicro)}` : ""}
          {!finished ? (
            <button type="button" className="danger" onClick={() => cancel.mutate()}>
              Cancel
            </button>
          ) : null}
        </p>
      ) : null}
      <LiveLogs jobId={jobId} onEnd={onEnd} />
      {finished ? (
        <>
          <h3>Outputs</h3>
          <ErrorBox error={outputs.error} />
          {outputs.data?.outputs.length === 0 ? <p className="muted">No output files.</p> : null}
          <ul>
            {outputs.data?.outputs.map((o) => (
              <li key={o.path}>
                <a
                  download={o.path.split("/").pop()}
                  href={`data:application/octet-stream;base64,${o.contentBase64}`}
                >
                  {o.path}
                </a>{" "}
                <span className="muted">({Math.floor((o.contentBase64.length * 3) / 4)} bytes)</span>
              </li>
            ))}
          </ul>
          <h3>Receipt</h3>
          {receipt.data?.receipt ? (
            <pre className="logs">{JSON.stringify(receipt.data.receipt, null, 2)}</pre>
          ) : (
            <p className="muted">No signed receipt yet.</p>
          )}
        </>
      ) : null}
    </Section>
  );
}

export function JobsPage() {
  const key = useApiKey();
  const qc = useQueryClient();
  const [image, setImage] = useState("alpine:3");
  const [command, setCommand] = useState("sh -c 'echo hello from a job'");
  const [env, setEnv] = useState("");
  const [outputsText, setOutputsText] = useState("");
  const [timeout, setTimeoutSec] = useState("600");
  const [files, setFiles] = useState<FileList | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const jobs = useQuery({
    queryKey: ["jobs"],
    queryFn: async () => unwrap(await api.GET("/v1/jobs")),
    refetchInterval: 3000,
    enabled: !!key,
  });
  const submit = useMutation({
    mutationFn: async () => {
      const envObj: Record<string, string> = {};
      for (const line of env
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)) {
        const i = line.indexOf("=");
        if (i <= 0) throw new ApiProblem(`environment line "${line}" is not NAME=value`, "INVALID_ENV", 400);
        envObj[line.slice(0, i)] = line.slice(i + 1);
      }
      const inputs = files
        ? await Promise.all(
            [...files].map(async (f) => ({ path: f.name, contentBase64: await fileToBase64(f) })),
          )
        : [];
      const outputPaths = outputsText
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean);
      return unwrap(
        await api.POST("/v1/jobs", {
          body: {
            image,
            command: splitCommand(command),
            env: Object.keys(envObj).length ? envObj : undefined,
            inputs: inputs.length ? inputs : undefined,
            outputPaths: outputPaths.length ? outputPaths : undefined,
            limits: timeout ? { executionSec: Number(timeout) } : undefined,
          },
          headers: idem(),
        }),
      );
    },
    onSuccess: (job) => {
      setSelected(job.jobId);
      void qc.invalidateQueries({ queryKey: ["jobs"] });
    },
  });
  if (!key) return <NeedKey />;
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    submit.mutate();
  };
  return (
    <>
      <Section title="Submit a job">
        <form className="stack" onSubmit={onSubmit} aria-label="job form">
          <label>
            Image
            <input name="image" value={image} onChange={(e) => setImage(e.target.value)} required />
          </label>
          <label>
            Command
            <input name="command" value={command} onChange={(e) => setCommand(e.target.value)} required />
          </label>
          <label>
            Environment (NAME=value per line)
            <textarea name="env" rows={2} value={env} onChange={(e) => setEnv(e.target.value)} />
          </label>
          <label>
            Input files (mounted read-only in the container)
            <input name="inputs" type="file" multiple onChange={(e) => setFiles(e.target.files)} />
          </label>
          <label>
            Output paths to collect (one per line)
            <textarea
              name="outputs"
              rows={2}
              value={outputsText}
              onChange={(e) => setOutputsText(e.target.value)}
            />
          </label>
          <label>
            Execution time limit (seconds)
            <input
              name="timeout"
              type="number"
              min={1}
              value={timeout}
              onChange={(e) => setTimeoutSec(e.target.value)}
            />
          </label>
          <button type="submit" disabled={submit.isPending}>
            {submit.isPending ? "Submitting…" : "Submit job"}
          </button>
        </form>
        <ErrorBox error={submit.error} />
      </Section>
      {selected ? <JobDetail jobId={selected} /> : null}
      <Section title="My jobs">
        <ErrorBox error={jobs.error} />
        {jobs.data && jobs.data.jobs.length === 0 ? <p>No jobs yet.</p> : null}
        {jobs.data && jobs.data.jobs.length > 0 ? (
          <table className="grid" aria-label="jobs">
            <thead>
              <tr>
                <th>Job</th>
                <th>State</th>
                <th>Exit</th>
                <th>Cost</th>
                <th>Created</th>
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.jobs.map((j) => (
                <tr key={j.jobId}>
                  <td>
                    <code>{j.jobId}</code>
                  </td>
                  <td>{stateBadge(j.state)}</td>
                  <td>{j.exitCode ?? ""}</td>
                  <td>{j.costMicro === null ? "—" : credits(j.costMicro)}</td>
                  <td>{new Date(j.createdAt).toLocaleString()}</td>
                  <td>
                    <button type="button" className="secondary" onClick={() => setSelected(j.jobId)}>
                      Open
                    </button>
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
