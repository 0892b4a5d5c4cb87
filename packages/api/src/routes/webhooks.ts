import { z } from "zod";
import { type ApiContext, type App, bearer, requireAccount } from "../context.ts";
import { ErrorBody, IdParams, NewWebhook, Webhook, WebhookBody } from "../schemas.ts";
import { createWebhook, deleteWebhook, listWebhooks } from "../webhooks.ts";

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody };

export function webhookRoutes(app: App, ctx: ApiContext): void {
  app.post(
    "/v1/webhooks",
    {
      config: { auth: "account" },
      schema: {
        tags: ["webhooks"],
        summary:
          "Register a webhook; deliveries carry `cmesh-signature: t=…,v1=HMAC-SHA256` (secret shown once)",
        security: bearer,
        body: WebhookBody,
        response: { 201: NewWebhook, ...errors },
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(
          await createWebhook(
            ctx.db,
            requireAccount(req).id,
            req.body.url,
            req.body.events,
            new Date(ctx.clock.now()),
          ),
        ),
  );
  app.get(
    "/v1/webhooks",
    {
      config: { auth: "account" },
      schema: {
        tags: ["webhooks"],
        summary: "Your webhooks",
        security: bearer,
        response: { 200: z.object({ webhooks: z.array(Webhook) }), ...errors },
      },
    },
    async (req) => ({ webhooks: await listWebhooks(ctx.db, requireAccount(req).id) }),
  );
  app.delete(
    "/v1/webhooks/:id",
    {
      config: { auth: "account" },
      schema: {
        tags: ["webhooks"],
        summary: "Delete a webhook",
        security: bearer,
        params: IdParams,
        response: { 200: z.object({ deleted: z.string() }), ...errors },
      },
    },
    async (req) => {
      await deleteWebhook(ctx.db, requireAccount(req).id, req.params.id, new Date(ctx.clock.now()));
      return { deleted: req.params.id };
    },
  );
}
