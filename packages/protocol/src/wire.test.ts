import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { cryptoReady, keypairFromUri, signText, verifySignature } from "./crypto.ts";
import { computeBodyHash } from "./pystr.ts";
import { defineSynapse } from "./synapse.ts";
import { requestSigningMessage } from "./verify.ts";
import {
  emptyTerminal,
  HeaderParseError,
  parseSynapseHeaders,
  type SynapseEnvelope,
  synapseHeaders,
  synapseToJson,
  timeNs,
  uuid1,
} from "./wire.ts";

const PHRASE = "old leopard transfer rib spatial phone calm indicate online fire caution review";
const Dummy = defineSynapse({
  name: "Dummy",
  request: z.object({ dummy_input: z.int() }),
  response: z.object({ dummy_output: z.int() }),
  hashFields: [],
});

beforeAll(() => cryptoReady());

function exampleEnvelope(signature: string): SynapseEnvelope {
  return {
    name: "Dummy",
    timeout: 12,
    total_size: 3456,
    header_size: 640,
    dendrite: {
      ...emptyTerminal(),
      ip: "198.51.100.4",
      version: 10002000,
      nonce: 1767225600123456789n,
      uuid: "2f1c0c4e-e6f1-11f0-9a3b-0242ac120002",
      hotkey: "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX",
      signature,
    },
    axon: {
      ...emptyTerminal(),
      ip: "203.0.113.7",
      port: 8091,
      hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
    },
    computed_body_hash: "",
  };
}

describe("reference §1.9 example", () => {
  const bodyHash = computeBodyHash(Dummy.hashFields, { dummy_input: 5 });
  const message = requestSigningMessage(
    1767225600123456789n,
    "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX",
    "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
    "2f1c0c4e-e6f1-11f0-9a3b-0242ac120002",
    bodyHash,
  );

  it("signs the documented message with the §2.6 key", () => {
    expect(message).toBe(
      "1767225600123456789.5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX.5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY.2f1c0c4e-e6f1-11f0-9a3b-0242ac120002.a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
    );
    const sig = signText(keypairFromUri(PHRASE), message);
    expect(verifySignature(message, sig, "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX")).toBe(true);
  });

  it("builds exactly the documented headers, in order", () => {
    const sig = signText(keypairFromUri(PHRASE), message);
    const headers = synapseHeaders(Dummy, exampleEnvelope(sig), bodyHash, { dummy_input: 5 });
    expect(Object.entries(headers)).toEqual([
      ["name", "Dummy"],
      ["timeout", "12.0"],
      ["bt_header_axon_ip", "203.0.113.7"],
      ["bt_header_axon_port", "8091"],
      ["bt_header_axon_hotkey", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"],
      ["bt_header_dendrite_ip", "198.51.100.4"],
      ["bt_header_dendrite_version", "10002000"],
      ["bt_header_dendrite_nonce", "1767225600123456789"],
      ["bt_header_dendrite_uuid", "2f1c0c4e-e6f1-11f0-9a3b-0242ac120002"],
      ["bt_header_dendrite_hotkey", "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX"],
      ["bt_header_dendrite_signature", sig],
      ["bt_header_input_obj_dummy_input", "MA=="],
      ["header_size", "640"],
      ["total_size", "3456"],
      ["computed_body_hash", "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"],
    ]);
  });

  it("builds the documented body with an exact nonce and response fields as null", () => {
    const env = { ...exampleEnvelope("0xsig"), header_size: 0 };
    expect(synapseToJson(Dummy, env, { dummy_input: 5 }, null)).toBe(
      '{"name":"Dummy","timeout":12.0,"total_size":3456,"header_size":0,' +
        '"dendrite":{"status_code":null,"status_message":null,"process_time":null,"ip":"198.51.100.4","port":null,' +
        '"version":10002000,"nonce":1767225600123456789,"uuid":"2f1c0c4e-e6f1-11f0-9a3b-0242ac120002",' +
        '"hotkey":"5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX","signature":"0xsig"},' +
        '"axon":{"status_code":null,"status_message":null,"process_time":null,"ip":"203.0.113.7","port":8091,' +
        '"version":null,"nonce":null,"uuid":null,"hotkey":"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY","signature":null},' +
        '"computed_body_hash":"","dummy_input":5,"dummy_output":null}',
    );
  });

  it("parses its own headers back (as the axon does)", () => {
    const headers = synapseHeaders(Dummy, exampleEnvelope("0xabc"), bodyHash, { dummy_input: 5 });
    const parsed = parseSynapseHeaders(headers);
    expect(parsed.name).toBe("Dummy");
    expect(parsed.timeout).toBe(12);
    expect(parsed.computedBodyHash).toBe(bodyHash);
    expect(parsed.dendrite.nonce).toBe(1767225600123456789n);
    expect(parsed.dendrite.version).toBe(10002000);
    expect(parsed.axon.port).toBe(8091);
    expect(parsed.dendrite.signature).toBe("0xabc");
  });
});

describe("header parsing rejects malformed values", () => {
  it.each([
    [{ bt_header_dendrite_nonce: "12x" }],
    [{ bt_header_dendrite_nonce: "-5" }],
    [{ bt_header_axon_port: "eighty" }],
    [{ bt_header_dendrite_version: "1e309" }],
    [{ bt_header_dendrite_process_time: "fast" }],
    [{ header_size: "1.5" }],
    [{ total_size: "" }],
    [{ timeout: "soon" }],
    [{ timeout: "-1" }],
  ])("%j", (headers) => {
    expect(() => parseSynapseHeaders(headers)).toThrow(HeaderParseError);
  });
  it("ignores unrelated headers and unknown terminal fields", () => {
    const p = parseSynapseHeaders({ "x-other": "1", bt_header_dendrite_colour: "red" });
    expect(p.dendrite).toEqual(emptyTerminal());
  });
});

describe("helpers", () => {
  it("uuid1 has the version-1 layout and differs each call", () => {
    const a = uuid1();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuid1()).not.toBe(a);
  });
  it("timeNs is wall-clock nanoseconds and strictly increasing", () => {
    const a = timeNs();
    const b = timeNs();
    expect(b > a).toBe(true);
    expect(Number(a / 1_000_000n) - Date.now()).toBeLessThan(1000);
  });
});
