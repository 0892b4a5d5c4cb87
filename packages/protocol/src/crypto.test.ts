import { u8aToHex, u8aWrapBytes } from "@polkadot/util";
import { encodeAddress } from "@polkadot/util-crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { cryptoReady, keypairFromUri, signText, verifySignature } from "./crypto.ts";

const PHRASE = "old leopard transfer rib spatial phone calm indicate online fire caution review";

beforeAll(() => cryptoReady());

describe("reference §2.6 key vectors", () => {
  it("a) mnemonic → public key and SS58 (prefix 42 and 0)", () => {
    const pair = keypairFromUri(PHRASE);
    expect(u8aToHex(pair.publicKey)).toBe(
      "0xe4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446",
    );
    expect(pair.address).toBe("5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX");
    expect(encodeAddress(pair.publicKey, 0)).toBe("16ADqpMa4yzfmWs3nuTSMhfZ2ckeGtvqhPWCNqECEGDcGgU2");
  });
  it("b) hard and soft derivation from the phrase", () => {
    expect(keypairFromUri(`${PHRASE}//Alice`).address).toBe(
      "5FEiH8iuDUw271xbqWTWuB6WrDjv5dnCeDX1CyHubAniXDNN",
    );
    expect(keypairFromUri(`${PHRASE}/Alice`).address).toBe(
      "5GNXbA46ma5dg19GXdiKi5JH3mnkZ8Yea3bBtZAvj7t99P9i",
    );
  });
  it("c) dev phrase paths", () => {
    expect(keypairFromUri("//Alice").address).toBe("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    expect(keypairFromUri("//Bob/test").address).toBe("5CJGwWiKXSE16WJaxBdPZhWqUYkotgenLUALv7ZvqQ4TXeqf");
    expect(keypairFromUri("/Bob//test").address).toBe("5Cwc8tShrshDJUp1P1M21dKUTcYQpV9GcfSa4hUBNmMdV3Cx");
    expect(keypairFromUri("//PathNameLongerThan32BytesWhichShouldBeHashed").address).toBe(
      "5GR5pfZeNs1uQiSWVxZaQiZou3wdZiX894eqgvfNfHbEh7W2",
    );
  });
});

describe("verifySignature", () => {
  const alice = () => keypairFromUri("//Alice");
  const bob = () => keypairFromUri("//Bob");

  it("accepts a signature over the UTF-8 text", () => {
    const sig = signText(alice(), "1.a.b.c.d");
    expect(sig).toMatch(/^0x[0-9a-f]{128}$/);
    expect(verifySignature("1.a.b.c.d", sig, alice().address)).toBe(true);
  });
  it("treats a 0x-prefixed string as text, not hex", () => {
    const sig = signText(alice(), "0x1234");
    expect(verifySignature("0x1234", sig, alice().address)).toBe(true);
    expect(verifySignature(new Uint8Array([0x12, 0x34]), sig, alice().address)).toBe(false);
  });
  it("accepts a <Bytes>-wrapped signature (polkadot-js signRaw)", () => {
    const sig = u8aToHex(alice().sign(u8aWrapBytes(new TextEncoder().encode("hello"))));
    expect(verifySignature("hello", sig, alice().address)).toBe(true);
  });
  it("rejects another signer, another message, and malformed input without throwing", () => {
    const sig = signText(alice(), "hello");
    expect(verifySignature("hello", sig, bob().address)).toBe(false);
    expect(verifySignature("hellO", sig, alice().address)).toBe(false);
    expect(verifySignature("hello", "0x1234", alice().address)).toBe(false);
    expect(verifySignature("hello", "Test", alice().address)).toBe(false);
    expect(verifySignature("hello", sig, "not-an-address")).toBe(false);
    expect(verifySignature("hello", `0x${"zz".repeat(64)}`, alice().address)).toBe(false);
    expect(
      verifySignature(
        "Test1231223123123",
        "0x4c291bfb0bb9c1274e86d4b666d13b2ac99a0bacc04a4846fb8ea50bda114677f83c1f164af58fc184451e5140cc8160c4de626163b11451d3bbb208a1889f8a",
        alice().address,
      ),
    ).toBe(false);
  });
});

describe("WASM and JS sr25519 agree", () => {
  it("signatures from the fast path verify with polkadot-js and the other way round", async () => {
    const { sr25519Verify } = await import("@polkadot/util-crypto");
    const { hexToU8a } = await import("@polkadot/util");
    const pair = keypairFromUri("//Charlie");
    const fast = signText(pair, "interop");
    expect(sr25519Verify(new TextEncoder().encode("interop"), hexToU8a(fast), pair.publicKey)).toBe(true);
    expect(pair.verify("interop", hexToU8a(fast), pair.publicKey)).toBe(true);
    const slow = u8aToHex(pair.sign(new TextEncoder().encode("interop")));
    expect(verifySignature("interop", slow, pair.address)).toBe(true);
  });
});
