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

/** Sends signed events to every webhook of an account that asked for them; retries with backoff. */
export class WebhookDispatcher {
  private readonly pending = new Set<Promise<void>>();
  constructor(
    private readonly db: ApiDb,
    private readonly logger: Logger,
    private readonly opts: {
      retries?: number;
      backoffMs?: number;
      timeoutMs?: number;
      nowSec?: () => number;
    } = {},
  ) {}

  emit(accountId: string, event: WebhookEvent, data: Record<string, unknown>): void {
    const p = this.deliverAll(accountId, event, data).catch((err) =>
      this.logger.warn({ err, event }, "webhook dispatch failed"),
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Waits for deliveries in flight (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async deliverAll(accountId: string, event: WebhookEvent, data: Record<string, unknown>) {
    const hooks = await this.db
      .selectFrom("api_webhooks")
      .selectAll()
      .where("account_id", "=", accountId)
      .where("revoked_at", "is", null)
      .execute();
    const nowSec = this.opts.nowSec ?? (() => Math.floor(Date.now() / 1000));
    for (const hook of hooks) {
      const events = JSON.parse(hook.events) as string[];
      if (!events.includes(event)) continue;
      const body = JSON.stringify({
        id: newId("evt"),
        type: event,
        createdAt: new Date(nowSec() * 1000).toISOString(),
        data,
      });
      await this.deliver(hook.url, hook.secret, body, nowSec);
    }
  }

  private async deliver(url: string, secret: string, body: string, nowSec: () => number) {
    const retries = this.opts.retries ?? 3;
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            [SIGNATURE_HEADER]: signWebhook(secret, body, nowSec()),
          },
          body,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000),
        });
        if (res.ok) return;
        this.logger.warn({ url, status: res.status, attempt }, "webhook receiver refused delivery");
      } catch (err) {
        this.logger.warn({ url, err: (err as Error).message, attempt }, "webhook delivery failed");
      }
      await new Promise((r) => setTimeout(r, (this.opts.backoffMs ?? 500) * 2 ** attempt));
    }
  }
}
