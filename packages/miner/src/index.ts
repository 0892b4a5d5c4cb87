export * from "./allocations/manager.ts";
export * from "./allocations/ssh-key.ts";
export * from "./runtime/docker.ts";
export * from "./runtime/types.ts";
export * from "./specs/collect.ts";
export * from "./specs/nvidia-smi.ts";
export * from "./store/store.ts";
export * from "./version.ts";
