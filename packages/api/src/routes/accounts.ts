import { z } from "zod";
import {
  balanceMicro,
  createAccount,
  createApiKey,
  deposit,
  ledger,
  listApiKeys,
  revokeApiKey,
} from "../accounts.ts";
import { type ApiContext, type App, bearer, requireAccount } from "../context.ts";
import { ApiError } from "../errors.ts";
import { creditsToMicro, microToCredits } from "../money.ts";
import {
  Account,
  AccountSignupBody,
  CreateKeyBody,
  DepositBody,
  ErrorBody,
  IdParams,
  KeyInfo,
  LedgerEntry,
  LedgerQuery,
  NewKey,
} from "../schemas.ts";

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  422: ErrorBody,
};

export function accountRoutes(app: App, ctx: ApiContext): void {
  app.post(
    "/v1/accounts",
    {
      config: { auth: "optional" },
      schema: {
        tags: ["accounts"],
        summary: "Create an account and its first API key (the key is shown once)",
        body: AccountSignupBody,
        response: { 201: NewKey, ...errors },
      },
    },
    async (req, reply) => {
      if (!ctx.openSignup && !req.isAdmin) {
        throw new ApiError(403, "SIGNUP_CLOSED", "accounts are created by the operator here", {
          hint: "ask the operator, or send the admin key",
        });
      }
      if (req.body.initialCredits && !req.isAdmin && !ctx.selfDeposit) {
        throw new ApiError(403, "ADMIN_ONLY", "only the admin key can give an opening balance", {
          field: "initialCredits",
        });
      }
      const created = await createAccount(ctx.db, {
        name: req.body.name,
        initialCredits: req.body.initialCredits,
        now: new Date(ctx.clock.now()),
      });
      return reply
        .code(201)
        .send({ apiKey: created.apiKey, keyId: created.keyId, accountId: created.account.id });
    },
  );

  app.get(
    "/v1/account",
    {
      config: { auth: "account" },
      schema: {
        tags: ["accounts"],
        summary: "Your account and balance",
        security: bearer,
        response: { 200: Account, ...errors },
      },
    },
    async (req) => {
      const acc = requireAccount(req);
      const bal = await balanceMicro(ctx.db, acc.id);
      const notice = await ctx.rentals.lowBalanceNotice(acc.id);
      return {
        id: acc.id,
        name: acc.name,
        createdAt: acc.createdAt,
        balanceMicro: bal,
        balanceCredits: microToCredits(bal),
        lowBalance: notice.low,
        secondsLeft: notice.secondsLeft,
      };
    },
  );

  app.get(
    "/v1/account/ledger",
    {
      config: { auth: "account" },
      schema: {
        tags: ["accounts"],
        summary: "Ledger rows, newest first (the balance is their sum)",
        security: bearer,
        querystring: LedgerQuery,
        response: { 200: z.object({ entries: z.array(LedgerEntry) }), ...errors },
      },
    },
    async (req) => ({ entries: await ledger(ctx.db, requireAccount(req).id, req.query.limit) }),
  );

  app.post(
    "/v1/account/deposits",
    {
      config: { auth: "account" },
      schema: {
        tags: ["accounts"],
        summary: "Add credits (local network only, or with the admin key)",
        security: bearer,
        body: DepositBody,
        response: { 201: z.object({ ledgerId: z.string(), balanceMicro: z.number().int() }), ...errors },
      },
    },
    async (req, reply) => {
      const acc = requireAccount(req);
      if (!ctx.selfDeposit && !req.isAdmin) {
        throw new ApiError(403, "DEPOSITS_DISABLED", "deposits are only open on a local network", {
          hint: "on a local network start the API with selfDeposit: true",
        });
      }
      const id = await deposit(
        ctx.db,
        acc.id,
        creditsToMicro(req.body.credits),
        "deposit",
        new Date(ctx.clock.now()),
      );
      return reply.code(201).send({ ledgerId: id, balanceMicro: await balanceMicro(ctx.db, acc.id) });
    },
  );

  app.get(
    "/v1/account/keys",
    {
      config: { auth: "account" },
      schema: {
        tags: ["accounts"],
        summary: "Your API keys (never the keys themselves)",
        security: bearer,
        response: { 200: z.object({ keys: z.array(KeyInfo) }), ...errors },
      },
    },
    async (req) => ({ keys: await listApiKeys(ctx.db, requireAccount(req).id) }),
  );

  app.post(
    "/v1/account/keys",
    {
      config: { auth: "account" },
      schema: {
        tags: ["accounts"],
        summary: "Create another API key (shown once)",
        security: bearer,
        body: CreateKeyBody,
        response: { 201: NewKey, ...errors },
      },
    },
    async (req, reply) => {
      const acc = requireAccount(req);
      const { key, info } = await createApiKey(ctx.db, acc.id, req.body.label, new Date(ctx.clock.now()));
      return reply.code(201).send({ apiKey: key, keyId: info.id, accountId: acc.id });
    },
  );

  app.delete(
    "/v1/account/keys/:id",
    {
      config: { auth: "account" },
      schema: {
        tags: ["accounts"],
        summary: "Revoke an API key",
        security: bearer,
        params: IdParams,
        response: { 200: KeyInfo, ...errors },
      },
    },
    async (req) => revokeApiKey(ctx.db, requireAccount(req).id, req.params.id, new Date(ctx.clock.now())),
  );
}
