// Secrets never appear in logs or error messages. A whole flow runs with DEBUG logging: `cmesh validator
// --api.port` (validator + renter API, wallet with a password-encrypted coldkey, admin key) and, with Docker, a
// `cmesh miner` process that allocates and deallocates a real container. The renter signs up, creates keys and a
// webhook, rents, releases, and makes mistakes with wrong keys; a coldkey is decrypted with a wrong password; a
// wallet is regenerated through the CLI. Every line those processes printed and every error body the API sent is
// then searched for every secret of the flow: mnemonics (whole and any 4 consecutive words), private keys and
// seeds from the keyfiles (hex, with and without 0x), the wallet password, the admin key, API keys and webhook
// secrets.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Deallocate, Wallet } from "@computemesh/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleSshPublicKey } from "../../packages/api/src/testing/harness.ts";
import { dockerUnavailableReason } from "../../packages/miner/src/testing/docker-gate.ts";
import { makeKeyPair } from "../../packages/miner/src/testing/openssh.ts";
import { MinerNet } from "./chaos-helpers/miner-net.ts";
import { ROOT } from "./chaos-helpers/processes.ts";
import { ValidatorFlow } from "./chaos-helpers/validator-flow.ts";

const dockerReason = await dockerUnavailableReason();
if (dockerReason && process.env.CMESH_REQUIRE_DOCKER === "1") throw new Error(`Docker required: ${dockerReason}`);
if (dockerReason) console.warn(`secrets-logs: SKIPPING the miner-process part: ${dockerReason}`);

/** Every secret-bearing string in a btcli keyfile (JSON with secretPhrase / secretSeed / privateKey). */
function keyfileSecrets(path: string): string[] {
  const data = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
  const out: string[] = [];
  for (const k of ["secretPhrase", "secretSeed", "privateKey"]) {
    const v = data[k];
    if (!v) continue;
    out.push(v);
    if (v.startsWith("0x")) out.push(v.slice(2));
  }
  return out;
}

function mnemonicVariants(m: string): string[] {
  const w = m.split(" ");
  const out = [m];
  for (let i = 0; i + 4 <= w.length; i++) out.push(w.slice(i, i + 4).join(" "));
  return out;
}

describe("secrets stay out of logs and error messages", () => {
  const flow = new ValidatorFlow();
  const mn = new MinerNet();
  const secrets: { what: string; value: string }[] = [];
  const errorBodies: string[] = [];
  const cliOutput: string[] = [];

  beforeAll(async () => {
    await flow.open("sec");
    await flow.start();
    const s = flow.secrets;
    for (const v of mnemonicVariants(s.coldMnemonic)) secrets.push({ what: "validator coldkey mnemonic", value: v });
    for (const v of mnemonicVariants(s.hotMnemonic)) secrets.push({ what: "validator hotkey mnemonic", value: v });
    secrets.push({ what: "wallet password", value: s.walletPassword });
    secrets.push({ what: "admin key", value: s.adminKey });
    const hotkeyFile = join(flow.net.dir, "wallets", "validator", "hotkeys", "default");
    for (const v of keyfileSecrets(hotkeyFile)) secrets.push({ what: "validator hotkey private key", value: v });
  }, 120_000);
  afterAll(async () => {
    await flow.close();
    if (!dockerReason) await mn.close();
  }, 120_000);

  it("runs a renter flow with mistakes through the API", async () => {
    await flow.machinesVerified(1);
    const call = async (method: string, path: string, opts: { key?: string; body?: unknown } = {}) => {
      const r = await flow.call(method, path, opts);
      if (r.status >= 400) errorBodies.push(JSON.stringify(r.body));
      return r;
    };
    const acc = await call("POST", "/v1/accounts", {
      key: flow.secrets.adminKey,
      body: { name: "renter", initialCredits: 20 },
    });
    expect(acc.status).toBe(201);
    const apiKey = acc.body.apiKey as string;
    secrets.push({ what: "renter API key", value: apiKey });
    const extra = await call("POST", "/v1/account/keys", { key: apiKey, body: { label: "ci" } });
    secrets.push({ what: "second API key", value: extra.body.apiKey });
    const hook = await call("POST", "/v1/webhooks", { key: apiKey, body: { url: "http://127.0.0.1:9/hook" } });
    secrets.push({ what: "webhook secret", value: hook.body.secret });

    // Mistakes that carry secrets-looking values: a revoked key, a near-miss key, a wrong admin key.
    const nearMiss = `${apiKey.slice(0, -4)}ZZZZ`;
    secrets.push({ what: "near-miss API key sent by the renter", value: nearMiss });
    expect((await call("GET", "/v1/account", { key: nearMiss })).status).toBe(401);
    const wrongAdmin = `${flow.secrets.adminKey.slice(0, -3)}xyz`;
    secrets.push({ what: "wrong admin key", value: wrongAdmin });
    expect([401, 403]).toContain(
      (await call("POST", "/v1/accounts", { key: wrongAdmin, body: { name: "x", initialCredits: 5 } })).status,
    );
    await call("DELETE", `/v1/account/keys/${extra.body.keyId}`, { key: apiKey });
    expect((await call("GET", "/v1/account", { key: extra.body.apiKey })).status).toBe(401);

    const m = (await call("GET", "/v1/machines")).body.machines.find((x: { verified: boolean }) => x.verified);
    const rent = await call("POST", "/v1/rentals", {
      key: apiKey,
      body: { minerHotkey: m.minerHotkey, sshPublicKey: sampleSshPublicKey(), durationSec: 600 },
    });
    expect(rent.status).toBe(201);
    expect((await call("POST", `/v1/rentals/${rent.body.id}/release`, { key: apiKey, body: {} })).status).toBe(
      200,
    );
    // A malformed body and an unknown route with a key in the path.
    await call("POST", "/v1/rentals", { key: apiKey, body: { sshPublicKey: flow.secrets.adminKey } });
    expect(errorBodies.length).toBeGreaterThanOrEqual(4);
  }, 90_000);

  it("a coldkey decrypted with a wrong password fails without echoing either password", async () => {
    const w = new Wallet({ name: "validator", hotkey: "default", path: join(flow.net.dir, "wallets") });
    const wrong = `${flow.secrets.walletPassword}-typo`;
    secrets.push({ what: "mistyped wallet password", value: wrong });
    const err = await w.loadColdkey(wrong).then(
      () => null,
      (e: Error & { hint?: string }) => e,
    );
    expect(err).not.toBeNull();
    errorBodies.push(`${err?.message} ${err?.hint ?? ""} ${String(err?.stack)}`);
  });

  it("the CLI regenerates a wallet from a mnemonic without printing it back", () => {
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, "bin", "cmesh.js"),
        "wallet",
        "regen-coldkey",
        "--wallet.path",
        join(flow.net.dir, "wallets-cli"),
        "--wallet.name",
        "copy",
        "--mnemonic",
        flow.secrets.coldMnemonic,
        "--no-password",
      ],
      { cwd: ROOT, encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    cliOutput.push(r.stdout, r.stderr);
  }, 60_000);

  it.skipIf(!!dockerReason)("a cmesh miner process allocating a real container logs no key material", async () => {
    await mn.open("sec");
    const slot = await mn.addMiner(42660, ["--no-jobs", "--log-level", "debug"]);
    const minerHotkeyFile = join(mn.net.walletPath, slot.wallet.name, "hotkeys", slot.wallet.hotkey);
    for (const v of keyfileSecrets(minerHotkeyFile)) secrets.push({ what: "miner hotkey private key", value: v });
    await mn.start(slot);
    const renter = await makeKeyPair();
    const a = await mn.allocate(slot, renter.publicLine);
    const d = await mn.dendrite.query(slot.target, Deallocate, { allocation_id: a.allocation_id });
    expect(d.ok).toBe(true);
    await slot.proc!.stop();
  }, 120_000);

  it("no secret appears anywhere", async () => {
    await flow.proc!.stop();
    const corpora = [
      { name: "validator+API process output", text: flow.allLogs.join("\n") },
      { name: "miner process output", text: mn.allLogs.join("\n") },
      { name: "API error bodies and thrown errors", text: errorBodies.join("\n") },
      { name: "CLI output", text: cliOutput.join("\n") },
    ];
    // The flow really logged (debug level): an empty corpus would prove nothing.
    expect(flow.allLogs.length).toBeGreaterThan(20);
    // Control: the same search finds what IS logged (the validator's public hotkey address).
    const hotkeyFile = join(flow.net.dir, "wallets", "validator", "hotkeys", "default");
    const address = (JSON.parse(readFileSync(hotkeyFile, "utf8")) as { ss58Address: string }).ss58Address;
    expect(corpora[0].text.includes(address)).toBe(true);
    if (!dockerReason) expect(mn.allLogs.length).toBeGreaterThan(5);
    const leaks: string[] = [];
    for (const c of corpora)
      for (const s of secrets) {
        if (s.value && s.value.length >= 8 && c.text.includes(s.value)) leaks.push(`${s.what} in ${c.name}`);
      }
    expect(leaks).toEqual([]);
    console.log(
      `secrets-logs: ${secrets.length} secret strings searched in ${corpora.map((c) => `${c.name}: ${c.text.split("\n").length} lines`).join(", ")}`,
    );
  }, 60_000);
});
