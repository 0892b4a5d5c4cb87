// `npm run bench -- pog`: (a) validator CPU time to verify one proof-of-GPU round against the honest compute time
// of the same workload on the CPU backend; (b) the CPU backend's int8 GEMM against a C reference compiled here
// with `gcc -O3 -march=native`. Prints one JSON object.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  CpuBackend,
  DEFAULT_SAMPLES,
  drawIndices,
  gemmInt8,
  prepareInt8Gemm,
  verifyGemmOpening,
  workloadOps,
} from "@computemesh/pog";

const run = promisify(execFile);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// (a) verify vs honest compute ---------------------------------------------------------------------------------
const spec = { seed: Uint8Array.from({ length: 32 }, (_, i) => i * 7), n: 1024, m: 8 };
const backend = new CpuBackend();
const c0 = cpuMs();
const commitment = await backend.commitGemm(spec);
const honestMs = cpuMs() - c0;
const indices = drawIndices(commitment.leafCount, DEFAULT_SAMPLES);
const answer = await commitment.open(indices);
const v0 = cpuMs();
const check = verifyGemmOpening(spec, commitment.root, indices, answer);
const verifyMs = cpuMs() - v0;
if (!check.ok) throw new Error(`bench: honest round failed verification: ${check.message}`);

// (b) TS int8 GEMM vs C -O3 -march=native ------------------------------------------------------------------------
const n = 512;
const a = Int8Array.from({ length: n * n }, (_, i) => ((i * 2654435761) >>> 24) - 128);
const b = Int8Array.from({ length: n * n }, (_, i) => ((i * 2246822519 + 7) >>> 24) - 128);
const reps = 3;
// the CPU backend's kernel (WebAssembly SIMD where available) and the plain TypeScript loop
const kernel = prepareInt8Gemm(b, n, n);
kernel.multiply(a, n);
let backendOut: Int32Array = new Int32Array(0);
const k0 = cpuMs();
for (let r = 0; r < reps; r++) backendOut = kernel.multiply(a, n);
const backendSec = (cpuMs() - k0) / 1000 / reps;
let tsOut: Int32Array = new Int32Array(0);
const t0 = cpuMs();
for (let r = 0; r < reps; r++) tsOut = gemmInt8(a, b, n, n, n);
const tsSec = (cpuMs() - t0) / 1000 / reps;
const checksum = (c: Int32Array) => c.reduce((s, x, i) => (s + x * ((i % 13) + 1)) % 2147483647, 0);

const dir = await mkdtemp(join(tmpdir(), "cmesh-bench-pog-"));
const cSource = `
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
int main(int argc, char** argv) {
  int n = atoi(argv[2]), reps = atoi(argv[3]);
  int8_t* a = malloc((size_t)n * n); int8_t* b = malloc((size_t)n * n); int32_t* c = malloc((size_t)n * n * 4);
  FILE* f = fopen(argv[1], "rb");
  if (fread(a, 1, (size_t)n * n, f) != (size_t)n * n || fread(b, 1, (size_t)n * n, f) != (size_t)n * n) return 2;
  fclose(f);
  struct timespec s, e;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &s);
  for (int r = 0; r < reps; r++) {
    memset(c, 0, (size_t)n * n * 4);
    for (int i = 0; i < n; i++)
      for (int k = 0; k < n; k++) {
        int32_t av = a[(size_t)i * n + k];
        const int8_t* br = b + (size_t)k * n; int32_t* cr = c + (size_t)i * n;
        for (int j = 0; j < n; j++) cr[j] += av * br[j];
      }
  }
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &e);
  long long sum = 0;
  for (size_t i = 0; i < (size_t)n * n; i++) sum = (sum + (long long)c[i] * (long long)((i % 13) + 1)) % 2147483647;
  if (sum < 0) sum += 2147483647;
  printf("%.9f %lld\\n", ((e.tv_sec - s.tv_sec) + (e.tv_nsec - s.tv_nsec) / 1e9) / reps, sum);
  return 0;
}
`;
let cSec: number;
let cChecksum: number;
try {
  await writeFile(join(dir, "gemm.c"), cSource);
  await writeFile(join(dir, "ab.bin"), Buffer.concat([Buffer.from(a.buffer), Buffer.from(b.buffer)]));
  await run("gcc", ["-O3", "-march=native", "-o", join(dir, "gemm"), join(dir, "gemm.c")]);
  const { stdout } = await run(join(dir, "gemm"), [join(dir, "ab.bin"), String(n), "10"]);
  [cSec, cChecksum] = stdout.trim().split(" ").map(Number);
} finally {
  await rm(dir, { recursive: true, force: true });
}
const norm = (c: Int32Array) => ((checksum(c) % 2147483647) + 2147483647) % 2147483647;
const gops = (sec: number) => (2 * n ** 3) / sec / 1e9;

process.stdout.write(
  `${JSON.stringify(
    {
      bench: "pog",
      verify_vs_compute: {
        workload: { n: spec.n, m: spec.m, ops: workloadOps(spec), samples: DEFAULT_SAMPLES },
        honest_compute_cpu_ms: round(honestMs),
        validator_verify_cpu_ms: round(verifyMs),
        unit: "CPU milliseconds (process.cpuUsage)",
        baseline: "honest compute of the same workload on the CPU backend, same run",
        ratio_verify_over_compute: round(verifyMs / honestMs, 5),
      },
      int8_gemm: {
        n,
        cpu_backend_kernel: kernel.kind,
        cpu_backend_gops: round(gops(backendSec)),
        plain_typescript_gops: round(gops(tsSec)),
        c_reference_gops: round(gops(cSec)),
        unit: "GOPS (2·n³ int8 multiply-adds per CPU second, single thread; C timed with CLOCK_PROCESS_CPUTIME_ID)",
        baseline: "C i-k-j loop, gcc -O3 -march=native, same matrices, same run",
        results_identical: norm(backendOut) === cChecksum && norm(tsOut) === cChecksum,
        ratio_cpu_backend_over_c: round(cSec / backendSec, 4),
        ratio_plain_typescript_over_c: round(cSec / tsSec, 4),
      },
    },
    null,
    2,
  )}\n`,
);

function round(x: number, digits = 2): number {
  return Number(x.toFixed(digits));
}
