import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { FastifyBaseLogger } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Logger } from "pino";
import type { AccountRow } from "./accounts.ts";
import type { MarketBackend } from "./backend.ts";
import type { Clock } from "./clock.ts";
import type { ApiDb } from "./db/open.ts";
import { ApiError } from "./errors.ts";
import type { JobService } from "./jobs.ts";
import type { RentalService } from "./rentals.ts";
import type { WebhookDispatcher } from "./webhooks.ts";

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface ApiContext {
  db: ApiDb;
  backend: MarketBackend;
  clock: Clock;
  rentals: RentalService;
  jobs: JobService;
  webhooks: WebhookDispatcher;
  logger: Logger;
  adminKey?: string;
  selfDeposit: boolean;
  openSignup: boolean;
}

declare module "fastify" {
  interface FastifyRequest {
    account: AccountRow | null;
    isAdmin: boolean;
  }
  interface FastifyContextConfig {
    /** "account": needs a renter API key; "optional": key used when given; absent: public. */
    auth?: "account" | "optional";
  }
}

export function requireAccount(req: FastifyRequest): AccountRow {
  if (!req.account) {
    throw new ApiError(401, "UNAUTHENTICATED", "this endpoint needs an API key", {
      field: "authorization",
      hint: "send `Authorization: Bearer cmk_…` (create one with `cmesh account create`)",
    });
  }
  return req.account;
}

export type Reply = FastifyReply;
export const bearer = [{ apiKey: [] as string[] }];
