import { useQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { api, credits, setApiKey, unwrap, useApiKey } from "./api.ts";
import { ErrorBox } from "./components.tsx";
import { JobsPage } from "./pages/Jobs.tsx";
import { MachinePage } from "./pages/MachinePage.tsx";
import { Marketplace } from "./pages/Marketplace.tsx";
import { MinerPage } from "./pages/Miner.tsx";
import { NetworkPage } from "./pages/Network.tsx";
import { RentalsPage, RentPage } from "./pages/Rent.tsx";
import { href, useRoute } from "./router.ts";

const NAV = [
  ["market", "Marketplace"],
  ["rentals", "My rentals"],
  ["jobs", "Jobs"],
  ["network", "Network"],
  ["miner", "Miner view"],
] as const;

function AccountBar() {
  const key = useApiKey();
  const [draft, setDraft] = useState("");
  const account = useQuery({
    queryKey: ["account", key],
    queryFn: async () => unwrap(await api.GET("/v1/account")),
    enabled: !!key,
    refetchInterval: 5000,
    retry: false,
  });
  const save = (e: FormEvent) => {
    e.preventDefault();
    setApiKey(draft);
    setDraft("");
  };
  if (!key) {
    return (
      <form className="keybar" onSubmit={save} aria-label="API key form">
        <label>
          API key
          <input
            name="apiKey"
            type="password"
            autoComplete="off"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            placeholder="cmk_…"
          />
        </label>
        <button type="submit">Use key</button>
      </form>
    );
  }
  return (
    <div className="keybar">
      {account.data ? (
        <span data-testid="balance">
          {account.data.name}: <strong>{credits(account.data.balanceMicro)}</strong>
        </span>
      ) : null}
      {account.error ? <ErrorBox error={account.error} /> : null}
      <button type="button" className="secondary" onClick={() => setApiKey("")}>
        Forget key
      </button>
      {account.data?.lowBalance ? (
        <div className="notice warn" role="alert">
          Low balance: about {account.data.secondsLeft}s of your running rentals left. At zero they are
          released.
        </div>
      ) : null}
    </div>
  );
}

export function App() {
  const [page, arg] = useRoute();
  let body: React.ReactNode;
  switch (page) {
    case "machine":
      body = <MachinePage hotkey={arg} />;
      break;
    case "rent":
      body = <RentPage hotkey={arg} />;
      break;
    case "rentals":
      body = <RentalsPage />;
      break;
    case "jobs":
      body = <JobsPage />;
      break;
    case "network":
      body = <NetworkPage />;
      break;
    case "miner":
      body = <MinerPage hotkey={arg} key={arg ?? ""} />;
      break;
    default:
      body = <Marketplace />;
  }
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header>
        <h1>
          <a href={href("market")}>ComputeMesh</a>
        </h1>
        <nav aria-label="main">
          {NAV.map(([id, label]) => (
            <a key={id} href={href(id)} aria-current={page === id ? "page" : undefined}>
              {label}
            </a>
          ))}
          <a href="/docs">API docs</a>
        </nav>
        <AccountBar />
      </header>
      <main id="main">{body}</main>
    </>
  );
}
