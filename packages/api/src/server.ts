import { existsSync } from "node:fs";
import { join } from "node:path";
import rateLimit from "@fastify/rate-limit";
import fastifyStatic from "@fastify/static";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify from "fastify";
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { Kysely } from "kysely";
import pino, { type Logger } from "pino";
import { findAccountByKey } from "./accounts.ts";
import type { MarketBackend } from "./backend.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { ApiContext, App } from "./context.ts";
import { type ApiDb, migrateApiDb, openApiDb } from "./db/open.ts";
import { ApiError } from "./errors.ts";
import { sendError } from "./http-errors.ts";
import { idempotencyHooks } from "./idempotency.ts";
import { DEFAULT_JOB_LIMITS, JobService } from "./jobs.ts";
import { createApiMetrics } from "./metrics.ts";
import { RentalService } from "./rentals.ts";
import { accountRoutes } from "./routes/accounts.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { machineRoutes } from "./routes/machines.ts";
import { rentalRoutes } from "./routes/rentals.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { ensureWebBuilt } from "./web-assets.ts";
import { WebhookDispatcher } from "./webhooks.ts";

export interface ApiServerOptions {
  /** The market: a `Validator` (it implements MarketBackend with every extension) or any other MarketBackend. */
  backend: MarketBackend;
  /** A Kysely instance (e.g. the validator's store), a `postgres://` URL, or a SQLite path. */
  db: Kysely<unknown> | ApiDb | string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  logger?: Logger;
  clock?: Clock;
  /** Key that may create funded accounts and deposit (operator); compared in constant time. */
  adminKey?: string;
  /** Local network: renters may deposit credits to themselves. */
  selfDeposit?: boolean;
  /** Anyone may create an (empty) account through POST /v1/accounts. Default true. */
  openSignup?: boolean;
  /** Metering period in ms (charges stay exact to the second whatever the period). 0 = no timer (tests tick by hand). */
  meterIntervalMs?: number;
  lowBalanceWarnSec?: number;
  rateLimit?: { max: number; timeWindowMs: number } | false;
  webhooks?: { retries?: number; backoffMs?: number; timeoutMs?: number; pollMs?: number };
  /** Serve the web UI from this directory; `true` (default) = packages/web/dist, built on demand; false = no UI. */
  web?: string | boolean;
  bodyLimitBytes?: number;
  jobBodyLimitBytes?: number;
  maxJobInputBytes?: number;
  logPollMs?: number;
}

export interface ApiServer {
  url: string;
  app: App;
  db: ApiDb;
  rentals: RentalService;
  webhooks: WebhookDispatcher;
  /** Runs one metering pass now (tests use it with a manual clock). */
  meterTick(): Promise<void>;
  close(): Promise<void>;
}

/** Builds the Fastify app with every route, without listening (the OpenAPI generator uses it too). */
export async function buildApiApp(opts: ApiServerOptions) {
  const logger = opts.logger ?? pino({ level: process.env.CMESH_LOG_LEVEL ?? "info" });
  const clock = opts.clock ?? systemClock;
  const backend = opts.backend;
  const { db, owned } = openApiDb(opts.db);
  await migrateApiDb(db);
  const metrics = createApiMetrics();
  const webhooks = new WebhookDispatcher(db, logger.child({ component: "webhooks" }), {
    ...opts.webhooks,
    onAttempt: (result) => metrics.webhookAttempts.inc({ result }),
    nowSec: () => Math.floor(clock.now() / 1000),
  });
  const rentals = new RentalService(
    db,
    backend,
    clock,
    webhooks,
    logger.child({ component: "rentals" }),
    {
      lowBalanceWarnSec: opts.lowBalanceWarnSec,
    },
  );
  await rentals.recover();
  const jobs = new JobService(db, backend, clock, {
    ...DEFAULT_JOB_LIMITS,
    maxInputBytes: opts.maxJobInputBytes ?? DEFAULT_JOB_LIMITS.maxInputBytes,
  });
  const ctx: ApiContext = {
    db,
    backend,
    clock,
    rentals,
    jobs,
    webhooks,
    logger,
    adminKey: opts.adminKey,
    selfDeposit: opts.selfDeposit ?? false,
    openSignup: opts.openSignup ?? true,
  };

  const app = Fastify({
    loggerInstance: logger.child({ component: "http" }, { level: "warn" }),
    bodyLimit: opts.bodyLimitBytes ?? 64 * 1024,
    // Router-level refusals (an over-long path parameter, a malformed URL) get the same JSON error envelope.
    frameworkErrors: (err, _req, reply) => sendError(reply, err),
  }).withTypeProvider<ZodTypeProvider>() as unknown as App;
  app.removeContentTypeParser("text/plain");
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((err, _req, reply) => sendError(reply, err));
  let serveSpa = false;
  app.setNotFoundHandler((req, reply) => {
    // Client-side routes of the single-page app fall back to index.html.
    const wantsPage =
      req.method === "GET" && !req.url.startsWith("/v1/") && (req.headers.accept ?? "").includes("text/html");
    if (serveSpa && wantsPage) return reply.sendFile("index.html");
    return sendError(
      reply,
      new ApiError(404, "NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`, {
        hint: "see /docs",
      }),
    );
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "ComputeMesh renter API",
        version: "1.0.0",
        description: "Search proven GPU machines, rent them over SSH, run dockerized jobs, pay per second.",
      },
      components: {
        securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "cmk_… API key" } },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  if (opts.rateLimit !== false) {
    await app.register(rateLimit, {
      max: opts.rateLimit?.max ?? 600,
      timeWindow: opts.rateLimit?.timeWindowMs ?? 60_000,
      keyGenerator: (req) => String(req.headers.authorization ?? req.ip),
      errorResponseBuilder: (_req, ctx2) =>
        new ApiError(429, "RATE_LIMITED", `more than ${ctx2.max} requests in ${ctx2.after}`, {
          hint: `retry after ${ctx2.after}`,
        }) as unknown as object,
    });
  }

  app.decorateRequest("account", null);
  app.decorateRequest("isAdmin", false);
  app.addHook("preValidation", async (req) => {
    const header = req.headers.authorization;
    const token = header?.startsWith("Bearer ")
      ? header.slice(7).trim()
      : (req.headers["x-api-key"] as string | undefined);
    const mode = req.routeOptions.config?.auth;
    if (token && ctx.adminKey && token.length === ctx.adminKey.length) {
      const { timingSafeEqual } = await import("node:crypto");
      if (timingSafeEqual(Buffer.from(token), Buffer.from(ctx.adminKey))) {
        req.isAdmin = true;
        return;
      }
    }
    if (!mode) return;
    if (token) {
      req.account = (await findAccountByKey(db, token)) ?? null;
      if (!req.account) {
        throw new ApiError(401, "INVALID_API_KEY", "the API key is unknown or revoked", {
          field: "authorization",
          hint: "create a key with `cmesh account keys create` or check CMESH_API_KEY",
        });
      }
    } else if (mode === "account") {
      throw new ApiError(401, "UNAUTHENTICATED", "this endpoint needs an API key", {
        field: "authorization",
        hint: "send `Authorization: Bearer cmk_…`",
      });
    }
  });
  const idem = idempotencyHooks(db, () => clock.now());
  app.addHook("preHandler", idem.preHandler);
  app.addHook("onSend", idem.onSend);
  app.addHook("onResponse", async (req, reply) => {
    metrics.requests.observe(
      { method: req.method, route: req.routeOptions.url ?? "unmatched", status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.get("/healthz", { schema: { hide: true } }, async () => ({ ok: true }));
  app.get("/metrics", { schema: { hide: true } }, async (_req, reply) => {
    metrics.activeRentals.set(
      Number(
        (
          await db
            .selectFrom("api_rentals")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .where("state", "=", "active")
            .executeTakeFirst()
        )?.n ?? 0,
      ),
    );
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  accountRoutes(app, ctx);
  machineRoutes(app, ctx);
  rentalRoutes(app, ctx);
  jobRoutes(app, ctx, {
    jobBodyLimit: opts.jobBodyLimitBytes ?? 16 * 1024 * 1024,
    logPollMs: opts.logPollMs ?? 250,
  });
  webhookRoutes(app, ctx);

  if (opts.web ?? true) {
    const dir = typeof opts.web === "string" ? opts.web : await ensureWebBuilt(logger);
    if (existsSync(join(dir, "index.html"))) {
      await app.register(fastifyStatic, { root: dir, prefix: "/", wildcard: false, index: ["index.html"] });
      serveSpa = true;
    } else {
      logger.warn({ dir }, "web UI directory has no index.html; serving the API only");
    }
  }
  return { app, ctx, db, owned, metrics };
}

/**
 * Starts the renter API (and the web UI) on host:port and the metering timer.
 *
 * @example
 * const api = await startApiServer({ backend: validator, db: ".cmesh/api.sqlite", port: 8080, web: true });
 * console.log(api.url); await api.close();
 */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { app, ctx, db, owned, metrics } = await buildApiApp(opts);
  const host = opts.host ?? "127.0.0.1";
  await app.listen({ host, port: opts.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const meterTick = async () => {
    metrics.meterTicks.inc();
    await ctx.rentals.tick(ctx.clock.now());
    await ctx.jobs.settleFinished();
  };
  const interval = opts.meterIntervalMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;
  if (interval > 0) {
    timer = setInterval(() => {
      if (ticking) return;
      ticking = true;
      meterTick()
        .catch((err) => ctx.logger.error({ err }, "metering pass failed"))
        .finally(() => {
          ticking = false;
        });
    }, interval);
    timer.unref();
  }
  ctx.webhooks.start(); // deliveries a previous run left in the outbox go out now
  ctx.logger.info({ url }, "renter API listening");
  return {
    url,
    app,
    db,
    rentals: ctx.rentals,
    webhooks: ctx.webhooks,
    meterTick,
    async close() {
      if (timer) clearInterval(timer);
      ctx.webhooks.stop();
      ctx.rentals.close();
      await app.close();
      await ctx.webhooks.idle();
      if (owned) await db.destroy();
    },
  };
}
