import { describe, expect, it } from "vitest";
import { CmeshError, isCmeshError } from "./errors.ts";

describe("CmeshError", () => {
  it("carries a stable code and a hint", () => {
    const err = new CmeshError("X_BAD", "bad thing", { hint: "do this" });
    expect(err.code).toBe("X_BAD");
    expect(err.describe()).toBe("bad thing\n  hint: do this");
    expect(isCmeshError(err, "X_BAD")).toBe(true);
    expect(isCmeshError(err, "OTHER")).toBe(false);
    expect(isCmeshError(new Error("x"))).toBe(false);
  });
});
