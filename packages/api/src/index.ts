export * from "./accounts.ts";
export * from "./backend.ts";
export * from "./clock.ts";
export { type ApiDb, migrateApiDb, openApiDb } from "./db/open.ts";
export * from "./errors.ts";
export * from "./money.ts";
export { applyQuery, withDefaults } from "./query/apply.ts";
export { FIELDS } from "./query/fields.ts";
export * from "./query/parse.ts";
export { type ApiServer, type ApiServerOptions, buildApiApp, startApiServer } from "./server.ts";
export {
  SIGNATURE_HEADER,
  signWebhook,
  verifyWebhook,
  WEBHOOK_EVENTS,
  type WebhookEvent,
} from "./webhooks.ts";
