// `npm run bench -- allocate`: time from a validator's Allocate request to the renter's first successful SSH
// command, through the whole miner (dendrite → axon → access policy → store → Docker → sshd), against a bare
// `docker run` of the same image plus ssh, in the same run. Image cached; 20 rounds each; p50 and p95 in ms.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startMiner } from "@computemesh/miner";
import { Allocate, Deallocate, Dendrite } from "@computemesh/protocol";
import ssh2 from "ssh2";
import { RENTAL_IMAGE, dockerUnavailableReason } from "../packages/miner/src/testing/docker-gate.ts";
import { minerTestNet } from "../packages/miner/src/testing/localnet.ts";
import { makeKeyPair, sshUntilOk } from "../packages/miner/src/testing/openssh.ts";

const ROUNDS = Number(process.env.CMESH_BENCH_ROUNDS ?? 20);
const MiB = 1024 * 1024;
const run = promisify(execFile);
const progress = (msg: string) => process.stderr.write(`[bench allocate] ${msg}\n`);

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function summary(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return {
    p50: Math.round(percentile(s, 50)),
    p95: Math.round(percentile(s, 95)),
    min: Math.round(s[0]),
    max: Math.round(s[s.length - 1]),
  };
}

const reason = await dockerUnavailableReason();
if (reason) {
  process.stderr.write(`bench allocate needs Docker and the rental image: ${reason}\n`);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), "cmesh-bench-alloc-"));
const net = await minerTestNet(dir, `bench${process.pid}`);
const renter = await makeKeyPair();
const miner = await startMiner(
  {
    wallet: { ...net.minerWallet, path: net.walletPath },
    chain: "in-process",
    netuid: net.netuid,
    axon: { port: 0, host: "127.0.0.1" },
    dataDir: join(dir, "miner"),
    ssh: { bindHost: "127.0.0.1", portRange: [42500, 42549] },
    images: { default: RENTAL_IMAGE, allowed: [] },
    access: { minValidatorStakeRao: 1000n * 1_000_000_000n },
    jobs: false,
    logLevel: "silent",
  },
  { chain: net.chain.client() },
);
const target = { ip: "127.0.0.1", port: miner.axon.port, hotkey: miner.hotkey };
const validator = new Dendrite({ hotkey: net.validator });

const minerSamples: number[] = [];
try {
  progress(`miner path: ${ROUNDS} rounds of Allocate → first ssh command → Deallocate`);
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const res = await validator.query(target, Allocate, {
      resources: {
        cpu: { count: 1 },
        gpu: { count: 0 },
        hard_disk: { capacity: 64 * MiB },
        ram: { capacity: 256 * MiB },
      },
      ssh_public_key: renter.publicLine,
      image: "",
      duration_sec: 600,
    });
    if (!res.ok) throw new Error(`Allocate failed: ${res.status} ${res.message}`);
    const ssh = res.response.allocation.ssh!;
    const out = await sshUntilOk(
      { host: ssh.host, port: ssh.port, hostPublicKey: ssh.host_public_key },
      renter.privatePath,
      "true",
    );
    if (out.code !== 0) throw new Error(`ssh never succeeded: ${out.stderr}`);
    minerSamples.push(performance.now() - t0);
    const end = await validator.query(target, Deallocate, {
      allocation_id: res.response.allocation.allocation_id,
    });
    if (!end.ok) throw new Error(`Deallocate failed: ${end.message}`);
  }
} finally {
  await miner.stop();
  await net.chain.close();
}

// Baseline: the same image with the same sshd, started by a bare `docker run` with the keys bind-mounted.
const keyDir = join(dir, "bare");
mkdirSync(keyDir, { recursive: true, mode: 0o700 });
const hostKey = ssh2.utils.generateKeyPairSync("ed25519");
writeFileSync(join(keyDir, "authorized_keys"), `${renter.publicLine}\n`, { mode: 0o600 });
writeFileSync(join(keyDir, "ssh_host_ed25519_key"), hostKey.private, { mode: 0o600 });
const baselineSamples: number[] = [];
progress(`baseline: ${ROUNDS} rounds of bare docker run → first ssh command → docker rm -f`);
for (let i = 0; i < ROUNDS; i++) {
  const port = 42550 + (i % 10);
  const name = `cmesh-bench-bare-${process.pid}-${i}`;
  const t0 = performance.now();
  await run("docker", [
    "run",
    "-d",
    "--init",
    "--name",
    name,
    "--label",
    "computemesh.managed=true",
    "-p",
    `127.0.0.1:${port}:22`,
    "-v",
    `${join(keyDir, "authorized_keys")}:/root/.ssh/authorized_keys:ro`,
    "-v",
    `${join(keyDir, "ssh_host_ed25519_key")}:/etc/ssh/ssh_host_ed25519_key:ro`,
    "--entrypoint",
    "/bin/sh",
    RENTAL_IMAGE,
    "-c",
    "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e",
  ]);
  const out = await sshUntilOk(
    { host: "127.0.0.1", port, hostPublicKey: hostKey.public.trim() },
    renter.privatePath,
    "true",
  );
  baselineSamples.push(performance.now() - t0);
  await run("docker", ["rm", "-f", name]);
  if (out.code !== 0) throw new Error(`baseline ssh never succeeded: ${out.stderr}`);
}

const minerStats = summary(minerSamples);
const baseStats = summary(baselineSamples);
process.stdout.write(
  `${JSON.stringify({
    bench: "allocate",
    unit: "ms",
    rounds: ROUNDS,
    measure: "Allocate request sent → first successful `ssh … true` (image cached)",
    miner: minerStats,
    baseline: { what: "bare `docker run` of the same image + ssh", ...baseStats },
    ratio_p50: Number((minerStats.p50 / baseStats.p50).toFixed(2)),
    ratio_p95: Number((minerStats.p95 / baseStats.p95).toFixed(2)),
  })}\n`,
);
