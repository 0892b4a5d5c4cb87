import { CmeshError } from "@computemesh/core";
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.d.ts";

export type { components, paths };
export type ApiClient = Client<paths>;
export type MachineDto = components["schemas"]["Machine"];
export type RentalDto = components["schemas"]["Rental"];
export type JobDto = components["schemas"]["Job"];

/**
 * The typed renter API client, its types generated from the server's OpenAPI document
 * (`node --import tsx packages/api/src/client/generate.ts`).
 *
 * @example
 * const api = createApiClient({ baseUrl: "http://127.0.0.1:8080", apiKey: process.env.CMESH_API_KEY });
 * const hits = unwrap(await api.GET("/v1/machines", { params: { query: { q: "gpu=H100 count>=2" } } }));
 */
export function createApiClient(opts: { baseUrl: string; apiKey?: string; fetch?: typeof fetch }): ApiClient {
  const headers: Record<string, string> = {};
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  return createClient<paths>({ baseUrl: opts.baseUrl.replace(/\/+$/, ""), headers, fetch: opts.fetch });
}

interface ErrorShape {
  error?: { code?: string; message?: string; hint?: string; field?: string };
}

/** Returns `data`, or throws a CmeshError carrying the API's code, message, hint and HTTP status. */
export function unwrap<T>(res: { data?: T; error?: unknown; response: Response }): T {
  if (res.error !== undefined || res.data === undefined) {
    const e = (res.error ?? {}) as ErrorShape;
    throw new CmeshError(
      e.error?.code ?? `HTTP_${res.response.status}`,
      e.error?.message ?? `the API answered ${res.response.status} ${res.response.statusText}`,
      { hint: e.error?.hint, details: { status: res.response.status, field: e.error?.field } },
    );
  }
  return res.data;
}

/** A fresh Idempotency-Key header, so a retried POST cannot rent or submit twice. */
export function idempotencyHeader(): { "idempotency-key": string } {
  return { "idempotency-key": crypto.randomUUID() };
}
