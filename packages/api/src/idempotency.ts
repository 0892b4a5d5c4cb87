import { createHash } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ApiDb } from "./db/open.ts";
import { isUniqueViolation } from "./db/open.ts";
import { ApiError } from "./errors.ts";

export const IDEMPOTENCY_HEADER = "idempotency-key";

declare module "fastify" {
  interface FastifyRequest {
    idempotency?: { scope: string; key: string };
  }
}

/**
 * Idempotency keys for every POST: the first request with a key runs and its response (status and body) is
 * stored; a retry with the same key and the same request gets that response again (`idempotent-replayed: true`);
 * the same key with a different request is 422; a retry while the first is still running is 409. Server errors
 * are not stored, so a retry after one runs again. Keys are scoped to the account (or the client IP).
 */
export function idempotencyHooks(db: ApiDb, now: () => number) {
  async function preHandler(req: FastifyRequest, reply: FastifyReply) {
    if (req.method !== "POST") return;
    const raw = req.headers[IDEMPOTENCY_HEADER];
    if (raw === undefined) return;
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (key.length < 1 || key.length > 200 || !/^[\x21-\x7e]+$/.test(key)) {
      throw new ApiError(400, "VALIDATION_FAILED", "Idempotency-Key must be 1–200 printable characters", {
        field: "Idempotency-Key",
      });
    }
    const scope = req.account?.id ?? `ip:${req.ip}`;
    const path = req.routeOptions.url ?? req.url;
    const requestHash = createHash("sha256")
      .update(`${req.method} ${req.url}\n${JSON.stringify(req.body ?? null)}`)
      .digest("hex");
    try {
      await db
        .insertInto("api_idempotency")
        .values({
          account_id: scope,
          key,
          method: req.method,
          path,
          request_hash: requestHash,
          status_code: null,
          response_body: null,
          created_at: new Date(now()).toISOString(),
        })
        .execute();
      req.idempotency = { scope, key };
      return;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    const row = await db
      .selectFrom("api_idempotency")
      .selectAll()
      .where("account_id", "=", scope)
      .where("key", "=", key)
      .executeTakeFirst();
    if (!row)
      throw new ApiError(
        409,
        "IDEMPOTENCY_IN_PROGRESS",
        "a request with this Idempotency-Key is being handled",
      );
    if (row.request_hash !== requestHash) {
      throw new ApiError(
        422,
        "IDEMPOTENCY_KEY_REUSED",
        "this Idempotency-Key was used for a different request",
        {
          field: "Idempotency-Key",
          hint: "use a fresh key for each distinct request",
        },
      );
    }
    if (row.status_code === null) {
      throw new ApiError(
        409,
        "IDEMPOTENCY_IN_PROGRESS",
        "a request with this Idempotency-Key is still running",
        {
          hint: "retry after it finishes",
        },
      );
    }
    reply.header("idempotent-replayed", "true");
    reply.code(row.status_code).type("application/json; charset=utf-8").send(row.response_body);
    return reply;
  }

  async function onSend(req: FastifyRequest, reply: FastifyReply, payload: unknown) {
    const idem = req.idempotency;
    if (!idem) return payload;
    req.idempotency = undefined;
    if (reply.statusCode >= 500) {
      await db
        .deleteFrom("api_idempotency")
        .where("account_id", "=", idem.scope)
        .where("key", "=", idem.key)
        .execute();
    } else {
      await db
        .updateTable("api_idempotency")
        .set({
          status_code: reply.statusCode,
          response_body: typeof payload === "string" ? payload : JSON.stringify(payload ?? null),
        })
        .where("account_id", "=", idem.scope)
        .where("key", "=", idem.key)
        .execute();
    }
    return payload;
  }

  return { preHandler, onSend };
}
