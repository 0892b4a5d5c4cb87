// Shared body of the fuzz-synapses-*.test.ts files. Hostile input against every synapse of a real `cmesh miner` process (local chain over RPC, real dockerd): the
// caller is a staked validator and every request is correctly SIGNED (so it gets past the signature check), but
// its body is random JSON, random text, or an object with the synapse's own field names holding wrong values.
// The miner must answer each with a 2xx/4xx (never 5xx for a client mistake), never crash, keep its memory
// bounded, and still serve a well-formed request afterwards. 10,000 cases per synapse, a file per group (compute,
// proof-of-GPU, jobs, receipts); CMESH_FULL=1: 50,000 per synapse; CMESH_FUZZ_RUNS overrides both.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalChainServer, serveLocalChain } from "@computemesh/chain";
import { LABEL_MINER } from "@computemesh/miner";
import { POG_SYNAPSES } from "@computemesh/pog";
import {
  AllocationStatus,
  Allocate,
  type AxonTarget,
  CountersignReceipt,
  Deallocate,
  Dendrite,
  FetchReceipts,
  JOB_SYNAPSES,
  Specs,
  type SynapseDef,
} from "@computemesh/protocol";
import Docker from "dockerode";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDockerOrSkip } from "../../../packages/miner/src/testing/docker-gate.ts";
import { type MinerTestNet, minerTestNet } from "../../../packages/miner/src/testing/localnet.ts";
import { type CmeshProcess, freePort, spawnCmesh } from "./processes.ts";
import { postRaw, RawSigner } from "./signed-raw.ts";
import { nearValid } from "./zod-arbitrary.ts";

const FULL = process.env.CMESH_FULL === "1";
const NUM_RUNS = Number(process.env.CMESH_FUZZ_RUNS ?? (FULL ? 50_000 : 10_000));
const CONCURRENCY = 16;

export const SYNAPSE_GROUPS: Record<string, readonly SynapseDef[]> = {
  compute: [Specs, Allocate, Deallocate, AllocationStatus],
  pog: POG_SYNAPSES as unknown as SynapseDef[],
  jobs: JOB_SYNAPSES as unknown as SynapseDef[],
  receipts: [CountersignReceipt, FetchReceipts],
};

const nasty = fc.constantFrom(
  "",
  "0",
  "-1",
  "null",
  "💥",
  "../../etc/passwd",
  "a".repeat(300),
  "ssh-ed25519 AAAA",
  "deadbeef",
  "00".repeat(16),
  "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
  "00000000-0000-0000-0000-000000000000",
);
const value: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: "small" },
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  nasty,
  fc.constantFrom(null, true, false, [], {}, -1, 0, 2 ** 31, Number.MAX_SAFE_INTEGER, 1e300),
  fc.dictionary(
    fc.constantFrom("count", "capacity", "model", "index", "path", "gpu", "cpu"),
    fc.jsonValue(),
    {
      maxKeys: 3,
    },
  ),
);
/**
 * Generating schema-shaped values (regex-matching strings above all) costs milliseconds each, so each synapse
 * draws from a pool of 64 made once (seeded) and the fuzzer varies them by swapping fields.
 */
const pools = new Map<string, fc.Arbitrary<object>>();
function nearValidPool(def: SynapseDef): fc.Arbitrary<object> {
  let pool = pools.get(def.name);
  if (!pool) {
    const values = fc.sample(nearValid(def.request), { numRuns: 64, seed: 9 }) as object[];
    pool = fc.constantFrom(...values);
    pools.set(def.name, pool);
  }
  return pool;
}

function bodyFor(def: SynapseDef): fc.Arbitrary<string> {
  const fields = Object.keys(def.request.shape);
  return fc.oneof(
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    // Near-valid (every field shaped as the schema wants), then one field swapped for a hostile value.
    { weight: 3, arbitrary: nearValidPool(def).map((o) => JSON.stringify(o)) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(nearValidPool(def), fields.length ? fc.constantFrom(...fields) : fc.constant("x"), value)
        .map(([o, k, v]) => JSON.stringify({ ...(o as object), [k]: v })),
    },
    {
      weight: 3,
      arbitrary: fc
        .dictionary(fields.length ? fc.constantFrom(...fields) : fc.string({ maxLength: 6 }), value, {
          maxKeys: Math.max(1, fields.length),
        })
        .map((o) => JSON.stringify(o)),
    },
  );
}

function vmRssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** One synapse group's suite: its own `cmesh miner` process, so the groups run in parallel files. */
export async function synapseFuzzSuite(
  group: keyof typeof SYNAPSE_GROUPS & string,
  portBase: number,
): Promise<void> {
  const dockerOk = await requireDockerOrSkip(`fuzz of the ${group} synapses of a cmesh miner`);
  const defs = SYNAPSE_GROUPS[group];
  describe.skipIf(!dockerOk)(`${group} synapses of a cmesh miner under signed hostile bodies`, () => {
    const docker = new Docker({ socketPath: "/var/run/docker.sock" });
    let net: MinerTestNet;
    let rpc: LocalChainServer;
    let miner: CmeshProcess;
    let target: AxonTarget;
    let signer: RawSigner;
    const statusCounts: Record<string, Record<number, number>> = {};
    const rssGrowthMiB: Record<string, number> = {};

    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), "cmesh-fuzz-syn-"));
      net = await minerTestNet(dir, `fz${process.pid}`);
      rpc = await serveLocalChain(net.chain, { host: "127.0.0.1", port: 0 });
      const axonPort = await freePort();
      miner = await spawnCmesh(
        [
          "miner",
          "--wallet.path",
          net.walletPath,
          "--wallet.name",
          net.minerWallet.name,
          "--wallet.hotkey",
          net.minerWallet.hotkey,
          "--chain",
          rpc.url,
          "--netuid",
          String(net.netuid),
          "--axon.host",
          "127.0.0.1",
          "--axon.port",
          String(axonPort),
          "--data-dir",
          join(dir, "miner-data"),
          "--ssh.host",
          "127.0.0.1",
          "--ssh.port-range",
          `${portBase}-${portBase + 4}`,
          "--metrics.port",
          "0",
          "--miner.min-validator-stake",
          "1000",
        ],
        "miner ready",
      );
      target = { ip: "127.0.0.1", port: axonPort, hotkey: net.minerHotkeyAddress };
      signer = new RawSigner(net.validator);
    }, 120_000);

    afterAll(async () => {
      console.log(`fuzz-synapses status histogram: ${JSON.stringify(statusCounts)}`);
      console.log(`fuzz-synapses miner RSS growth (MiB) per group: ${JSON.stringify(rssGrowthMiB)}`);
      await miner?.stop();
      const filters = { label: [`${LABEL_MINER}=${net?.minerHotkeyAddress}`] };
      for (const c of await docker.listContainers({ all: true, filters }))
        await docker.getContainer(c.Id).remove({ force: true, v: true });
      await rpc?.close();
      await net?.chain.close();
    });

    it("a signed, well-formed Specs query is answered (the harness reaches the handlers)", async () => {
      const r = await new Dendrite({ hotkey: net.validator }).query(target, Specs, {});
      expect(r.ok).toBe(true);
    });
    it(`${group}: ${NUM_RUNS} per synapse (${defs.length}) — no 5xx, no crash, memory bounded`, async () => {
      const counts: Record<number, number> = {};
      statusCounts[group] = counts;
      const rssBefore = vmRssMiB(miner.child.pid!);
      const bad: string[] = [];
      const slowest = new Map<string, { ms: number; status: number; body: string }>();
      for (const batch of defs.map((d) => [d])) {
        // fc.sample + a pool of CONCURRENCY requests in flight (the miner is another process, so this is what
        // makes 10,000 signed requests per synapse fit in CI); every failing input is reported as is.
        const cases = fc.sample(
          fc.constantFrom(...batch).chain((def) => fc.tuple(fc.constant(def), bodyFor(def))),
          { numRuns: NUM_RUNS, seed: Number(process.env.CMESH_FUZZ_SEED ?? 9) },
        );
        let next = 0;
        const worker = async () => {
          while (next < cases.length) {
            const [def, body] = cases[next++];
            const { headers } = signer.sign(target, def, body);
            const t0 = performance.now();
            const res = await postRaw(target.port, `/${def.name}`, headers, body).catch((err: Error) => ({
              status: 0,
              text: err.message,
            }));
            counts[res.status] = (counts[res.status] ?? 0) + 1;
            const ms = performance.now() - t0;
            if (ms > (slowest.get(def.name)?.ms ?? 0)) slowest.set(def.name, { ms, status: res.status, body });
            if (res.status >= 500 || res.status < 200) {
              bad.push(`${def.name} ${res.status} ${res.text.slice(0, 300)} ← ${body.slice(0, 300)}`);
            }
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      }
      for (const [name, x] of slowest)
        if (x.ms > 1000)
          console.log(`fuzz-synapses slowest ${name}: ${Math.round(x.ms)} ms → ${x.status} ← ${x.body.slice(0, 300)}`);
      expect(bad.slice(0, 5)).toEqual([]);
      expect(miner.child.exitCode).toBeNull();
      const growth = vmRssMiB(miner.child.pid!) - rssBefore;
      rssGrowthMiB[group] = Math.round(growth);
      expect(growth).toBeLessThan(300);
      // Still serving properly.
      const r = await new Dendrite({ hotkey: net.validator }).query(target, AllocationStatus, {
        allocation_id: "",
      });
      expect(r.ok).toBe(true);
    }, FULL ? 3_600_000 : 900_000);
  });
}
