// GPU UUIDs are bound to one hotkey network-wide: the same UUID claimed by two hotkeys fails both until an
// operator resolves it (or one of them stops claiming it).

export interface UuidConflict {
  uuid: string;
  hotkeys: string[];
}

export type UuidClaimResult = { ok: true } | { ok: false; conflicts: UuidConflict[] };

export class UuidRegistry {
  private readonly byUuid = new Map<string, Set<string>>();
  private readonly byHotkey = new Map<string, Set<string>>();

  /** Records that `hotkey` claims exactly `uuids` now (replacing what it claimed before) and reports conflicts. */
  claim(hotkey: string, uuids: readonly string[]): UuidClaimResult {
    const next = new Set(uuids.map(normalizeUuid));
    for (const old of this.byHotkey.get(hotkey) ?? []) {
      if (!next.has(old)) this.drop(old, hotkey);
    }
    this.byHotkey.set(hotkey, next);
    for (const uuid of next) {
      const holders = this.byUuid.get(uuid) ?? new Set<string>();
      holders.add(hotkey);
      this.byUuid.set(uuid, holders);
    }
    const conflicts = this.conflictsOf(hotkey);
    return conflicts.length === 0 ? { ok: true } : { ok: false, conflicts };
  }

  conflictsOf(hotkey: string): UuidConflict[] {
    const out: UuidConflict[] = [];
    for (const uuid of this.byHotkey.get(hotkey) ?? []) {
      const holders = this.byUuid.get(uuid)!;
      if (holders.size > 1) out.push({ uuid, hotkeys: [...holders].sort() });
    }
    return out;
  }

  /** Forgets every claim of `hotkey` (deregistered, or its machine is gone). */
  release(hotkey: string): void {
    for (const uuid of this.byHotkey.get(hotkey) ?? []) this.drop(uuid, hotkey);
    this.byHotkey.delete(hotkey);
  }

  /** Operator decision: `uuid` belongs to `owner`; every other hotkey's claim on it is removed. */
  resolve(uuid: string, owner: string): void {
    const key = normalizeUuid(uuid);
    for (const hotkey of [...(this.byUuid.get(key) ?? [])]) {
      if (hotkey !== owner) {
        this.drop(key, hotkey);
        this.byHotkey.get(hotkey)?.delete(key);
      }
    }
  }

  toJSON(): Record<string, string[]> {
    return Object.fromEntries([...this.byHotkey].map(([h, u]) => [h, [...u].sort()]));
  }

  static fromJSON(json: Record<string, string[]>): UuidRegistry {
    const reg = new UuidRegistry();
    for (const [hotkey, uuids] of Object.entries(json)) reg.claim(hotkey, uuids);
    return reg;
  }

  private drop(uuid: string, hotkey: string): void {
    const holders = this.byUuid.get(uuid);
    holders?.delete(hotkey);
    if (holders && holders.size === 0) this.byUuid.delete(uuid);
  }
}

/** nvidia-smi prints "GPU-xxxxxxxx-…"; compare case-insensitively and without surrounding space. */
export function normalizeUuid(uuid: string): string {
  return uuid.trim().toLowerCase();
}
