import { CmeshError } from "@computemesh/core";
import { ApiPromise, WsProvider } from "@polkadot/api";
import type { SubmittableExtrinsic } from "@polkadot/api/types";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { ISubmittableResult } from "@polkadot/types/types";
import { chainError } from "../errors.ts";
import type { ChainClient, Metagraph, SubnetHyperparams, TxResult } from "../types.ts";
import { type SubtensorTxSection, subtensorCalls } from "./calls.ts";
import {
  chainErrorFromDispatch,
  chainErrorFromPool,
  hyperparamsFromRuntime,
  metagraphFromRuntime,
  type RuntimeHyperparams,
  type RuntimeMetagraph,
} from "./convert.ts";
import { FINNEY_GENESIS, SUBTENSOR_ENDPOINTS, SUBTENSOR_SIGNED_EXTENSIONS } from "./extensions.ts";

const CONNECT_TIMEOUT_MS = 15_000;
const TX_TIMEOUT_MS = 120_000;

type Extrinsic = SubmittableExtrinsic<"promise">;

/** Resolves `finney`, `test`, `wss://…` and `subtensor+ws://…` to a WebSocket URL. */
export function subtensorUrl(endpoint: string): string {
  if (SUBTENSOR_ENDPOINTS[endpoint]) return SUBTENSOR_ENDPOINTS[endpoint];
  if (endpoint.startsWith("subtensor+ws://")) return endpoint.slice("subtensor+".length);
  if (endpoint.startsWith("wss://")) return endpoint;
  throw new CmeshError("CHAIN_ENDPOINT_INVALID", `not a subtensor endpoint: ${endpoint}`, {
    hint: "finney, test, wss://HOST[:PORT] or subtensor+ws://HOST:PORT",
  });
}

/** ChainClient on a real subtensor node through @polkadot/api. */
export class SubtensorClient implements ChainClient {
  private readonly calls;

  constructor(
    readonly api: ApiPromise,
    readonly endpoint: string,
  ) {
    this.calls = subtensorCalls(api.tx.subtensorModule as unknown as SubtensorTxSection<Extrinsic>);
  }

  async getBlock(): Promise<number> {
    return (await this.api.rpc.chain.getHeader()).number.toNumber();
  }

  async subscribeBlocks(onBlock: (block: number) => void): Promise<() => void> {
    return this.api.rpc.chain.subscribeNewHeads((h) => onBlock(h.number.toNumber()));
  }

  async getMetagraph(netuid: number): Promise<Metagraph> {
    const res = await this.api.call.subnetInfoRuntimeApi.getMetagraph(netuid);
    const opt = res as unknown as { isNone: boolean; unwrap(): { toJSON(): unknown } };
    if (opt.isNone)
      throw chainError("SubNetworkDoesNotExist", `subnet ${netuid} does not exist on ${this.endpoint}`);
    return metagraphFromRuntime(opt.unwrap().toJSON() as unknown as RuntimeMetagraph);
  }

  async getHyperparams(netuid: number): Promise<SubnetHyperparams> {
    const res = (await this.api.call.subnetInfoRuntimeApi.getSubnetHyperparamsV2(netuid)) as unknown as {
      isNone: boolean;
      unwrap(): { toJSON(): unknown };
    };
    if (res.isNone)
      throw chainError("SubNetworkDoesNotExist", `subnet ${netuid} does not exist on ${this.endpoint}`);
    const q = this.api.query.subtensorModule;
    const [burn, bondsPenalty, stakeThreshold, maxAllowedUids] = await Promise.all([
      q.burn(netuid),
      q.bondsPenalty(netuid),
      q.stakeThreshold(),
      q.maxAllowedUids(netuid),
    ]);
    const toBig = (c: unknown) => BigInt((c as { toString(): string }).toString());
    return hyperparamsFromRuntime(res.unwrap().toJSON() as unknown as RuntimeHyperparams, {
      burn: toBig(burn),
      bondsPenalty: Number(toBig(bondsPenalty)),
      stakeThreshold: toBig(stakeThreshold),
      maxAllowedUids: Number(toBig(maxAllowedUids)),
    });
  }

  async getBalance(coldkeyAddress: string): Promise<bigint> {
    const info = (await this.api.query.system.account(coldkeyAddress)) as unknown as {
      data: { free: { toBigInt(): bigint } };
    };
    return info.data.free.toBigInt();
  }

  /** Signs with the pair, waits for inclusion, maps failures to the runtime's error names. */
  private submit(ext: Extrinsic, pair: KeyringPair): Promise<TxResult & { result: ISubmittableResult }> {
    return new Promise((resolve, reject) => {
      let unsub: (() => void) | undefined;
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsub?.();
        fn();
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new CmeshError("CHAIN_TIMEOUT", `transaction not included within ${TX_TIMEOUT_MS} ms`)),
          ),
        TX_TIMEOUT_MS,
      );
      ext
        .signAndSend(pair, { nonce: -1 }, (result) => {
          if (result.dispatchError) {
            const err = chainErrorFromDispatch(this.api.registry, result.dispatchError);
            finish(() => reject(err));
          } else if (result.status.isInBlock || result.status.isFinalized) {
            const blockHash = result.status.isInBlock ? result.status.asInBlock : result.status.asFinalized;
            this.api.rpc.chain.getHeader(blockHash).then(
              (h) => finish(() => resolve({ block: h.number.toNumber(), hash: ext.hash.toHex(), result })),
              (e) => finish(() => reject(e)),
            );
          } else if (result.status.isDropped || result.status.isInvalid || result.status.isUsurped) {
            finish(() =>
              reject(chainError("TransactionDropped", `transaction ${result.status.type.toLowerCase()}`)),
            );
          }
        })
        .then(
          (u) => {
            unsub = u;
            if (settled) u();
          },
          (err) => finish(() => reject(chainErrorFromPool(err))),
        );
    });
  }

  private async requireBalance(coldkey: string, amount: bigint, what: string): Promise<void> {
    const balance = await this.getBalance(coldkey);
    if (balance < amount) {
      throw chainError(
        "NotEnoughBalanceToStake",
        `${what} needs ${amount} rao; ${coldkey} has ${balance} free`,
      );
    }
  }

  async burnedRegister(
    netuid: number,
    hotkeyAddress: string,
    coldkey: KeyringPair,
  ): Promise<TxResult & { uid: number }> {
    const burn = BigInt((await this.api.query.subtensorModule.burn(netuid)).toString());
    await this.requireBalance(coldkey.address, burn, "registration");
    const r = await this.submit(this.calls.burnedRegister(netuid, hotkeyAddress), coldkey);
    let uid = -1;
    for (const { event } of r.result.events) {
      if (this.api.events.subtensorModule.NeuronRegistered.is(event)) {
        const [n, u, hk] = event.data as unknown as [
          { toNumber(): number },
          { toNumber(): number },
          { toString(): string },
        ];
        if (n.toNumber() === netuid && hk.toString() === hotkeyAddress) uid = u.toNumber();
      }
    }
    if (uid < 0) uid = Number((await this.api.query.subtensorModule.uids(netuid, hotkeyAddress)).toString());
    return { block: r.block, hash: r.hash, uid };
  }

  async serveAxon(
    netuid: number,
    axon: { ip: string; port: number; version?: number; protocol?: number },
    hotkey: KeyringPair,
  ): Promise<TxResult> {
    const { block, hash } = await this.submit(this.calls.serveAxon(netuid, axon), hotkey);
    return { block, hash };
  }

  async addStake(
    netuid: number,
    hotkeyAddress: string,
    amountRao: bigint,
    coldkey: KeyringPair,
  ): Promise<TxResult> {
    await this.requireBalance(coldkey.address, amountRao, "staking");
    const { block, hash } = await this.submit(this.calls.addStake(hotkeyAddress, netuid, amountRao), coldkey);
    return { block, hash };
  }

  async setWeights(
    netuid: number,
    uids: number[],
    weights: number[],
    versionKey: number,
    hotkey: KeyringPair,
  ): Promise<TxResult> {
    const { block, hash } = await this.submit(
      this.calls.setWeights(netuid, uids, weights, versionKey),
      hotkey,
    );
    return { block, hash };
  }

  async commitWeights(
    netuid: number,
    uids: number[],
    weights: number[],
    salt: number[],
    versionKey: number,
    hotkey: KeyringPair,
  ): Promise<TxResult> {
    const ext = this.calls.commitWeights(hotkey.address, netuid, uids, weights, salt, versionKey);
    const { block, hash } = await this.submit(ext, hotkey);
    return { block, hash };
  }

  async revealWeights(
    netuid: number,
    uids: number[],
    weights: number[],
    salt: number[],
    versionKey: number,
    hotkey: KeyringPair,
  ): Promise<TxResult> {
    const { block, hash } = await this.submit(
      this.calls.revealWeights(netuid, uids, weights, salt, versionKey),
      hotkey,
    );
    return { block, hash };
  }

  async close(): Promise<void> {
    await this.api.disconnect();
  }
}

/** Connects to subtensor; unreachable endpoint or a chain without SubtensorModule → a clear CmeshError. */
export async function connectSubtensor(
  endpoint: string,
  timeoutMs = CONNECT_TIMEOUT_MS,
): Promise<SubtensorClient> {
  const url = subtensorUrl(endpoint);
  const provider = new WsProvider(url, false);
  const unreachable = (why: string, cause?: unknown) =>
    new CmeshError("CHAIN_UNREACHABLE", `cannot reach subtensor at ${url}: ${why}`, {
      hint: "check the endpoint and your network; `--chain ws://127.0.0.1:PORT` uses the local chain instead",
      cause,
    });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await provider.connect();
        await provider.isReady;
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(unreachable(`no connection within ${timeoutMs} ms`)), timeoutMs);
        provider.on("error", (e) => reject(unreachable("connection failed", e)));
      }),
    ]);
  } catch (err) {
    clearTimeout(timer);
    await provider.disconnect().catch(() => {});
    throw err instanceof CmeshError ? err : unreachable(String((err as Error)?.message ?? err), err);
  }
  clearTimeout(timer);
  const api = await ApiPromise.create({
    provider,
    signedExtensions: SUBTENSOR_SIGNED_EXTENSIONS,
    noInitWarn: true,
    throwOnConnect: true,
  });
  if (!api.tx.subtensorModule || !api.call.subnetInfoRuntimeApi) {
    await api.disconnect();
    throw new CmeshError(
      "CHAIN_WRONG_NETWORK",
      `${url} is not a subtensor chain (no SubtensorModule pallet)`,
      {
        hint: "connect to finney, test, or a subtensor node",
      },
    );
  }
  if (endpoint === "finney" && api.genesisHash.toHex() !== FINNEY_GENESIS) {
    await api.disconnect();
    throw new CmeshError(
      "CHAIN_WRONG_NETWORK",
      `${url} has genesis ${api.genesisHash.toHex()}, not finney's`,
    );
  }
  return new SubtensorClient(api, endpoint);
}
