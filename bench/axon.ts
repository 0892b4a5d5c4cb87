// `npm run bench -- axon`: signed synapse round trips per second (Dendrite → Axon on loopback) against a plain
// Fastify route answering the same body, measured in the same run with the same client concurrency.
// The servers run in a child process so client and server do not share one event loop. Each signed round trip
// costs one sr25519 signature in the dendrite, one verification and one counter-signature in the axon.
import { fork } from "node:child_process";
import http from "node:http";
import { fileURLToPath } from "node:url";
import {
  Axon,
  cryptoReady,
  Dendrite,
  defineSynapse,
  keypairFromUri,
  signText,
  verifySignature,
} from "@computemesh/protocol";
import Fastify from "fastify";
import { z } from "zod";
import { postOnce } from "../packages/protocol/src/http-client.ts";

const Echo = defineSynapse({
  name: "Echo",
  request: z.object({ text: z.string(), n: z.int() }),
  response: z.object({ text: z.string(), n: z.int() }),
});

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

async function serve(): Promise<void> {
  await cryptoReady();
  const axon = new Axon({ hotkey: keypairFromUri("//Alice"), port: 0, maxConcurrency: 64 });
  axon.attach(Echo, async (req) => ({ text: req.text, n: req.n }));
  await axon.start();
  const plain = Fastify({ logger: false });
  plain.post("/Echo", async (req) => {
    const body = req.body as { text: string; n: number };
    return { ...(req.body as object), text: body.text, n: body.n };
  });
  await plain.listen({ host: "127.0.0.1", port: 0 });
  const plainPort = (plain.server.address() as { port: number }).port;
  process.send?.({ axonPort: axon.port, axonHotkey: axon.hotkey, plainPort });
  process.on("disconnect", () => process.exit(0));
}

async function loop(
  seconds: number,
  once: () => Promise<boolean>,
): Promise<{ perSec: number; failures: number }> {
  const end = performance.now() + seconds * 1000;
  let ok = 0;
  let failures = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        if (await once()) ok++;
        else failures++;
      }
    }),
  );
  return { perSec: ok / ((performance.now() - start) / 1000), failures };
}

/** Cost of the signature work alone in this process (the axon adds a verify and a counter-signature). */
function measureCrypto(): { signMs: number; verifyMs: number } {
  const pair = keypairFromUri("//Bob");
  const n = 200;
  let sig = "";
  let t = performance.now();
  for (let i = 0; i < n; i++) sig = signText(pair, `message ${i}`);
  const signMs = (performance.now() - t) / n;
  t = performance.now();
  for (let i = 0; i < n; i++) verifySignature(`message ${n - 1}`, sig, pair.address);
  const verifyMs = (performance.now() - t) / n;
  return { signMs: Number(signMs.toFixed(3)), verifyMs: Number(verifyMs.toFixed(3)) };
}

async function main(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ["--serve"], {
    execArgv: ["--import", "tsx"],
    stdio: "inherit",
  });
  const ports = await new Promise<{ axonPort: number; axonHotkey: string; plainPort: number }>((resolve) =>
    child.once("message", (m) => resolve(m as never)),
  );
  try {
    await cryptoReady();
    const dendrite = new Dendrite({ hotkey: keypairFromUri("//Bob") });
    const target = { ip: "127.0.0.1", port: ports.axonPort, hotkey: ports.axonHotkey };
    const request = { text: "hello from the benchmark", n: 42 };
    const body = dendrite.prepare(target, Echo, request, 12).body;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

    const signed = async () => (await dendrite.query(target, Echo, request)).ok;
    const baseline = async () => {
      const res = await postOnce({
        host: "127.0.0.1",
        port: ports.plainPort,
        path: "/Echo",
        headers: { "content-type": "application/json" },
        body,
        timeoutMs: 12_000,
        maxResponseBytes: 1 << 20,
        agent,
      });
      return res.status === 200 && (JSON.parse(res.text) as { n?: number }).n === 42;
    };
    await loop(1, signed);
    await loop(1, baseline);
    const b = await loop(SECONDS, baseline);
    const s = await loop(SECONDS, signed);
    const crypto = measureCrypto();
    process.stdout.write(
      `${JSON.stringify({
        figure: Math.round(s.perSec),
        unit: "signed synapse round trips/s (Dendrite→Axon, loopback)",
        baseline: Math.round(b.perSec),
        baseline_unit:
          "round trips/s, plain Fastify POST route, same JSON body, same node:http keep-alive client, no signing",
        ratio: Number((s.perSec / b.perSec).toFixed(3)),
        concurrency: CONCURRENCY,
        seconds: SECONDS,
        body_bytes: Buffer.byteLength(body),
        failures: s.failures + b.failures,
        sr25519_sign_ms: crypto.signMs,
        sr25519_verify_ms: crypto.verifyMs,
      })}\n`,
    );
  } finally {
    child.disconnect();
  }
}

if (process.argv.includes("--serve")) await serve();
else await main();
