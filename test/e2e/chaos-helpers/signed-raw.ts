// Test support: a correctly SIGNED synapse request whose body is anything at all (the dendrite only signs
// schema-valid requests), sent over one reused keep-alive connection pool. Lets a fuzzer get past the axon's
// signature check and reach body validation and the handlers.
import http from "node:http";
import {
  type AxonTarget,
  computeBodyHash,
  Dendrite,
  defineSynapse,
  type KeyringPair,
  requestSigningMessage,
  type SynapseDef,
  signText,
} from "@computemesh/protocol";
import { z } from "zod";

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

export interface RawAnswer {
  status: number;
  text: string;
}

export function postRaw(
  port: number,
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: "POST", headers, agent, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer in 30 s")));
    req.on("error", reject);
    req.end(body);
  });
}

/** Signs `body` for `def` as `pair` would: the body hash is the real one when the body parses, else "". */
export class RawSigner {
  private readonly dendrite: Dendrite;
  private readonly shells = new Map<string, SynapseDef>();

  constructor(private readonly pair: KeyringPair) {
    this.dendrite = new Dendrite({ hotkey: pair });
  }

  sign(target: AxonTarget, def: SynapseDef, body: string): { headers: Record<string, string> } {
    let shell = this.shells.get(def.name);
    if (!shell) {
      shell = defineSynapse({ name: def.name, request: z.object({}), response: z.object({}) });
      this.shells.set(def.name, shell);
    }
    const p = this.dendrite.prepare(target, shell, {}, def.timeoutSec);
    let bodyHash = "";
    try {
      const parsed = def.request.safeParse(JSON.parse(body));
      if (parsed.success) {
        bodyHash = computeBodyHash(
          def.hashFields,
          parsed.data as Record<string, unknown>,
          def.request.shape as Record<string, z.ZodType>,
        );
      }
    } catch {
      // not JSON: the axon answers 422 before it looks at the hash
    }
    const nonce = BigInt(p.headers.bt_header_dendrite_nonce);
    const uuid = p.headers.bt_header_dendrite_uuid;
    const headers: Record<string, string> = { ...p.headers, computed_body_hash: bodyHash };
    headers.bt_header_dendrite_signature = signText(
      this.pair,
      requestSigningMessage(nonce, this.pair.address, target.hotkey, uuid, bodyHash),
    );
    return { headers };
  }
}
