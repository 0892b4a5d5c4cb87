// The two files of a local network: network.json (persistent facts) and run.json (the running network).
import { chmod, readFile, rename, rm, writeFile } from "node:fs/promises";
import { CmeshError } from "@computemesh/core";
import { z } from "zod";

export const NetworkStateSchema = z.object({
  version: z.literal(1),
  createdAt: z.string(),
  netuid: z.number().int().nonnegative(),
  tempo: z.number().int().positive(),
  /** The renter account created for the local network (credits to try renting and jobs). */
  renter: z.object({ accountName: z.string(), apiKey: z.string() }).optional(),
});
export type NetworkState = z.output<typeof NetworkStateSchema>;

export const NodeEntrySchema = z.object({
  name: z.string(),
  hotkey: z.string(),
  uid: z.number().int(),
  walletPath: z.string(),
  /** `ip:port`, or null until the node has announced its axon */
  axon: z.string().nullable(),
});
export type NodeEntry = z.output<typeof NodeEntrySchema>;

export const RunStateSchema = z.object({
  pid: z.number().int().positive(),
  startedAt: z.string(),
  netuid: z.number().int().nonnegative(),
  chain: z.string(),
  api: z.string().nullable(),
  web: z.string().nullable(),
  /** whether the API process serves the web UI at `web` (false while the UI is not built) */
  webServed: z.boolean(),
  apiKey: z.string().nullable(),
  docker: z.object({ daemon: z.boolean(), rentable: z.boolean(), reason: z.string().nullable() }),
  gpuMode: z.string(),
  validators: z.array(NodeEntrySchema),
  miners: z.array(NodeEntrySchema),
  children: z.array(z.object({ name: z.string(), pid: z.number().int(), log: z.string() })),
});
export type RunState = z.output<typeof RunStateSchema>;

async function readJson<T>(path: string, schema: z.ZodType<T>, what: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new CmeshError(
      "LOCALNET_STATE_INVALID",
      `${what} ${path} is not valid: ${parsed.error.issues[0]?.message}`,
      {
        hint: "start fresh with `cmesh localnet --reset`",
      },
    );
  }
  return parsed.data;
}

/** Writes JSON atomically (temp file + rename), readable by the owner only: it may hold an API key. */
async function writeJson(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

export const readNetworkState = (path: string) => readJson(path, NetworkStateSchema, "network state");
export const writeNetworkState = (path: string, s: NetworkState) => writeJson(path, s);
export const readRunState = (path: string) => readJson(path, RunStateSchema, "run state");
export const writeRunState = (path: string, s: RunState) => writeJson(path, s);
export const removeRunState = (path: string) => rm(path, { force: true });

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
