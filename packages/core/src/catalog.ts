// The GPU catalog: every model the seeds' score table names (seed 003, "Understanding the Score Calculation
// Process"), plus B200 and a CPU class. Base scores are the seed's; hardware figures are NVIDIA's published
// dense (no sparsity) tensor peaks, memory size and bandwidth, each with its source. Proof-of-GPU uses the peaks
// to decide which models a measurement rules out; scoring uses the base scores.

export type GpuClass = "gpu" | "cpu";

/** Where a figure comes from: a document title (and, where one exists, the table or line it is read from). */
export type Source = string;

export interface GpuModel {
  /** Stable id (lower-case, dashes), used in logs, metrics and the store. */
  readonly id: string;
  /** The name `nvidia-smi --query-gpu=name` prints for this model. */
  readonly name: string;
  /** The name the seed's score table uses (may differ from `name`). */
  readonly seedName: string | null;
  /** Other spellings seen in the wild (torch, NI config.yaml, marketing); matched case-insensitively. */
  readonly aliases: readonly string[];
  readonly class: GpuClass;
  /** Seed base score (0 for the CPU class). */
  readonly baseScore: number;
  readonly baseScoreSource: Source;
  /** Memory per device in GiB, as the driver reports it (`memory.total` MiB / 1024). */
  readonly vramGiB: number;
  /** Dense int8 tensor throughput, TOPS (10^12 int8 multiply-adds ×2 per second), no sparsity. */
  readonly int8DenseTops: number;
  /** Dense fp16 tensor throughput with fp32 accumulate, TFLOPS, no sparsity. */
  readonly fp16DenseTflops: number;
  /** Peak memory bandwidth, GB/s (10^9 bytes per second). */
  readonly memBandwidthGBs: number;
  readonly hardwareSource: Source;
}

const SEED: Source = "seed 003 (NI Compute README), 'GPU Base Scores'";
const HOPPER =
  "NVIDIA H100 Tensor Core GPU datasheet (SXM / PCIe columns), dense figures = half the sparse ones";
const AMPERE_DC = "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM / 80GB PCIe columns), dense figures";
const ADA_WP = "NVIDIA Ada GPU architecture whitepaper, appendix tables (dense = half of sparse)";
const AMPERE_WP =
  "NVIDIA Ampere GA102 GPU architecture whitepaper: SMs × boost clock × 2048 int8 ops/clk/SM (dense); product datasheet for memory";

/** The catalog, ordered from the highest base score to the lowest. */
export const GPU_CATALOG: readonly GpuModel[] = Object.freeze([
  {
    id: "b200",
    name: "NVIDIA B200",
    seedName: null,
    aliases: ["B200", "NVIDIA B200 SXM", "NVIDIA HGX B200"],
    class: "gpu",
    baseScore: 4.0,
    baseScoreSource:
      "not in the seed table; credited at the seed's top tier (H200, 4.00) so the seed's 50-point baseline (8 × 4.00) is unchanged",
    vramGiB: 179.06,
    int8DenseTops: 4500,
    fp16DenseTflops: 2250,
    memBandwidthGBs: 8000,
    hardwareSource:
      "NVIDIA HGX B200 datasheet (per GPU: FP16 2.25 PFLOPS dense, INT8 4.5 POPS dense, 180 GB, 8 TB/s)",
  },
  {
    id: "h200",
    name: "NVIDIA H200",
    seedName: "NVIDIA H200",
    aliases: ["H200", "NVIDIA H200 SXM", "NVIDIA H200 141GB HBM3e"],
    class: "gpu",
    baseScore: 4.0,
    baseScoreSource: SEED,
    vramGiB: 140.4,
    int8DenseTops: 1979,
    fp16DenseTflops: 989.5,
    memBandwidthGBs: 4800,
    hardwareSource:
      "NVIDIA H200 Tensor Core GPU datasheet (SXM column: 141 GB HBM3e, 4.8 TB/s, INT8 3958 TOPS sparse)",
  },
  {
    id: "h100-sxm",
    name: "NVIDIA H100 80GB HBM3",
    seedName: "NVIDIA H100 80GB HBM3",
    aliases: ["H100 SXM", "NVIDIA H100 SXM5 80GB", "H100 80GB HBM3"],
    class: "gpu",
    baseScore: 3.3,
    baseScoreSource: SEED,
    vramGiB: 79.65,
    int8DenseTops: 1979,
    fp16DenseTflops: 989.5,
    memBandwidthGBs: 3350,
    hardwareSource: `${HOPPER}: SXM, 80 GB HBM3, 3.35 TB/s, INT8 3958 TOPS sparse`,
  },
  {
    id: "h100-pcie",
    name: "NVIDIA H100 PCIe",
    seedName: "NVIDIA H100",
    aliases: ["H100", "H100 PCIe", "NVIDIA H100 80GB PCIe"],
    class: "gpu",
    baseScore: 2.8,
    baseScoreSource: SEED,
    vramGiB: 79.65,
    int8DenseTops: 1513,
    fp16DenseTflops: 756,
    memBandwidthGBs: 2000,
    hardwareSource: `${HOPPER}: PCIe, 80 GB HBM2e, 2.0 TB/s, INT8 3026 TOPS sparse`,
  },
  {
    id: "a100-sxm4-80gb",
    name: "NVIDIA A100-SXM4-80GB",
    seedName: "NVIDIA A100-SXM4-80GB",
    aliases: ["A100 SXM4 80GB", "A100-SXM4-80GB", "NVIDIA A100 80GB SXM"],
    class: "gpu",
    baseScore: 1.9,
    baseScoreSource: SEED,
    vramGiB: 80,
    int8DenseTops: 624,
    fp16DenseTflops: 312,
    memBandwidthGBs: 2039,
    hardwareSource: `${AMPERE_DC}: SXM 80GB, 2039 GB/s`,
  },
  {
    id: "a100-pcie-80gb",
    name: "NVIDIA A100 80GB PCIe",
    seedName: "NVIDIA A100 80GB PCIe",
    aliases: ["A100 80GB PCIe", "A100 PCIe 80GB", "NVIDIA A100-PCIE-80GB"],
    class: "gpu",
    baseScore: 1.65,
    baseScoreSource: SEED,
    vramGiB: 80,
    int8DenseTops: 624,
    fp16DenseTflops: 312,
    memBandwidthGBs: 1935,
    hardwareSource: `${AMPERE_DC}: PCIe 80GB, 1935 GB/s`,
  },
  {
    id: "l40s",
    name: "NVIDIA L40S",
    seedName: "NVIDIA L40s",
    aliases: ["L40S", "L40s", "NVIDIA L40s"],
    class: "gpu",
    baseScore: 1.1,
    baseScoreSource: SEED,
    vramGiB: 44.99,
    int8DenseTops: 733,
    fp16DenseTflops: 362.05,
    memBandwidthGBs: 864,
    hardwareSource:
      "NVIDIA L40S datasheet (48 GB GDDR6, 864 GB/s, INT8 733|1466 TOPS, FP16 362.05|733 TFLOPS)",
  },
  {
    id: "l40",
    name: "NVIDIA L40",
    seedName: "NVIDIA L40",
    aliases: ["L40"],
    class: "gpu",
    baseScore: 1.0,
    baseScoreSource: SEED,
    vramGiB: 44.99,
    int8DenseTops: 362,
    fp16DenseTflops: 181.05,
    memBandwidthGBs: 864,
    hardwareSource:
      "NVIDIA L40 datasheet (48 GB GDDR6, 864 GB/s, INT8 362|724 TOPS, FP16 181.05|362.1 TFLOPS)",
  },
  {
    id: "rtx-6000-ada",
    name: "NVIDIA RTX 6000 Ada Generation",
    seedName: "NVIDIA RTX 6000 Ada Generation",
    aliases: ["RTX 6000 Ada", "NVIDIA RTX 6000 Ada"],
    class: "gpu",
    baseScore: 0.9,
    baseScoreSource: SEED,
    vramGiB: 47.99,
    int8DenseTops: 728.5,
    fp16DenseTflops: 364.25,
    memBandwidthGBs: 960,
    hardwareSource: `${ADA_WP}; RTX 6000 Ada datasheet (48 GB GDDR6 ECC, 960 GB/s, 1457 TOPS sparse)`,
  },
  {
    id: "rtx-a6000",
    name: "NVIDIA RTX A6000",
    seedName: "NVIDIA RTX A6000",
    aliases: ["RTX A6000", "A6000"],
    class: "gpu",
    baseScore: 0.78,
    baseScoreSource: SEED,
    vramGiB: 47.99,
    int8DenseTops: 309.7,
    fp16DenseTflops: 154.8,
    memBandwidthGBs: 768,
    hardwareSource: `${AMPERE_WP}: 84 SMs × 1.80 GHz; RTX A6000 datasheet (48 GB, 768 GB/s)`,
  },
  {
    id: "rtx-4090",
    name: "NVIDIA GeForce RTX 4090",
    seedName: "NVIDIA RTX 4090",
    aliases: ["RTX 4090", "GeForce RTX 4090", "NVIDIA RTX 4090"],
    class: "gpu",
    baseScore: 0.68,
    baseScoreSource: SEED,
    vramGiB: 23.99,
    int8DenseTops: 660.6,
    fp16DenseTflops: 165.2,
    memBandwidthGBs: 1008,
    hardwareSource: `${ADA_WP}: GeForce RTX 4090 (24 GB GDDR6X, 1008 GB/s, INT8 660.6|1321.2 TOPS, FP16/FP32-acc 165.2)`,
  },
  {
    id: "rtx-3090",
    name: "NVIDIA GeForce RTX 3090",
    seedName: "NVIDIA GeForce RTX 3090",
    aliases: ["RTX 3090", "GeForce RTX 3090", "NVIDIA RTX 3090"],
    class: "gpu",
    baseScore: 0.43,
    baseScoreSource: SEED,
    vramGiB: 23.99,
    int8DenseTops: 284.7,
    fp16DenseTflops: 71,
    memBandwidthGBs: 936,
    hardwareSource: `${AMPERE_WP}: 82 SMs × 1.695 GHz; GeForce RTX 3090 (24 GB GDDR6X, 936 GB/s, FP16/FP32-acc 71 TFLOPS)`,
  },
  {
    id: "l4",
    name: "NVIDIA L4",
    seedName: "NVIDIA L4",
    aliases: ["L4"],
    class: "gpu",
    baseScore: 0.43,
    baseScoreSource: SEED,
    vramGiB: 22.49,
    int8DenseTops: 242,
    fp16DenseTflops: 121,
    memBandwidthGBs: 300,
    hardwareSource:
      "NVIDIA L4 datasheet (24 GB GDDR6, 300 GB/s, INT8 485 TOPS sparse, FP16 242 TFLOPS sparse)",
  },
  {
    id: "a40",
    name: "NVIDIA A40",
    seedName: "NVIDIA A40",
    aliases: ["A40"],
    class: "gpu",
    baseScore: 0.39,
    baseScoreSource: SEED,
    vramGiB: 44.99,
    int8DenseTops: 299.3,
    fp16DenseTflops: 149.7,
    memBandwidthGBs: 696,
    hardwareSource:
      "NVIDIA A40 datasheet (48 GB GDDR6, 696 GB/s, INT8 299.3|598.6 TOPS, FP16 149.7|299.4 TFLOPS)",
  },
  {
    id: "rtx-a5000",
    name: "NVIDIA RTX A5000",
    seedName: "NVIDIA RTX A5000",
    aliases: ["RTX A5000", "A5000"],
    class: "gpu",
    baseScore: 0.36,
    baseScoreSource: SEED,
    vramGiB: 23.99,
    int8DenseTops: 222.2,
    fp16DenseTflops: 111.1,
    memBandwidthGBs: 768,
    hardwareSource: `${AMPERE_WP}: 64 SMs × 1.695 GHz; RTX A5000 datasheet (24 GB, 768 GB/s, 222.2 tensor TFLOPS sparse)`,
  },
  {
    id: "rtx-a4500",
    name: "NVIDIA RTX A4500",
    seedName: "NVIDIA RTX A4500",
    aliases: ["RTX A4500", "A4500"],
    class: "gpu",
    baseScore: 0.34,
    baseScoreSource: SEED,
    vramGiB: 19.99,
    int8DenseTops: 189.2,
    fp16DenseTflops: 94.6,
    memBandwidthGBs: 640,
    hardwareSource: `${AMPERE_WP}: 56 SMs × 1.65 GHz; RTX A4500 datasheet (20 GB, 640 GB/s, 189.2 tensor TFLOPS sparse)`,
  },
  {
    id: "cpu",
    name: "CPU",
    seedName: null,
    aliases: ["cpu", "CPU only", "none"],
    class: "cpu",
    baseScore: 0,
    baseScoreSource: "not a GPU: the seed scores only the listed GPUs, so a CPU-only machine scores 0",
    vramGiB: 0,
    int8DenseTops: 100,
    fp16DenseTflops: 25,
    memBandwidthGBs: 600,
    hardwareSource:
      "upper bound we assume for a host CPU: 2 sockets × 64 cores × 2.5 GHz × 128 int8 MAC/clk (AVX-512 VNNI, 2 ports) × 2 ≈ 82 TOPS, rounded up; 2 × 8-channel DDR5-4800 ≈ 614 GB/s (see docs/proof-of-gpu.md for the AMX caveat)",
  },
] satisfies GpuModel[]);

function normalize(name: string): string {
  return name
    .toLowerCase()
    .replace(/[\s_-]+/g, " ")
    .trim();
}

/** Normalized spelling → model, built once. "nvidia " and "geforce " prefixes are optional. */
const INDEX: ReadonlyMap<string, GpuModel> = (() => {
  const index = new Map<string, GpuModel>();
  const add = (spelling: string, model: GpuModel) => {
    for (const key of variants(normalize(spelling))) {
      const existing = index.get(key);
      if (existing && existing !== model) {
        throw new Error(`GPU catalog: "${spelling}" names both ${existing.id} and ${model.id}`);
      }
      index.set(key, model);
    }
  };
  for (const model of GPU_CATALOG) {
    add(model.id, model);
    add(model.name, model);
    if (model.seedName) add(model.seedName, model);
    for (const alias of model.aliases) add(alias, model);
  }
  return index;
})();

function variants(key: string): string[] {
  const bare = key.replace(/^nvidia /, "").replace(/^geforce /, "");
  return [key, bare, `nvidia ${bare}`, `nvidia geforce ${bare}`, `geforce ${bare}`];
}

/**
 * Finds a model by any of its spellings: the `nvidia-smi` name, the seed's name, an alias or the id; case,
 * dashes, underscores and repeated spaces do not matter, and "NVIDIA"/"GeForce" prefixes are optional.
 *
 * @example findGpu("NVIDIA L40s")?.id === "l40s"; findGpu("NVIDIA RTX 4090")?.id === "rtx-4090"
 */
export function findGpu(name: string): GpuModel | undefined {
  return INDEX.get(normalize(name));
}

/** The highest base score in the catalog: the 50-point baseline of the seed formula is 8 × this. */
export const MAX_BASE_SCORE: number = Math.max(...GPU_CATALOG.map((m) => m.baseScore));

/** Names a user may type, for error messages: the nvidia-smi name of every GPU model. */
export function supportedGpuNames(): string[] {
  return GPU_CATALOG.filter((m) => m.class === "gpu").map((m) => m.name);
}
