import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";
import { ApiError } from "./errors.ts";
import { newId } from "./accounts.ts";
import type { ApiDb } from "./db/open.ts";

export const WEBHOOK_EVENTS = [
  "rental.started",
  "rental.low_balance",
  "rental.released",
  "rental.lost",
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export const SIGNATURE_HEADER = "cmesh-signature";

/**
 * Signs a webhook body: header value `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The
 * timestamp inside the MAC stops an old delivery from being replayed later.
 */
export function signWebhook(secret: string, body: string, timestampSec: number): string {
  const mac = createHmac("sha256", secret).update(`${timestampSec}.${body}`).digest("hex");
  return `t=${timestampSec},v1=${mac}`;
}

/**
 * Verifies a delivery as a receiver would: the MAC over the raw body must match and the timestamp must be
 * within `toleranceSec` of `nowSec`. Returns false for anything malformed, forged or stale.
 *
 * @example verifyWebhook(secret, rawBody, req.headers["cmesh-signature"]) // → true | false
 */
export function verifyWebhook(
  secret: string,
  body: string,
  header: string | undefined,
  opts: { toleranceSec?: number; nowSec?: number } = {},
): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(
    header.split(",").map((p) => {
      const i = p.indexOf("=");
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()];
    }),
  );
  const t = Number(parts.t);
  if (!Number.isInteger(t) || typeof parts.v1 !== "string" || !/^[0-9a-f]{64}$/.test(parts.v1)) return false;
  const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceSec ?? 300)) return false;
  const expected = Buffer.from(signWebhook(secret, body, t).split("v1=")[1], "hex");
  return timingSafeEqual(expected, Buffer.from(parts.v1, "hex"));
}

export interface WebhookInfo {
  id: string;
  url: string;
  events: WebhookEvent[];
  createdAt: string;
}

export async function createWebhook(
  db: ApiDb,
  accountId: string,
  url: string,
  events: WebhookEvent[],
  now: Date,
): Promise<WebhookInfo & { secret: string }> {
  const parsed = new URL(url);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ApiError(400, "VALIDATION_FAILED", "webhook url must be http or https", { field: "url" });
  }
  const secret = `whsec_${randomBytes(24).toString("base64url")}`;
  const info = { id: newId("whk"), url, events, createdAt: now.toISOString(), secret };
  await db
    .insertInto("api_webhooks")
    .values({
      id: info.id,
      account_id: accountId,
      url,
      secret,
      events: JSON.stringify(events),
      created_at: info.createdAt,
      revoked_at: null,
    })
    .execute();
  return info;
}

export async function listWebhooks(db: ApiDb, accountId: string): Promise<WebhookInfo[]> {
  const rows = await db
    .selectFrom("api_webhooks")
    .selectAll()
    .where("account_id", "=", accountId)
    .where("revoked_at", "is", null)
    .execute();
  return rows.map((r) => ({ id: r.id, url: r.url, events: JSON.parse(r.events), createdAt: r.created_at }));
}

export async function deleteWebhook(db: ApiDb, accountId: string, id: string, now: Date): Promise<void> {
  const res = await db
    .updateTable("api_webhooks")
    .set({ revoked_at: now.toISOString() })
    .where("id", "=", id)
    .where("account_id", "=", accountId)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) {
    throw new ApiError(404, "WEBHOOK_NOT_FOUND", `no webhook ${id} on this account`, { field: "webhookId" });
  }
}

/**
 * Sends signed events to every webhook of an account that asked for them, through an outbox: each delivery is a row
 * written before the first attempt, retried with exponential backoff, and picked up again after a restart. Several
 * API processes may share the database: an attempt claims its row first (compare-and-set on `attempts`).
 */
export class WebhookDispatcher {
  private readonly pending = new Set<Promise<unknown>>();
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: ApiDb,
    private readonly logger: Logger,
    private readonly opts: {
      /** Attempts after the first (default 3). */
      retries?: number;
      backoffMs?: number;
      timeoutMs?: number;
      /** How often due deliveries are looked for (default 1 s; 0: only when an event is emitted). */
      pollMs?: number;
      nowSec?: () => number;
      /** Counts attempts by result (the API's /metrics). */
      onAttempt?: (result: "delivered" | "retry" | "failed") => void;
    } = {},
  ) {}

  /** Starts polling the outbox (deliveries left by a restart, retries that came due). */
  start(): void {
    const pollMs = this.opts.pollMs ?? 1000;
    if (pollMs > 0 && !this.timer) {
      this.timer = setInterval(() => this.kick(), pollMs);
      this.timer.unref();
    }
    this.kick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  emit(accountId: string, event: WebhookEvent, data: Record<string, unknown>): void {
    this.track(
      this.enqueue(accountId, event, data)
        .then(() => this.kick())
        .catch((err) => this.logger.warn({ err, event }, "webhook event could not be queued")),
    );
  }

  /** Waits for queued events and the attempts in flight (tests and shutdown); retries not yet due stay queued. */
  async idle(): Promise<void> {
    while (this.pending.size > 0 || this.pumping) {
      await Promise.allSettled([...this.pending, this.pumping]);
    }
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async enqueue(accountId: string, event: WebhookEvent, data: Record<string, unknown>): Promise<void> {
    const hooks = await this.db
      .selectFrom("api_webhooks")
      .select(["id", "events"])
      .where("account_id", "=", accountId)
      .where("revoked_at", "is", null)
      .execute();
    const nowSec = this.nowSec();
    for (const hook of hooks) {
      if (!(JSON.parse(hook.events) as string[]).includes(event)) continue;
      const body = JSON.stringify({
        id: newId("evt"),
        type: event,
        createdAt: new Date(nowSec * 1000).toISOString(),
        data,
      });
      await this.db
        .insertInto("api_webhook_deliveries")
        .values({
          id: newId("dlv"),
          webhook_id: hook.id,
          event,
          body,
          attempts: 0,
          next_at_ms: Date.now(),
          delivered_at: null,
          failed_at: null,
          last_error: null,
          created_at: new Date().toISOString(),
        })
        .execute();
    }
  }

  /** Runs a pass over due deliveries now (one pass at a time; a kick during a pass runs another after it). */
  private kick(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = (async () => {
      do {
        this.pumpAgain = false;
        await this.pass().catch((err) => this.logger.warn({ err }, "webhook delivery pass failed"));
      } while (this.pumpAgain);
    })().finally(() => {
      this.pumping = null;
    });
  }

  private async pass(): Promise<void> {
    const due = await this.db
      .selectFrom("api_webhook_deliveries as d")
      .innerJoin("api_webhooks as w", "w.id", "d.webhook_id")
      .select(["d.id", "d.body", "d.attempts", "w.url", "w.secret", "w.revoked_at"])
      .where("d.delivered_at", "is", null)
      .where("d.failed_at", "is", null)
      .where("d.next_at_ms", "<=", Date.now())
      .orderBy("d.next_at_ms")
      .limit(100)
      .execute();
    await Promise.all(due.map((d) => this.attempt(d)));
  }

  private async attempt(d: {
    id: string;
    body: string;
    attempts: number;
    url: string;
    secret: string;
    revoked_at: string | null;
  }): Promise<void> {
    const now = () => new Date().toISOString();
    if (d.revoked_at) {
      await this.settle(d.id, { failed_at: now(), last_error: "the webhook was deleted" });
      return;
    }
    const attempts = Number(d.attempts) + 1;
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    // claim it: another process (or pass) that took it first wins, and the lease outlives this attempt
    const claimed = await this.db
      .updateTable("api_webhook_deliveries")
      .set({ attempts, next_at_ms: Date.now() + timeoutMs + 30_000 })
      .where("id", "=", d.id)
      .where("attempts", "=", Number(d.attempts))
      .where("delivered_at", "is", null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return;
    let error: string;
    try {
      const res = await fetch(d.url, {
        method: "POST",
        headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signWebhook(d.secret, d.body, this.nowSec()) },
        body: d.body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        await this.settle(d.id, { delivered_at: now(), last_error: null });
        this.opts.onAttempt?.("delivered");
        return;
      }
      error = `the receiver answered ${res.status}`;
    } catch (err) {
      error = (err as Error).message;
    }
    const retries = this.opts.retries ?? 3;
    this.logger.warn({ url: d.url, attempt: attempts, error }, "webhook delivery failed");
    this.opts.onAttempt?.(attempts > retries ? "failed" : "retry");
    if (attempts > retries) {
      await this.settle(d.id, { failed_at: now(), last_error: error });
    } else {
      const backoff = (this.opts.backoffMs ?? 500) * 2 ** (attempts - 1);
      await this.settle(d.id, { next_at_ms: Date.now() + backoff, last_error: error });
      if (this.opts.pollMs === 0) setTimeout(() => this.kick(), backoff).unref();
    }
  }

  private async settle(
    id: string,
    set: { delivered_at?: string; failed_at?: string; next_at_ms?: number; last_error: string | null },
  ): Promise<void> {
    await this.db.updateTable("api_webhook_deliveries").set(set).where("id", "=", id).execute();
  }

  private nowSec(): number {
    return this.opts.nowSec?.() ?? Math.floor(Date.now() / 1000);
  }
}
