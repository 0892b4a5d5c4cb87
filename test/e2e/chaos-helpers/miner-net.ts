// Test support: `cmesh miner` processes on one local chain (served over RPC), each with its own btcli-layout
// wallet, axon port and ssh port range, plus allocation through a staked validator's dendrite and cleanup of
// every container/volume a miner labelled.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalChainServer, serveLocalChain } from "@computemesh/chain";
import { LABEL_MINER } from "@computemesh/miner";
import { Allocate, type AllocationInfo, type AxonTarget, Dendrite, Wallet } from "@computemesh/protocol";
import Docker from "dockerode";
import { type MinerTestNet, minerTestNet } from "../../../packages/miner/src/testing/localnet.ts";
import { type CmeshProcess, freePort, spawnCmesh } from "./processes.ts";

const TAO = 1_000_000_000n;
export const MiB = 1024 * 1024;

export interface MinerSlot {
  wallet: { name: string; hotkey: string };
  hotkey: string;
  axonPort: number;
  dataDir: string;
  sshRange: string;
  target: AxonTarget;
  args: string[];
  proc?: CmeshProcess;
}

export class MinerNet {
  readonly docker: Docker;
  readonly dir = mkdtempSync(join(tmpdir(), "cmesh-chaos-"));
  net!: MinerTestNet;
  rpc!: LocalChainServer;
  dendrite!: Dendrite;
  readonly slots: MinerSlot[] = [];
  /** Every line every miner process printed (for the secrets suite). */
  readonly allLogs: string[] = [];

  /** `dockerSocket`: the daemon the miners use (each miner gets `--docker.socket` with it). */
  constructor(readonly dockerSocket = "/var/run/docker.sock") {
    this.docker = new Docker({ socketPath: dockerSocket });
  }

  async open(tag: string): Promise<this> {
    this.net = await minerTestNet(this.dir, `${tag}${process.pid}`);
    this.rpc = await serveLocalChain(this.net.chain, { host: "127.0.0.1", port: 0 });
    this.dendrite = new Dendrite({ hotkey: this.net.validator });
    return this;
  }

  /** A miner slot; the first uses the wallet minerTestNet made, later ones get a new funded wallet. */
  async addMiner(sshFrom: number, extra: string[] = []): Promise<MinerSlot> {
    let wallet = this.net.minerWallet;
    let hotkey = this.net.minerHotkeyAddress;
    if (this.slots.length > 0) {
      wallet = { name: `miner${this.slots.length}`, hotkey: "default" };
      const w = new Wallet({ ...wallet, path: this.net.walletPath });
      const cold = await w.createColdkey({ password: null });
      await w.createHotkey({ password: null });
      await this.net.chain.faucet(cold.address, 100n * TAO);
      hotkey = await w.hotkeyAddress();
    }
    const axonPort = await freePort();
    const dataDir = join(this.dir, `data-${this.slots.length}`);
    const sshRange = `${sshFrom}-${sshFrom + 9}`;
    const args = [
      "miner",
      "--wallet.path",
      this.net.walletPath,
      "--wallet.name",
      wallet.name,
      "--wallet.hotkey",
      wallet.hotkey,
      "--chain",
      this.rpc.url,
      "--netuid",
      String(this.net.netuid),
      "--axon.host",
      "127.0.0.1",
      "--axon.port",
      String(axonPort),
      "--data-dir",
      dataDir,
      "--ssh.host",
      "127.0.0.1",
      "--ssh.port-range",
      sshRange,
      "--metrics.port",
      "0",
      "--miner.min-validator-stake",
      "1000",
      "--docker.socket",
      this.dockerSocket,
      ...extra,
    ];
    const slot: MinerSlot = {
      wallet,
      hotkey,
      axonPort,
      dataDir,
      sshRange,
      target: { ip: "127.0.0.1", port: axonPort, hotkey },
      args,
    };
    this.slots.push(slot);
    return slot;
  }

  async start(slot: MinerSlot, env?: Record<string, string>): Promise<CmeshProcess> {
    slot.proc = await spawnCmesh(slot.args, "miner ready", { allLogs: this.allLogs, env });
    return slot.proc;
  }

  async allocate(slot: MinerSlot, sshPublicKey: string, ramMiB = 96): Promise<AllocationInfo> {
    const res = await this.dendrite.query(slot.target, Allocate, {
      resources: {
        cpu: { count: 1 },
        gpu: { count: 0 },
        hard_disk: { capacity: 64 * MiB },
        ram: { capacity: ramMiB * MiB },
      },
      ssh_public_key: sshPublicKey,
      image: "",
      duration_sec: 600,
    });
    if (!res.ok) throw new Error(`Allocate failed: ${res.status} ${res.message}\n${slot.proc?.logs.join("\n")}`);
    return res.response.allocation;
  }

  /** Containers any of these miners labelled (running or not). */
  async containers(slot?: MinerSlot) {
    const hotkeys = slot ? [slot.hotkey] : this.slots.map((s) => s.hotkey);
    const all = [];
    for (const h of hotkeys) {
      all.push(
        ...(await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_MINER}=${h}`] } })),
      );
    }
    return all;
  }

  async close(): Promise<void> {
    for (const s of this.slots) await s.proc?.stop().catch(() => undefined);
    for (const s of this.slots) {
      const filters = { label: [`${LABEL_MINER}=${s.hotkey}`] };
      for (const c of await this.docker.listContainers({ all: true, filters }))
        await this.docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined);
      const { Volumes } = await this.docker.listVolumes({ filters });
      for (const v of Volumes ?? [])
        await this.docker
          .getVolume(v.Name)
          .remove()
          .catch(() => undefined);
    }
    await this.rpc?.close();
    await this.net?.chain.close();
  }
}
