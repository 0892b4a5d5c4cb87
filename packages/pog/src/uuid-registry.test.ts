import { describe, expect, it } from "vitest";
import { UuidRegistry } from "./uuid-registry.ts";

describe("UuidRegistry", () => {
  it("binds a UUID to one hotkey; a second hotkey claiming it puts both in conflict until resolved", () => {
    const reg = new UuidRegistry();
    expect(reg.claim("alice", ["GPU-aaa", "GPU-bbb"])).toEqual({ ok: true });
    const bob = reg.claim("bob", ["gpu-AAA "]);
    expect(bob).toEqual({ ok: false, conflicts: [{ uuid: "gpu-aaa", hotkeys: ["alice", "bob"] }] });
    expect(reg.conflictsOf("alice")).toEqual([{ uuid: "gpu-aaa", hotkeys: ["alice", "bob"] }]);
    reg.resolve("GPU-aaa", "alice");
    expect(reg.conflictsOf("alice")).toEqual([]);
    expect(reg.claim("alice", ["GPU-aaa", "GPU-bbb"])).toEqual({ ok: true });
  });

  it("replaces a hotkey's claim when its machine changes, and releases on request", () => {
    const reg = new UuidRegistry();
    reg.claim("alice", ["GPU-1"]);
    reg.claim("alice", ["GPU-2"]);
    expect(reg.claim("bob", ["GPU-1"])).toEqual({ ok: true });
    expect(reg.claim("carol", ["GPU-2"]).ok).toBe(false);
    reg.release("alice");
    expect(reg.claim("carol", ["GPU-2"])).toEqual({ ok: true });
    const copy = UuidRegistry.fromJSON(reg.toJSON());
    expect(copy.claim("dave", ["GPU-1"]).ok).toBe(false);
  });
});
