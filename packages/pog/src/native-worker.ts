// The native proof-of-GPU worker (packages/pog/cuda/pog_worker.cu): building it with nvcc, and a backend that
// drives it over its line protocol. On a machine with an NVIDIA GPU it computes on the tensor cores
// (kind "cuda"); with `host: true` the same binary runs every step on the CPU (kind "cpu"), which is how the
// build is checked against the TypeScript backend where no GPU exists.
import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CmeshError } from "@computemesh/core";
import type { BackendKind, Commitment, OpenedLeaf, PogBackend } from "./backend.ts";
import { validateVramSpec, type VramSpec } from "./vram.ts";
import { validateWorkload, type WorkloadSpec } from "./workload.ts";

export const CUDA_WORKER_SOURCE = fileURLToPath(new URL("../cuda/pog_worker.cu", import.meta.url));
/** Compute capabilities built by default: Ampere (A100, A-series), GA10x, Ada (L4, L40, 4090), Hopper (H100, H200). */
export const DEFAULT_CUDA_ARCHS = ["80", "86", "89", "90"];

/** Finds nvcc on PATH or in /usr/local/cuda/bin; null when absent. */
export async function findNvcc(): Promise<string | null> {
  try {
    const { stdout } = await promisify(execFile)("sh", ["-c", "command -v nvcc"]);
    if (stdout.trim()) return stdout.trim();
  } catch {
    // not on PATH
  }
  return existsSync("/usr/local/cuda/bin/nvcc") ? "/usr/local/cuda/bin/nvcc" : null;
}

/** Compiles the worker; returns the binary's path. Throws NVCC_NOT_FOUND or CUDA_BUILD_FAILED. */
export async function buildCudaWorker(opts: {
  outDir: string;
  archs?: string[];
  nvcc?: string;
}): Promise<string> {
  const nvcc = opts.nvcc ?? (await findNvcc());
  if (!nvcc) {
    throw new CmeshError("NVCC_NOT_FOUND", "nvcc (the CUDA compiler) is not installed", {
      hint: "install the CUDA toolkit, or put nvcc on PATH",
    });
  }
  await mkdir(opts.outDir, { recursive: true });
  const out = join(opts.outDir, "pog_worker");
  const gencode = (opts.archs ?? DEFAULT_CUDA_ARCHS).flatMap((a) => [
    "-gencode",
    `arch=compute_${a},code=sm_${a}`,
  ]);
  try {
    await promisify(execFile)(nvcc, ["-O3", "-std=c++17", ...gencode, "-o", out, CUDA_WORKER_SOURCE], {
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new CmeshError("CUDA_BUILD_FAILED", `nvcc failed: ${(e.stderr || e.message).slice(0, 4000)}`, {
      cause: err,
    });
  }
  return out;
}

export class NativeWorkerBackend implements PogBackend {
  readonly kind: BackendKind;
  readonly simulated = false;
  private proc: ChildProcessWithoutNullStreams | undefined;
  private lines: Interface | undefined;
  private readonly queue: ((line: string) => void)[] = [];
  /** Lines that arrived before anyone waited for them (readline emits a whole chunk's lines at once). */
  private readonly buffered: string[] = [];
  private busy: Promise<unknown> = Promise.resolve();
  private exited: string | undefined;

  /** `hostDevices` (with `host`) emulates the split over several GPUs on the CPU, to check it bit for bit. */
  constructor(private readonly opts: { binary: string; host?: boolean; hostDevices?: number }) {
    this.kind = opts.host ? "cpu" : "cuda";
  }

  /** Starts the worker and waits for its "ready" line. */
  async start(): Promise<void> {
    const proc = spawn(this.opts.binary, this.opts.host ? ["--host"] : [], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.proc = proc;
    this.lines = createInterface({ input: proc.stdout });
    this.lines.on("line", (line) => {
      const waiter = this.queue.shift();
      if (waiter) waiter(line);
      else this.buffered.push(line);
    });
    proc.stdin.on("error", () => {
      // the worker exited; the "exit" handler below answers whoever waits
    });
    proc.on("exit", (code) => {
      this.exited = `err worker exited with code ${code}`;
      for (const waiter of this.queue.splice(0)) waiter(this.exited);
    });
    const ready = await this.nextLine();
    if (!ready.startsWith("ready")) {
      this.stop();
      throw new CmeshError("POG_WORKER_FAILED", `the proof-of-GPU worker did not start: ${ready}`);
    }
  }

  stop(): void {
    if (this.proc && !this.exited) this.proc.stdin.end("quit\n");
    this.proc = undefined;
  }

  async commitGemm(spec: WorkloadSpec): Promise<Commitment> {
    validateWorkload(spec);
    return this.commit(`gemm ${Buffer.from(spec.seed).toString("hex")} ${spec.n} ${spec.m}`);
  }

  async commitVram(spec: VramSpec): Promise<Commitment> {
    validateVramSpec(spec);
    return this.commit(
      `vram ${Buffer.from(spec.seed).toString("hex")} ${spec.chains} ${spec.pagesPerChain} ${spec.pageBytes}`,
    );
  }

  private async commit(command: string): Promise<Commitment> {
    const answer = await this.exclusive(async () => {
      this.send(command);
      return this.nextLine();
    });
    const m = /^ok ([0-9a-f]{64}) (\d+)$/.exec(answer);
    if (!m) throw new CmeshError("POG_WORKER_FAILED", `worker: ${answer}`);
    return {
      root: Buffer.from(m[1], "hex"),
      leafCount: Number(m[2]),
      open: (indices) => this.open(indices),
      release: () => {},
    };
  }

  private open(indices: readonly number[]): Promise<OpenedLeaf[]> {
    return this.exclusive(async () => {
      this.send(`open ${indices.join(" ")}`);
      const leaves: OpenedLeaf[] = [];
      for (;;) {
        const line = await this.nextLine();
        if (line === "ok") return leaves;
        const parts = line.split(" ");
        if (parts[0] !== "leaf") throw new CmeshError("POG_WORKER_FAILED", `worker: ${line}`);
        leaves.push({
          index: Number(parts[1]),
          data: new Uint8Array(Buffer.from(parts[2], "hex")),
          path: parts.slice(3).map((h) => Buffer.from(h, "hex")),
        });
      }
    });
  }

  private send(line: string): void {
    if (!this.proc) throw new CmeshError("POG_WORKER_FAILED", "the proof-of-GPU worker is not running");
    this.proc.stdin.write(`${line}\n`);
  }

  private nextLine(): Promise<string> {
    const line = this.buffered.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.exited && this.queue.length === 0) return Promise.resolve(this.exited);
    return new Promise((resolve) => this.queue.push(resolve));
  }

  /** One command at a time: the worker answers in order. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => {});
    return run;
  }
}

export const CUDA_DIR = dirname(CUDA_WORKER_SOURCE);
