import type { paths } from "@computemesh/api/client";
import createClient from "openapi-fetch";
import { useSyncExternalStore } from "react";

const KEY_STORAGE = "cmesh.apiKey";
const listeners = new Set<() => void>();

export function getApiKey(): string {
  return localStorage.getItem(KEY_STORAGE) ?? "";
}
export function setApiKey(key: string): void {
  if (key) localStorage.setItem(KEY_STORAGE, key.trim());
  else localStorage.removeItem(KEY_STORAGE);
  for (const l of listeners) l();
}
export function useApiKey(): string {
  return useSyncExternalStore((cb) => {
    listeners.add(cb);
    return () => listeners.delete(cb);
  }, getApiKey);
}

/** An error from the API, in words: what went wrong, which field, and what to do. */
export class ApiProblem extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
    readonly hint?: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use({
  onRequest({ request }) {
    const key = getApiKey();
    if (key) request.headers.set("authorization", `Bearer ${key}`);
    return request;
  },
});

interface ErrorShape {
  error?: { code?: string; message?: string; hint?: string; field?: string };
}

/** Returns the data or throws an ApiProblem with the server's own words. */
export function unwrap<T>(res: { data?: T; error?: unknown; response: Response }): T {
  if (res.error !== undefined || res.data === undefined) {
    const e = (res.error ?? {}) as ErrorShape;
    throw new ApiProblem(
      e.error?.message ?? `the API answered ${res.response.status} ${res.response.statusText}`,
      e.error?.code ?? `HTTP_${res.response.status}`,
      res.response.status,
      e.error?.hint,
      e.error?.field,
    );
  }
  return res.data;
}

export function idem(): { "idempotency-key": string } {
  return { "idempotency-key": crypto.randomUUID() };
}

export function credits(micro: number): string {
  return `${(micro / 1_000_000).toFixed(4)} cr`;
}

export function ago(iso: string | null | undefined): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function shortKey(hotkey: string): string {
  return hotkey.length > 14 ? `${hotkey.slice(0, 6)}…${hotkey.slice(-6)}` : hotkey;
}
