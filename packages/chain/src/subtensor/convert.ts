import { CmeshError } from "@computemesh/core";
import type { Registry } from "@polkadot/types/types";
import { chainError, type ChainError } from "../errors.ts";
import type { AxonInfo, Metagraph, NeuronInfo, SubnetHyperparams } from "../types.ts";
import { normalizeWeights } from "../weights.ts";

type Num = number | string | bigint;

const big = (v: Num | undefined | null): bigint => (v === undefined || v === null ? 0n : BigInt(v));
const num = (v: Num | undefined | null): number => Number(big(v));
const prop = (v: Num | undefined): number => num(v) / 65535;

/** IPv4 dotted → its 32-bit integer; IPv6 text → 128-bit integer; with the chain's ip_type (4 or 6). */
export function ipToU128(ip: string): { ip: bigint; ipType: 4 | 6 } {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const octets = v4.slice(1).map(Number);
    if (octets.some((o) => o > 255)) throw new CmeshError("INVALID_ARGUMENT", `invalid IPv4 address ${ip}`);
    return { ip: octets.reduce((acc, o) => (acc << 8n) | BigInt(o), 0n), ipType: 4 };
  }
  if (/^[0-9a-fA-F:]+$/.test(ip) && ip.includes(":")) {
    const [head, tail] = ip.split("::");
    const h = head ? head.split(":") : [];
    const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
    const fill = ip.includes("::") ? 8 - h.length - t.length : 0;
    const groups = [...h, ...new Array(fill).fill("0"), ...t];
    if (groups.length !== 8 || groups.some((g) => g.length === 0 || g.length > 4)) {
      throw new CmeshError("INVALID_ARGUMENT", `invalid IPv6 address ${ip}`);
    }
    return { ip: groups.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n), ipType: 6 };
  }
  throw new CmeshError("INVALID_ARGUMENT", `not an IP address: ${ip}`);
}

export function u128ToIp(ip: bigint, ipType: number): string {
  if (ipType === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip >> s) & 0xffn)).join(".");
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((ip >> s) & 0xffffn).toString(16));
  return groups.join(":");
}

interface RuntimeAxon {
  block?: Num;
  version?: Num;
  ip?: Num;
  port?: Num;
  ipType?: Num;
  protocol?: Num;
}

/** The JSON (polkadot-js `toJSON()`, camelCase) of `SubnetInfoRuntimeApi.get_metagraph`'s Metagraph. */
export interface RuntimeMetagraph {
  netuid: Num;
  block: Num;
  hotkeys: string[];
  coldkeys: string[];
  axons: RuntimeAxon[];
  active: boolean[];
  validatorPermit: boolean[];
  lastUpdate: Num[];
  emission: Num[];
  dividends: Num[];
  incentives: Num[];
  consensus: Num[];
  trust: Num[];
  rank: Num[];
  blockAtRegistration: Num[];
  totalStake: Num[];
}

function axonFrom(a: RuntimeAxon | undefined): AxonInfo | null {
  if (!a || big(a.ip) === 0n || num(a.port) === 0) return null;
  return {
    ip: u128ToIp(big(a.ip), num(a.ipType)),
    port: num(a.port),
    version: num(a.version),
    protocol: num(a.protocol),
  };
}

export function metagraphFromRuntime(m: RuntimeMetagraph): Metagraph {
  const neurons: NeuronInfo[] = m.hotkeys.map((hotkey, uid) => ({
    uid,
    hotkey,
    coldkey: m.coldkeys[uid] ?? "",
    stake: big(m.totalStake[uid]),
    rank: prop(m.rank[uid]),
    trust: prop(m.trust[uid]),
    consensus: prop(m.consensus[uid]),
    incentive: prop(m.incentives[uid]),
    dividends: prop(m.dividends[uid]),
    validatorTrust: 0,
    emission: big(m.emission[uid]),
    validatorPermit: m.validatorPermit[uid] ?? false,
    axon: axonFrom(m.axons[uid]),
    lastUpdate: num(m.lastUpdate[uid]),
    registeredAt: num(m.blockAtRegistration[uid]),
    active: m.active[uid] ?? false,
  }));
  return { netuid: num(m.netuid), block: num(m.block), neurons };
}

/** `get_subnet_hyperparams_v2` JSON plus the storage values it lacks. */
export interface RuntimeHyperparams {
  kappa: Num;
  immunityPeriod: Num;
  tempo: Num;
  weightsVersion: Num;
  weightsRateLimit: Num;
  activityCutoff: Num;
  bondsMovingAvg: Num;
  maxValidators: Num;
  commitRevealPeriod: Num;
  commitRevealWeightsEnabled: boolean;
  alphaHigh: Num;
  alphaLow: Num;
  liquidAlphaEnabled: boolean;
  /** I32F32, as polkadot-js renders it: `{ bits }` (or the raw bits) */
  alphaSigmoidSteepness: Num | { bits: Num };
  yumaVersion: Num;
}

function fixedBits(v: Num | { bits: Num }): Num {
  return typeof v === "object" && v !== null && "bits" in v ? v.bits : (v as Num);
}

export function hyperparamsFromRuntime(
  h: RuntimeHyperparams,
  storage: { burn: bigint; bondsPenalty: number; stakeThreshold: bigint; maxAllowedUids: number },
): SubnetHyperparams {
  return {
    tempo: num(h.tempo),
    kappa: num(h.kappa),
    bondsMovingAverage: num(h.bondsMovingAvg),
    bondsPenalty: storage.bondsPenalty,
    yuma3: num(h.yumaVersion) >= 3,
    liquidAlpha: {
      enabled: h.liquidAlphaEnabled,
      low: num(h.alphaLow) / 65535,
      high: num(h.alphaHigh) / 65535,
      steepness: Math.round(Number(big(fixedBits(h.alphaSigmoidSteepness))) / 2 ** 32),
    },
    maxAllowedValidators: num(h.maxValidators),
    maxAllowedUids: storage.maxAllowedUids,
    immunityPeriod: num(h.immunityPeriod),
    weightsRateLimit: num(h.weightsRateLimit),
    weightsVersionKey: num(h.weightsVersion),
    activityCutoff: num(h.activityCutoff),
    minStakeToSetWeights: storage.stakeThreshold,
    commitRevealEnabled: h.commitRevealWeightsEnabled,
    commitRevealPeriod: num(h.commitRevealPeriod),
    burn: storage.burn,
  };
}

/** What a DispatchError looks like to us: a module error index, or another named kind. */
interface DispatchErrorLike {
  isModule: boolean;
  asModule: unknown;
  type: string;
  toString(): string;
}

/** Maps a runtime DispatchError to ChainError with the pallet's error name (e.g. "SettingWeightsTooFast"). */
export function chainErrorFromDispatch(registry: Registry, err: DispatchErrorLike): ChainError {
  if (err.isModule) {
    try {
      const meta = registry.findMetaError(err.asModule as Parameters<Registry["findMetaError"]>[0]);
      return chainError(
        meta.name,
        `${meta.section}.${meta.name}: ${meta.docs.join(" ").trim() || "rejected"}`,
        {
          section: meta.section,
        },
      );
    } catch {
      return chainError("ModuleError", `module error ${err.toString()}`);
    }
  }
  return chainError(err.type, `dispatch error ${err.type}: ${err.toString()}`);
}

/** Maps a transaction-pool rejection (JSON-RPC error 1010 etc.) to ChainError. */
export function chainErrorFromPool(err: unknown): ChainError {
  const text = err instanceof Error ? err.message : String(err);
  if (/Inability to pay some fees|balance too low/i.test(text)) {
    return chainError("InsufficientBalanceForFees", `the signer cannot pay the transaction fee: ${text}`);
  }
  if (/Transaction is outdated|Stale/i.test(text)) return chainError("InvalidNonce", `stale nonce: ${text}`);
  if (/bad signature/i.test(text)) return chainError("BadSignature", text);
  const custom = /Custom error: (\d+)/.exec(text);
  if (custom)
    return chainError(
      "SubtensorCustomError",
      `subtensor rejected the transaction (custom code ${custom[1]}): ${text}`,
    );
  return chainError("TransactionInvalid", `the transaction pool rejected the transaction: ${text}`);
}

/** The u16 vectors subtensor's set_weights takes, from SDK floats. */
export function weightsForChain(uids: number[], weights: number[]): { dests: number[]; values: number[] } {
  const { uids: dests, values } = normalizeWeights(uids, weights);
  return { dests, values };
}
