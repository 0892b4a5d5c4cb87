import { describe, expect, it } from "vitest";
import { type AccessNeuron, type AccessOptions, accessRefusal, versionQuorum } from "./access.ts";

const TAO = 1_000_000_000n;
const axon = (version: number) => ({ ip: "127.0.0.1", port: 1, version, protocol: 4 });
const neurons: AccessNeuron[] = [
  { hotkey: "V1", coldkey: "C1", stake: 5000n * TAO, validatorPermit: true, axon: axon(300) },
  { hotkey: "V2", coldkey: "C2", stake: 2000n * TAO, validatorPermit: true, axon: axon(300) },
  { hotkey: "V3", coldkey: "C3", stake: 1500n * TAO, validatorPermit: true, axon: axon(200) },
  { hotkey: "POOR", coldkey: "C4", stake: 10n * TAO, validatorPermit: true, axon: axon(300) },
  { hotkey: "NOPERMIT", coldkey: "C5", stake: 9000n * TAO, validatorPermit: false, axon: axon(300) },
  { hotkey: "MINER", coldkey: "C6", stake: 0n, validatorPermit: false, axon: axon(300) },
];
const base: AccessOptions = {
  netuid: 7,
  blacklistHotkeys: [],
  blacklistColdkeys: [],
  whitelistHotkeys: [],
  whitelistColdkeys: [],
  whitelistNotEnoughStake: false,
  whitelistNotUpdated: false,
  updatedThresholdPct: 60,
  minValidatorStakeRao: 1000n * TAO,
};

describe("accessRefusal", () => {
  it("lets a permitted, staked, up-to-date validator in", () => {
    expect(accessRefusal("V1", neurons, base)).toBeNull();
  });

  it("refuses unregistered hotkeys, miners, validators without permit or stake, with the reason", () => {
    expect(accessRefusal("STRANGER", neurons, base)).toMatch(/not registered on subnet 7/);
    expect(accessRefusal("MINER", neurons, base)).toMatch(/no validator permit/);
    expect(accessRefusal("NOPERMIT", neurons, base)).toMatch(/no validator permit/);
    expect(accessRefusal("POOR", neurons, base)).toMatch(/has 10 TAO staked; this miner requires 1000 TAO/);
  });

  it("refuses an outdated validator only once the quorum of validators is up to date", () => {
    // 2 of 3 permitted validators with enough stake run 300: 66.7% ≥ 60%
    expect(accessRefusal("V3", neurons, base)).toMatch(/runs version 200; 67% of validators run 300/);
    expect(accessRefusal("V3", neurons, { ...base, updatedThresholdPct: 70 })).toBeNull();
    expect(accessRefusal("V3", neurons, { ...base, whitelistNotUpdated: true })).toBeNull();
  });

  it("whitelist options let more validators in", () => {
    expect(accessRefusal("POOR", neurons, { ...base, whitelistNotEnoughStake: true })).toBeNull();
    expect(accessRefusal("NOPERMIT", neurons, { ...base, whitelistNotEnoughStake: true })).toBeNull();
    expect(accessRefusal("STRANGER", neurons, { ...base, whitelistHotkeys: ["STRANGER"] })).toBeNull();
    expect(accessRefusal("MINER", neurons, { ...base, whitelistColdkeys: ["C6"] })).toBeNull();
    // whitelisting does not make an unregistered hotkey pass by stake options alone
    expect(accessRefusal("STRANGER", neurons, { ...base, whitelistNotEnoughStake: true })).toMatch(
      /not registered/,
    );
  });

  it("blacklists win over whitelists and over stake (NI's inverted logic is not repeated)", () => {
    expect(
      accessRefusal("V1", neurons, { ...base, blacklistHotkeys: ["V1"], whitelistHotkeys: ["V1"] }),
    ).toMatch(/blacklisted/);
    expect(
      accessRefusal("V2", neurons, { ...base, blacklistColdkeys: ["C2"], whitelistColdkeys: ["C2"] }),
    ).toMatch(/coldkey C2 of V2 is blacklisted/);
  });
});

describe("versionQuorum", () => {
  it("counts only permitted validators with enough stake", () => {
    expect(versionQuorum(neurons, 1000n * TAO)).toEqual({ newest: 300, sharePct: (2 / 3) * 100 });
    expect(versionQuorum([], 0n)).toEqual({ newest: 0, sharePct: 0 });
  });
});
