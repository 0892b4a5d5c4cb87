import { describe, expect, it } from "vitest";
import { philox4x32, philoxBytes } from "./philox.ts";

function hex(words: Uint32Array): string[] {
  return [...words].map((w) => w.toString(16).padStart(8, "0"));
}

describe("Philox4x32-10", () => {
  // Known-answer vectors of the Random123 distribution (kat_vectors: philox4x32 10).
  it.each([
    [
      [0, 0, 0, 0],
      [0, 0],
      ["6627e8d5", "e169c58d", "bc57ac4c", "9b00dbd8"],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      ["408f276d", "41c83b0e", "a20bc7c6", "6d5451fd"],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      ["d16cfe09", "94fdcceb", "5001e420", "24126ea1"],
    ],
  ])("matches the known answer for counter %j key %j", (c, k, expected) => {
    const out = new Uint32Array(4);
    philox4x32(c[0], c[1], c[2], c[3], k[0], k[1], out);
    expect(hex(out)).toEqual(expected);
  });

  it("is counter-based: any slice of the stream equals the same bytes of the whole stream", () => {
    const whole = new Uint8Array(1024);
    philoxBytes(7, 9, 0, whole);
    const slice = new Uint8Array(64);
    philoxBytes(7, 9, 512, slice);
    expect(slice).toEqual(whole.subarray(512, 576));
    const other = new Uint8Array(64);
    philoxBytes(7, 10, 512, other);
    expect(other).not.toEqual(slice);
    expect(() => philoxBytes(1, 2, 3, new Uint8Array(16))).toThrow(RangeError);
  });
});
