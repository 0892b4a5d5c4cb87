import fc from "fast-check";
import { expect, it } from "vitest";
import { signWebhook, verifyWebhook } from "./webhooks.ts";

const secret = "whsec_test_secret";

it("accepts exactly what was signed, within the tolerance", () => {
  const body = '{"type":"rental.started"}';
  const header = signWebhook(secret, body, 1_700_000_000);
  expect(verifyWebhook(secret, body, header, { nowSec: 1_700_000_100 })).toBe(true);
  expect(verifyWebhook(secret, body, header, { nowSec: 1_700_000_301 })).toBe(false);
  expect(verifyWebhook(secret, body, header, { nowSec: 1_699_999_000 })).toBe(false);
});

it("refuses malformed headers", () => {
  for (const h of [
    undefined,
    "",
    "t=1",
    "v1=00",
    "t=x,v1=ab",
    `t=1700000000,v1=${"g".repeat(64)}`,
    "garbage",
  ]) {
    expect(verifyWebhook(secret, "{}", h, { nowSec: 1_700_000_000 })).toBe(false);
  }
});

it("any change to body, timestamp, MAC or secret is refused", () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 200 }),
      fc.integer({ min: 1_600_000_000, max: 1_900_000_000 }),
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.nat(63),
      (body, t, other, flip) => {
        const header = signWebhook(secret, body, t);
        expect(verifyWebhook(secret, body, header, { nowSec: t })).toBe(true);
        expect(verifyWebhook(secret, `${body}${other}`, header, { nowSec: t })).toBe(false);
        expect(verifyWebhook(`${secret}${other}`, body, header, { nowSec: t })).toBe(false);
        // Moving the timestamp without the secret breaks the MAC.
        expect(verifyWebhook(secret, body, header.replace(`t=${t}`, `t=${t + 1}`), { nowSec: t })).toBe(
          false,
        );
        const mac = header.split("v1=")[1];
        const flipped = mac.slice(0, flip) + (mac[flip] === "0" ? "1" : "0") + mac.slice(flip + 1);
        expect(verifyWebhook(secret, body, `t=${t},v1=${flipped}`, { nowSec: t })).toBe(false);
      },
    ),
    { numRuns: 300 },
  );
});
