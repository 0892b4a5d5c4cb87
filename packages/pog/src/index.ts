export * from "./backend.ts";
export * from "./gemm.ts";
export * from "./merkle.ts";
export * from "./philox.ts";
export * from "./verify.ts";
export * from "./vram.ts";
export * from "./workload.ts";
