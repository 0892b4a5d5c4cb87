import { afterAll, describe, expect, it } from "vitest";
import { storeBackends } from "../store/test-backends.ts";
import { type ValidatorJobRow, ValidatorJobStore } from "./store.ts";

const backends = await storeBackends();
afterAll(async () => {
  for (const b of backends) await b.cleanup();
});

const row = (jobId: string): ValidatorJobRow => ({
  jobId,
  state: "queued",
  minerHotkey: null,
  namedMiner: null,
  exitCode: null,
  reason: null,
  createdAt: new Date(0).toISOString(),
  startedAt: null,
  endedAt: null,
  stdoutBytes: 0,
  stderrBytes: 0,
  spec: { image: "local/x:1", command: ["true"], inputs: [{ path: "a", contentBase64: "eA==" }] },
  attempts: 0,
  tried: [],
  finalized: false,
  stdoutB64: null,
  stderrB64: null,
  outputs: null,
  receipt: null,
});

describe.each(backends.map((b) => [b.name, b] as const))("ValidatorJobStore on %s", (_name, backend) => {
  it("round-trips a job, updates it, and lists only unfinished ones", async () => {
    const { store: validatorStore } = await backend.open();
    const store = await ValidatorJobStore.open({ db: validatorStore.db });
    // Opening twice is harmless (the table exists already).
    await ValidatorJobStore.open({ db: validatorStore.db });
    await store.insert(row("job-aaaaaaaa"));
    await store.insert(row("job-bbbbbbbb"));
    expect(await store.get("job-aaaaaaaa")).toEqual(row("job-aaaaaaaa"));
    await store.update("job-bbbbbbbb", {
      state: "failed",
      exitCode: -1,
      tried: ["5Miner"],
      finalized: true,
      outputs: [{ path: "o", contentBase64: "" }],
      stdoutB64: "aGk=",
    });
    const b = await store.get("job-bbbbbbbb");
    expect(b).toMatchObject({
      state: "failed",
      exitCode: -1,
      tried: ["5Miner"],
      finalized: true,
      stdoutB64: "aGk=",
    });
    expect(b?.outputs).toEqual([{ path: "o", contentBase64: "" }]);
    expect((await store.unfinished()).map((r) => r.jobId)).toEqual(["job-aaaaaaaa"]);
    expect(await store.get("job-missing0")).toBeUndefined();
    await expect(store.insert(row("job-aaaaaaaa"))).rejects.toThrow();
    await validatorStore.close();
  });
});
