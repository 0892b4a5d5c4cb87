// Shared setup of the proof-of-GPU end-to-end tests: a miner axon on 127.0.0.1 and a validator dendrite.
import { CpuBackend, type PogBackend, attachPogResponder } from "@computemesh/pog";
import { Axon, cryptoReady, Dendrite, keypairFromUri } from "@computemesh/protocol";

export interface MinerHandle {
  axon: Axon;
  target: { ip: string; port: number; hotkey: string };
  stop(): Promise<void>;
}

export async function startMiner(opts: {
  uri: string;
  backend?: PogBackend;
  gpus: { model: string; count: number; uuids: string[] };
  attach?: (axon: Axon) => void;
}): Promise<MinerHandle> {
  await cryptoReady();
  const axon = new Axon({ hotkey: keypairFromUri(opts.uri), port: 0, host: "127.0.0.1" });
  if (opts.attach) opts.attach(axon);
  else attachPogResponder(axon, { backend: opts.backend ?? new CpuBackend(), gpus: opts.gpus });
  await axon.start();
  return { axon, target: axon.target(), stop: () => axon.stop() };
}

export async function validatorDendrite(uri = "//Alice"): Promise<Dendrite> {
  await cryptoReady();
  return new Dendrite({ hotkey: keypairFromUri(uri) });
}

/** A deterministic index source (mulberry32) so statistical tests use fixed seeds. */
export function seededRandom(seed: number): (max: number) => number {
  let a = seed >>> 0;
  return (max: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(u * max);
  };
}
