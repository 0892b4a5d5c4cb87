import { describe, expect, it } from "vitest";
import { classifyMiners, type MinerFilterOptions, parseVersion, versionAtLeast } from "./filters.ts";

const base: MinerFilterOptions = {
  blacklist: { hotkeys: [], coldkeys: [] },
  whitelist: { hotkeys: [], coldkeys: [] },
  whitelistUnrecognized: false,
  whitelistUpdatedThreshold: 60,
  minMinerVersion: "1.2.0",
};

const miners = [
  { hotkey: "h1", coldkey: "c1", version: "1.2.0" },
  { hotkey: "h2", coldkey: "c2", version: "1.3.1" },
  { hotkey: "h3", coldkey: "c3", version: "1.1.9" },
  { hotkey: "h4", coldkey: "c4", version: null },
];

describe("versions", () => {
  it("parses and compares semantic versions", () => {
    expect(parseVersion("v1.2.3-rc1")).toEqual([1, 2, 3]);
    expect(parseVersion("garbage")).toBeNull();
    expect(versionAtLeast("1.10.0", "1.9.9")).toBe(true);
    expect(versionAtLeast("1.2.0", "1.2.0")).toBe(true);
    expect(versionAtLeast("1.1.9", "1.2.0")).toBe(false);
    expect(versionAtLeast("nope", "1.2.0")).toBe(false);
  });
});

describe("classifyMiners", () => {
  it("excludes unrecognized versions once the updated share reaches the threshold", () => {
    const r = classifyMiners(miners, base); // 2 of 3 reporting are updated: 66.7% >= 60
    expect(Object.fromEntries(r)).toEqual({ h1: null, h2: null, h3: "unrecognized_version", h4: null });
  });

  it("keeps everyone below the threshold, or with whitelistUnrecognized", () => {
    expect(classifyMiners(miners, { ...base, whitelistUpdatedThreshold: 70 }).get("h3")).toBeNull();
    expect(classifyMiners(miners, { ...base, whitelistUnrecognized: true }).get("h3")).toBeNull();
  });

  it("whitelist exempts from the version rule; blacklist (hotkey or coldkey) always wins", () => {
    expect(
      classifyMiners(miners, { ...base, whitelist: { hotkeys: [], coldkeys: ["c3"] } }).get("h3"),
    ).toBeNull();
    const r = classifyMiners(miners, {
      ...base,
      blacklist: { hotkeys: ["h1"], coldkeys: ["c2"] },
      whitelist: { hotkeys: ["h1"], coldkeys: [] },
    });
    expect(r.get("h1")).toBe("blacklisted");
    expect(r.get("h2")).toBe("blacklisted");
  });
});
