// Which miners the validator works with: the seeds' blacklist/whitelist options and the version quorum
// ("whitelist unrecognized miners", "whitelist updated threshold"). Pure functions.

export interface KeyLists {
  hotkeys: readonly string[];
  coldkeys: readonly string[];
}

export interface MinerFilterOptions {
  blacklist: KeyLists;
  whitelist: KeyLists;
  /** Keep miners that run an unrecognized (older than the minimum, or unknown) version. Seed default false. */
  whitelistUnrecognized: boolean;
  /** Percent of miners that must run a recognized version before unrecognized ones are excluded. Seed default 60. */
  whitelistUpdatedThreshold: number;
  /** Lowest miner version recognized ("major.minor.patch"). */
  minMinerVersion: string;
}

export interface MinerIdentity {
  hotkey: string;
  coldkey: string;
  /** The version the miner reported with its specs; null before any specs arrived. */
  version: string | null;
}

export type Exclusion = "blacklisted" | "unrecognized_version";

/** Parses "1.2.3" (an optional leading "v" and a pre-release/build suffix are ignored); null when not a version. */
export function parseVersion(v: string | null): [number, number, number] | null {
  if (!v) return null;
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

export function versionAtLeast(v: string | null, min: string): boolean {
  const a = parseVersion(v);
  const b = parseVersion(min);
  if (!a || !b) return false;
  for (let i = 0; i < 3; i++) {
    if (a[i] !== b[i]) return (a[i] as number) > (b[i] as number);
  }
  return true;
}

function listed(m: MinerIdentity, l: KeyLists): boolean {
  return l.hotkeys.includes(m.hotkey) || l.coldkeys.includes(m.coldkey);
}

/**
 * Decides, for every miner, whether it is excluded and why. The blacklist always wins. A whitelisted miner is
 * exempt from the version rule. Unrecognized versions are excluded only once at least `whitelistUpdatedThreshold`
 * percent of the miners that reported a version run a recognized one (so an upgrade does not drop half the
 * network at once), and never when `whitelistUnrecognized` is set. Miners that have not reported yet are kept.
 */
export function classifyMiners(
  miners: readonly MinerIdentity[],
  opts: MinerFilterOptions,
): Map<string, Exclusion | null> {
  const reported = miners.filter((m) => m.version !== null);
  const updated = reported.filter((m) => versionAtLeast(m.version, opts.minMinerVersion)).length;
  const updatedPct = reported.length === 0 ? 0 : (100 * updated) / reported.length;
  const enforceVersion = !opts.whitelistUnrecognized && updatedPct >= opts.whitelistUpdatedThreshold;
  const out = new Map<string, Exclusion | null>();
  for (const m of miners) {
    if (listed(m, opts.blacklist)) out.set(m.hotkey, "blacklisted");
    else if (
      enforceVersion &&
      m.version !== null &&
      !versionAtLeast(m.version, opts.minMinerVersion) &&
      !listed(m, opts.whitelist)
    ) {
      out.set(m.hotkey, "unrecognized_version");
    } else out.set(m.hotkey, null);
  }
  return out;
}
