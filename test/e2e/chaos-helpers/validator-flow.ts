// Test support: `cmesh validator --api.port …` (validator + renter API in ONE process, as operators run it) on a
// local chain served over RPC, with miners on 127.0.0.1 from the validator harness (simulated GPU, in-memory
// rentals). The validator's wallet is real (btcli layout, coldkey encrypted with a password). Every line the
// process prints is kept for the secrets suite.
import { join } from "node:path";
import { type LocalChainServer, serveLocalChain } from "@computemesh/chain";
import { keypairFromUri, Wallet } from "@computemesh/protocol";
import { startTestMiner, TAO, type TestMiner, type TestNet, testNet } from "../validator-harness.ts";
import { type CmeshProcess, freePort, spawnCmesh, until } from "./processes.ts";

export interface ValidatorFlowSecrets {
  coldMnemonic: string;
  hotMnemonic: string;
  walletPassword: string;
  adminKey: string;
}

export class ValidatorFlow {
  net!: TestNet;
  rpc!: LocalChainServer;
  miners: TestMiner[] = [];
  proc?: CmeshProcess;
  apiPort = 0;
  args: string[] = [];
  readonly allLogs: string[] = [];
  secrets!: ValidatorFlowSecrets;
  private ticker: NodeJS.Timeout | null = null;
  private countersignHold: { reached: () => void; released: Promise<void> } | null = null;

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  async open(tag: string, minerCount = 2): Promise<this> {
    this.net = await testNet();
    this.rpc = await serveLocalChain(this.net.chain, { host: "127.0.0.1", port: 0 });
    const walletPath = join(this.net.dir, "wallets");
    const walletPassword = `pw-${tag}-Secr3t!${process.pid}`;
    const w = new Wallet({ name: "validator", hotkey: "default", path: walletPath });
    const cold = await w.createColdkey({ password: walletPassword });
    const hot = await w.createHotkey({ password: null });
    this.secrets = {
      coldMnemonic: cold.mnemonic,
      hotMnemonic: hot.mnemonic,
      walletPassword,
      adminKey: `admin-${tag}-${process.pid}-ZXCVBNM0987654321`,
    };
    const coldPair = keypairFromUri(cold.mnemonic);
    await this.net.chain.faucet(coldPair.address, 2000n * TAO);
    const client = this.net.chain.client();
    await client.burnedRegister(this.net.netuid, hot.address, coldPair);
    await client.addStake(this.net.netuid, hot.address, 1000n * TAO, coldPair);
    const models = ["NVIDIA GeForce RTX 4090", "NVIDIA H100 80GB HBM3"];
    for (let i = 0; i < minerCount; i++) {
      this.miners.push(
        await startTestMiner(this.net, `${tag}-m${i}`, {
          model: models[i % models.length],
          count: 1,
          blacklist: (_caller, synapse) => this.holdCountersign(synapse),
        }),
      );
    }
    await this.net.chain.advanceBlocks(11);
    this.apiPort = await freePort();
    this.args = [
      "validator",
      "--wallet.path",
      walletPath,
      "--wallet.name",
      "validator",
      "--wallet.hotkey",
      "default",
      "--chain",
      this.rpc.url,
      "--netuid",
      String(this.net.netuid),
      "--db",
      join(this.net.dir, "validator.sqlite"),
      "--epoch-blocks",
      "2",
      "--pog.simulate",
      "--pog.initial-delay",
      "0",
      "--pog.mean-interval",
      "3600",
      "--health.interval-ms",
      "300",
      "--specs.timeout-ms",
      "2000",
      "--metrics.port",
      "0",
      "--api.port",
      String(this.apiPort),
      "--api.admin-key",
      this.secrets.adminKey,
      "--no-jobs",
      "--log-level",
      "debug",
    ];
    // Blocks keep coming, as on a live chain.
    this.ticker = setInterval(() => void this.net.chain.advanceBlocks(1).catch(() => undefined), 250);
    return this;
  }

  /**
   * Holds the next CountersignReceipt any miner receives until `release()`. The validator asks for it right after
   * it stored an allocation and its receipt, so `reached` marks the moment between the validator's record and the
   * API's.
   */
  holdNextCountersign(): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((r) => {
      reached = r;
    });
    const released = new Promise<void>((r) => {
      release = r;
    });
    this.countersignHold = { reached, released };
    return { reached: reachedP, release };
  }

  private async holdCountersign(synapse: string): Promise<null> {
    const hold = this.countersignHold;
    if (synapse !== "CountersignReceipt" || !hold) return null;
    this.countersignHold = null;
    hold.reached();
    await hold.released;
    return null;
  }

  async start(): Promise<CmeshProcess> {
    this.proc = await spawnCmesh(this.args, "validator ready", {
      allLogs: this.allLogs,
      env: { CMESH_WALLET_PASSWORD: this.secrets.walletPassword },
    });
    return this.proc;
  }

  async call(
    method: string,
    path: string,
    opts: { key?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = {};
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(this.apiUrl + path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body };
  }

  async machinesVerified(n: number): Promise<void> {
    await until(
      `${n} verified machines`,
      async () => {
        const r = await this.call("GET", "/v1/machines");
        return r.status === 200 && r.body.machines.filter((m: { verified: boolean }) => m.verified).length >= n;
      },
      60_000,
      200,
    );
  }

  async close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    await this.proc?.stop().catch(() => undefined);
    for (const m of this.miners) await m.stop();
    await this.rpc?.close();
    await this.net?.cleanup();
  }
}
