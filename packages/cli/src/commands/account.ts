import { type Command, Option, type OptionValues } from "@commander-js/extra-typings";
import { type ApiClient, createApiClient, idempotencyHeader, unwrap } from "@computemesh/api/client";
import { CmeshError } from "@computemesh/core";
import Table from "cli-table3";

export const API_URL_ENV = "CMESH_API_URL";
export const API_KEY_ENV = "CMESH_API_KEY";

export interface ApiCliOptions {
  api?: string;
  apiKey?: string;
  json?: boolean;
}

/** Adds `--api URL`, `--api-key KEY` (defaults from CMESH_API_URL / CMESH_API_KEY) and `--json`. */
// biome-ignore lint/suspicious/noExplicitAny: commander's argument tuple is any[] by design
export function withApiOptions<A extends any[], O extends OptionValues, G extends OptionValues>(
  cmd: Command<A, O, G>,
): Command<A, O & ApiCliOptions, G> {
  return cmd
    .addOption(
      new Option("--api <url>", "renter API base URL").env(API_URL_ENV).default("http://127.0.0.1:8080"),
    )
    .addOption(new Option("--api-key <key>", "API key (cmk_…)").env(API_KEY_ENV))
    .option("--json", "print JSON instead of a table") as unknown as Command<A, O & ApiCliOptions, G>;
}

export function apiClient(opts: ApiCliOptions, needKey = true): ApiClient {
  if (needKey && !opts.apiKey) {
    throw new CmeshError("API_KEY_MISSING", "this command needs an API key", {
      hint: `pass --api-key cmk_… or set ${API_KEY_ENV} (create one with \`cmesh account create --name you\`)`,
    });
  }
  return createApiClient({ baseUrl: opts.api ?? "http://127.0.0.1:8080", apiKey: opts.apiKey });
}

/** Formats micro-credits as credits with up to 6 decimals. */
export function credits(micro: number): string {
  return `${(micro / 1_000_000).toFixed(6).replace(/\.?0+$/, "")} cr`;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(head: string[], rows: (string | number)[][]): void {
  const t = new Table({ head, style: { head: [] } });
  t.push(...rows.map((r) => r.map(String)));
  process.stdout.write(`${t.toString()}\n`);
}

/** Registers the `cmesh account` commands. */
export function register(program: Command): void {
  const account = program
    .command("account")
    .description("renter accounts, API keys and credits (renter API)");

  withApiOptions(
    account
      .command("create")
      .description("create an account and print its API key (shown once)")
      .requiredOption("--name <name>", "account name")
      .option("--credits <n>", "opening balance (needs --admin-key, or a local network)", Number)
      .option("--admin-key <key>", "operator key of the API (for funded accounts)"),
  ).action(async (opts) => {
    const api = createApiClient({ baseUrl: opts.api ?? "http://127.0.0.1:8080", apiKey: opts.adminKey });
    const res = unwrap(
      await api.POST("/v1/accounts", {
        body: { name: opts.name, initialCredits: opts.credits },
        headers: idempotencyHeader(),
      }),
    );
    if (opts.json) return printJson(res);
    process.stdout.write(
      `account ${res.accountId} created\nAPI key (shown once, store it now):\n  ${res.apiKey}\n\nexport ${API_KEY_ENV}=${res.apiKey}\n`,
    );
  });

  withApiOptions(
    account
      .command("deposit")
      .description("add credits (local network, or with the operator's key)")
      .requiredOption("--credits <n>", "credits to add", Number),
  ).action(async (opts) => {
    const res = unwrap(
      await apiClient(opts).POST("/v1/account/deposits", {
        body: { credits: opts.credits },
        headers: idempotencyHeader(),
      }),
    );
    if (opts.json) return printJson(res);
    process.stdout.write(`deposited ${opts.credits} cr; balance ${credits(res.balanceMicro)}\n`);
  });

  withApiOptions(
    account
      .command("balance")
      .description("balance and recent ledger rows")
      .option("--ledger", "list ledger rows"),
  ).action(async (opts) => {
    const api = apiClient(opts);
    const acc = unwrap(await api.GET("/v1/account"));
    const ledger = opts.ledger
      ? unwrap(await api.GET("/v1/account/ledger", { params: { query: { limit: 50 } } }))
      : undefined;
    if (opts.json) return printJson({ account: acc, ledger: ledger?.entries });
    process.stdout.write(`${acc.name} (${acc.id}): ${credits(acc.balanceMicro)}\n`);
    if (acc.lowBalance) {
      process.stdout.write(`warning: about ${acc.secondsLeft}s of running rentals left; deposit soon\n`);
    }
    if (ledger) {
      printTable(
        ["when", "kind", "amount", "memo"],
        ledger.entries.map((e) => [e.createdAt, e.kind, credits(e.amountMicro), e.memo]),
      );
    }
  });

  const keys = account.command("keys").description("list, create and revoke API keys");
  withApiOptions(keys.command("list").description("list your API keys")).action(async (opts) => {
    const res = unwrap(await apiClient(opts).GET("/v1/account/keys"));
    if (opts.json) return printJson(res.keys);
    printTable(
      ["id", "label", "prefix", "created", "revoked"],
      res.keys.map((k) => [k.id, k.label, `${k.prefix}…`, k.createdAt, k.revokedAt ?? ""]),
    );
  });
  withApiOptions(
    keys
      .command("create")
      .description("create another API key (shown once)")
      .option("--label <label>", "label", "key"),
  ).action(async (opts) => {
    const res = unwrap(
      await apiClient(opts).POST("/v1/account/keys", {
        body: { label: opts.label },
        headers: idempotencyHeader(),
      }),
    );
    if (opts.json) return printJson(res);
    process.stdout.write(`API key ${res.keyId} (shown once):\n  ${res.apiKey}\n`);
  });
  withApiOptions(
    keys.command("revoke").description("revoke an API key").argument("<keyId>", "key id (key_…)"),
  ).action(async (keyId, opts) => {
    const res = unwrap(
      await apiClient(opts).DELETE("/v1/account/keys/{id}", { params: { path: { id: keyId } } }),
    );
    if (opts.json) return printJson(res);
    process.stdout.write(`revoked ${res.id} (${res.label})\n`);
  });
}
