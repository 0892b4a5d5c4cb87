import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createApiClient, unwrap } from "../../packages/api/src/client/index.ts";
import { openApiDocument } from "../../packages/api/src/client/generate.ts";
import { type Harness, sampleSshPublicKey, startHarness } from "../../packages/api/src/testing/harness.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("accounts and API keys", () => {
  it("signup, keys shown once and stored hashed, revoke, deposits only where allowed", async () => {
    h = await startHarness({ selfDeposit: false });
    const signup = await h.call("POST", "/v1/accounts", { body: { name: "dave" } });
    expect(signup.status).toBe(201);
    const key1: string = signup.body.apiKey;
    expect(key1).toMatch(/^cmk_/);
    const stored = await h.api.db.selectFrom("api_keys").select(["key_hash", "prefix"]).execute();
    expect(stored.some((r) => r.key_hash === key1 || r.key_hash.includes(key1))).toBe(false);
    expect(stored.every((r) => /^[0-9a-f]{64}$/.test(r.key_hash))).toBe(true);

    const funded = await h.call("POST", "/v1/accounts", { body: { name: "eve", initialCredits: 1000 } });
    expect(funded.status).toBe(403);
    expect(funded.body.error.field).toBe("initialCredits");
    const dep = await h.call("POST", "/v1/account/deposits", { key: key1, body: { credits: 5 } });
    expect(dep.status).toBe(403);
    expect(dep.body.error.code).toBe("DEPOSITS_DISABLED");

    const second = await h.call("POST", "/v1/account/keys", { key: key1, body: { label: "ci" } });
    expect(second.status).toBe(201);
    const list = await h.call("GET", "/v1/account/keys", { key: key1 });
    expect(list.body.keys.map((k: { label: string }) => k.label)).toEqual(["default", "ci"]);
    expect(JSON.stringify(list.body)).not.toContain(second.body.apiKey);
    const revoke = await h.call("DELETE", `/v1/account/keys/${second.body.keyId}`, { key: key1 });
    expect(revoke.body.revokedAt).not.toBeNull();
    const refused = await h.call("GET", "/v1/account", { key: second.body.apiKey });
    expect(refused.status).toBe(401);
  });

  it("the admin key creates funded accounts; self-deposit works on a local network", async () => {
    h = await startHarness({ adminKey: "admin-secret-for-tests", selfDeposit: true });
    const funded = await h.call("POST", "/v1/accounts", {
      key: "admin-secret-for-tests",
      body: { name: "eve", initialCredits: 12.5 },
    });
    expect(funded.status).toBe(201);
    const acc = await h.call("GET", "/v1/account", { key: funded.body.apiKey });
    expect(acc.body.balanceMicro).toBe(12_500_000);
    const dep = await h.call("POST", "/v1/account/deposits", {
      key: funded.body.apiKey,
      body: { credits: 0.25 },
    });
    expect(dep.body.balanceMicro).toBe(12_750_000);
  });

  it("rate limits per key with 429 in words", async () => {
    h = await startHarness({ rateLimit: { max: 3, timeWindowMs: 60_000 } });
    const statuses: number[] = [];
    let last: { body: { error: { code: string } } } | undefined;
    for (let i = 0; i < 5; i++) {
      const r = await h.call("GET", "/v1/account", { key: h.alice });
      statuses.push(r.status);
      last = r;
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(last?.body.error.code).toBe("RATE_LIMITED");
    expect((await h.call("GET", "/v1/account", { key: h.bob })).status).toBe(200);
  });
});

describe("OpenAPI document and typed client", () => {
  it("the committed openapi.json is the document the server serves (regenerate with gen:client)", async () => {
    const committed = JSON.parse(
      readFileSync(new URL("../../packages/api/src/client/openapi.json", import.meta.url), "utf8"),
    );
    expect(await openApiDocument()).toEqual(committed);
  });

  it("the generated client searches, rents and releases", async () => {
    h = await startHarness();
    const api = createApiClient({ baseUrl: h.api.url, apiKey: h.alice });
    const hits = unwrap(await api.GET("/v1/machines", { params: { query: { q: "count>=2", limit: 2 } } }));
    expect(hits.machines.length).toBe(2);
    const rental = unwrap(
      await api.POST("/v1/rentals", {
        body: {
          minerHotkey: hits.machines[0].minerHotkey,
          sshPublicKey: sampleSshPublicKey(),
          durationSec: 600,
        },
      }),
    );
    expect(rental.state).toBe("active");
    const released = unwrap(
      await api.POST("/v1/rentals/{id}/release", { params: { path: { id: rental.id } }, body: {} }),
    );
    expect(released.state).toBe("released");
    await expect(
      (async () => unwrap(await api.GET("/v1/machines", { params: { query: { q: "colour=red" } } })))(),
    ).rejects.toThrow(/unknown field "colour"/);
  });

  it("serves /docs, /openapi.json and /metrics", async () => {
    h = await startHarness();
    expect((await fetch(`${h.api.url}/docs/`)).status).toBe(200);
    const metrics = await (await fetch(`${h.api.url}/metrics`)).text();
    expect(metrics).toContain("cmesh_api_rentals_active");
  });
});
