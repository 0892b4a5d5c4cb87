import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: ["default", "./test/summary-reporter.ts"],
    pool: "forks",
    // the fuzz suites' memory bounds measure the heap after a full collection
    execArgv: ["--expose-gc"],
  },
});
