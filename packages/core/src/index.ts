export * from "./errors.ts";
export * from "./catalog.ts";
export * from "./scoring.ts";
