import type { ReactNode } from "react";
import { ApiProblem } from "./api.ts";

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const p = error instanceof ApiProblem ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="error" role="alert">
      <strong>{p ? `Error (${p.code})` : "Error"}:</strong> {message}
      {p?.hint ? <div className="hint">What to do: {p.hint}</div> : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Badge({ kind, children }: { kind: "ok" | "warn" | "bad" | "info"; children: ReactNode }) {
  return <span className={`badge badge-${kind}`}>{children}</span>;
}

export function Section({
  title,
  children,
  actions,
}: {
  title: string;
  children: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <section className="card" aria-label={title}>
      <div className="card-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function NeedKey() {
  return (
    <div className="notice" role="status">
      Enter your API key at the top of the page first (it is kept in this browser only). Get one with{" "}
      <code>cmesh account create --name you</code>.
    </div>
  );
}
