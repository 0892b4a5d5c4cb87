import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { expandMetadata, Metadata, TypeRegistry } from "@polkadot/types";
import { compactToU8a, hexToU8a, u8aConcat, u8aToHex } from "@polkadot/util";
import { blake2AsU8a, cryptoWaitReady, decodeAddress, signatureVerify } from "@polkadot/util-crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { weightsCommitHash } from "../weights.ts";
import { type SubtensorTxSection, subtensorCalls } from "./calls.ts";
import { connectSubtensor } from "./client.ts";
import {
  chainErrorFromDispatch,
  chainErrorFromPool,
  hyperparamsFromRuntime,
  ipToU128,
  metagraphFromRuntime,
  u128ToIp,
} from "./convert.ts";
import { SUBTENSOR_SIGNED_EXTENSIONS } from "./extensions.ts";

// shared/ sits beside the repository checkout (../shared from the repo root), wherever the checkout is.
const METADATA = fileURLToPath(
  new URL("../../../../../shared/reference/data/subtensor-finney-metadata.scale", import.meta.url),
);
const haveMetadata = existsSync(METADATA);
if (!haveMetadata) {
  console.warn(`SKIPPING subtensor metadata tests: ${METADATA} is absent (see README, Chain section)`);
}

let registry: TypeRegistry;
let metadata: Metadata;
let alice: KeyringPair;
type Call = { toHex(): string; toU8a(): Uint8Array };
let calls: ReturnType<typeof subtensorCalls<Call>>;

const le = (v: bigint | number, bytes: number) => {
  let x = BigInt(v);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
};
const vecU16 = (xs: number[]) => u8aConcat(compactToU8a(xs.length), ...xs.map((x) => le(x, 2)));

beforeAll(async () => {
  await cryptoWaitReady();
  alice = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Alice");
  if (!haveMetadata) return;
  registry = new TypeRegistry();
  metadata = new Metadata(registry, new Uint8Array(readFileSync(METADATA)));
  registry.setMetadata(metadata, undefined, SUBTENSOR_SIGNED_EXTENSIONS);
  const tx = expandMetadata(registry, metadata).tx.subtensorModule as unknown as SubtensorTxSection<Call>;
  calls = subtensorCalls(tx);
});

describe.skipIf(!haveMetadata)("subtensor calls against the finney metadata", () => {
  it("knows every transaction extension of the runtime, custom ones declared", () => {
    expect(registry.signedExtensions).toEqual([
      "CheckNonZeroSender",
      "CheckSpecVersion",
      "CheckTxVersion",
      "CheckGenesis",
      "CheckMortality",
      "CheckNonce",
      "CheckWeight",
      "ChargeTransactionPayment",
      "SudoTransactionExtension",
      "CheckShieldedTxValidity",
      "SubtensorTransactionExtension",
      "DrandPriority",
      "CheckMetadataHash",
    ]);
  });

  it("encodes set_weights (7/0) with SDK u16 normalization", () => {
    // 0.5 / 1.0 × 65535 = 32767.5 → Python round (half-even) → 32768
    const call = calls.setWeights(1, [0, 5], [0.5, 1.0], 7);
    const expected = u8aConcat([7, 0], le(1, 2), vecU16([0, 5]), vecU16([32768, 65535]), le(7, 8));
    expect(call.toHex()).toBe(u8aToHex(expected));
  });

  it("encodes burned_register (7/7), serve_axon (7/4), add_stake (7/2)", () => {
    const pub = decodeAddress(alice.address);
    expect(calls.burnedRegister(3, alice.address).toHex()).toBe(u8aToHex(u8aConcat([7, 7], le(3, 2), pub)));
    const axon = calls.serveAxon(3, { ip: "1.2.3.4", port: 8091, version: 10002000 });
    expect(axon.toHex()).toBe(
      u8aToHex(u8aConcat([7, 4], le(3, 2), le(10002000, 4), le(0x01020304, 16), le(8091, 2), [4, 4, 0, 0])),
    );
    const stake = calls.addStake(alice.address, 3, 5_000_000_000n);
    expect(stake.toHex()).toBe(u8aToHex(u8aConcat([7, 2], pub, le(3, 2), le(5_000_000_000n, 8))));
  });

  it("encodes commit_weights (7/96) with the v2 hash and reveal_weights (7/97)", () => {
    const salt = [1, 2, 3];
    const hash = weightsCommitHash(alice.address, 2, [4], [65535], salt, 9);
    expect(calls.commitWeights(alice.address, 2, [4], [0.3], salt, 9).toHex()).toBe(
      u8aToHex(u8aConcat([7, 96], le(2, 2), hexToU8a(hash))),
    );
    expect(calls.revealWeights(2, [4], [0.3], salt, 9).toHex()).toBe(
      u8aToHex(u8aConcat([7, 97], le(2, 2), vecU16([4]), vecU16([65535]), vecU16(salt), le(9, 8))),
    );
    // the hash covers hotkey ‖ netuid ‖ uids ‖ values ‖ salt ‖ version key
    const pre = u8aConcat(
      decodeAddress(alice.address),
      le(2, 2),
      vecU16([4]),
      vecU16([65535]),
      vecU16(salt),
      le(9, 8),
    );
    expect(hash).toBe(u8aToHex(blake2AsU8a(pre, 256)));
  });

  it("signs with the payload the runtime verifies (custom extensions add no bytes, tip and mode included)", () => {
    const call = calls.setWeights(1, [0], [1], 0);
    const genesisHash = "0x2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03";
    const ext = registry.createType("Extrinsic", call, { version: 4 });
    ext.sign(alice, {
      blockHash: genesisHash,
      genesisHash,
      nonce: 5,
      tip: 0,
      runtimeVersion: registry.createType("RuntimeVersion", { specVersion: 330, transactionVersion: 1 }),
      signedExtensions: registry.signedExtensions,
    } as never);
    const decoded = registry.createType("Extrinsic", ext.toHex());
    expect(decoded.isSigned).toBe(true);
    expect(decoded.signer.toString()).toBe(alice.address);
    expect(decoded.nonce.toNumber()).toBe(5);
    expect(decoded.method.toHex()).toBe(call.toHex());
    // Rebuild the signing payload by hand: call ‖ era ‖ nonce ‖ tip ‖ mode ‖ spec ‖ tx ‖ genesis ‖ block ‖ metadata hash
    const payload = u8aConcat(
      call.toU8a(),
      [0], // immortal era
      compactToU8a(5),
      compactToU8a(0),
      [0], // CheckMetadataHash mode: disabled
      le(330, 4),
      le(1, 4),
      hexToU8a(genesisHash),
      hexToU8a(genesisHash),
      [0], // metadata hash: None
    );
    const sig = decoded.signature.toHex();
    expect(signatureVerify(payload, sig, alice.address).isValid).toBe(true);
  });

  it("maps module errors to the runtime's error names", () => {
    const tooFast = registry.createType("DispatchError", { Module: { index: 7, error: [29, 0, 0, 0] } });
    expect(chainErrorFromDispatch(registry, tooFast as never)).toMatchObject({
      code: "SettingWeightsTooFast",
    });
    const notReg = registry.createType("DispatchError", { Module: { index: 7, error: [4, 0, 0, 0] } });
    expect(chainErrorFromDispatch(registry, notReg as never)).toMatchObject({
      code: "HotKeyNotRegisteredInSubNet",
    });
    const balance = registry.createType("DispatchError", { Module: { index: 7, error: [12, 0, 0, 0] } });
    expect(chainErrorFromDispatch(registry, balance as never)).toMatchObject({
      code: "NotEnoughBalanceToStake",
    });
    const badOrigin = registry.createType("DispatchError", { BadOrigin: null });
    expect(chainErrorFromDispatch(registry, badOrigin as never)).toMatchObject({ code: "BadOrigin" });
    expect(
      chainErrorFromPool(
        new Error("1010: Invalid Transaction: Inability to pay some fees , e.g. account balance too low"),
      ),
    ).toMatchObject({
      code: "InsufficientBalanceForFees",
    });
    expect(chainErrorFromPool(new Error("1010: Invalid Transaction: Custom error: 6"))).toMatchObject({
      code: "SubtensorCustomError",
    });
  });

  it("decodes the runtime API metagraph and hyperparameters", () => {
    const apis = metadata.asLatest.apis.find((a) => a.name.toString() === "SubnetInfoRuntimeApi");
    const outputOf = (name: string) =>
      apis?.methods.find((m) => m.name.toString() === name)?.output.toNumber() as number;
    const mg = registry.createType(registry.createLookupType(outputOf("get_metagraph")), {
      netuid: 5,
      block: 1234,
      hotkeys: [alice.address],
      coldkeys: [alice.address],
      axons: [{ block: 1, version: 10002000, ip: 0x01020304, port: 8091, ipType: 4, protocol: 4 }],
      active: [true],
      validatorPermit: [true],
      lastUpdate: [1200],
      emission: [5_000_000_000n],
      dividends: [65535],
      incentives: [0],
      consensus: [32767],
      trust: [0],
      rank: [0],
      blockAtRegistration: [100],
      totalStake: [123_000_000_000n],
      pruningScore: [65535],
    }) as unknown as { unwrap(): { toJSON(): unknown } };
    const m = metagraphFromRuntime(mg.unwrap().toJSON() as never);
    expect(m.netuid).toBe(5);
    expect(m.block).toBe(1234);
    expect(m.neurons[0]).toMatchObject({
      uid: 0,
      hotkey: alice.address,
      stake: 123_000_000_000n,
      emission: 5_000_000_000n,
      dividends: 1,
      validatorPermit: true,
      axon: { ip: "1.2.3.4", port: 8091, version: 10002000, protocol: 4 },
      lastUpdate: 1200,
      registeredAt: 100,
    });
    expect(m.neurons[0].consensus).toBeCloseTo(0.5, 4);
    const hp = registry.createType(registry.createLookupType(outputOf("get_subnet_hyperparams_v2")), {
      kappa: 32767,
      tempo: 360,
      immunityPeriod: 5000,
      weightsVersion: 3,
      weightsRateLimit: 100,
      activityCutoff: 5000,
      bondsMovingAvg: 975000,
      maxValidators: 64,
      commitRevealPeriod: 1,
      commitRevealWeightsEnabled: true,
      alphaHigh: 58982,
      alphaLow: 45875,
      liquidAlphaEnabled: true,
      alphaSigmoidSteepness: { bits: 1000n << 32n },
      yumaVersion: 3,
    }) as unknown as { unwrap(): { toJSON(): unknown } };
    const params = hyperparamsFromRuntime(hp.unwrap().toJSON() as never, {
      burn: 1n,
      bondsPenalty: 65535,
      stakeThreshold: 0n,
      maxAllowedUids: 256,
    });
    expect(params).toMatchObject({
      tempo: 360,
      kappa: 32767,
      yuma3: true,
      commitRevealEnabled: true,
      weightsVersionKey: 3,
    });
    expect(params.liquidAlpha.steepness).toBe(1000);
    expect(params.liquidAlpha.high).toBeCloseTo(0.9, 4);
  });
});

describe("subtensor client without a chain", () => {
  it("converts IPv4/IPv6 to the chain's u128 and back", () => {
    expect(ipToU128("1.2.3.4")).toEqual({ ip: 0x01020304n, ipType: 4 });
    expect(u128ToIp(0x01020304n, 4)).toBe("1.2.3.4");
    const v6 = ipToU128("2001:db8::1");
    expect(v6.ipType).toBe(6);
    expect(u128ToIp(v6.ip, 6)).toBe("2001:db8:0:0:0:0:0:1");
    expect(() => ipToU128("300.1.1.1")).toThrow(/invalid IPv4/);
    expect(() => ipToU128("example")).toThrow(/not an IP/);
  });

  it("reports an unreachable endpoint clearly", async () => {
    await expect(connectSubtensor("subtensor+ws://127.0.0.1:1", 3000)).rejects.toMatchObject({
      code: "CHAIN_UNREACHABLE",
    });
  });
});
