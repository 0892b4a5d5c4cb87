// Unit tests of the local network's pieces that run without child processes: options and ports, the SIMULATED
// nvidia-smi against the miner's real parser, wallets, idempotent chain setup, state files and the refusals.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { LocalChain } from "@computemesh/chain";
import { findGpu } from "@computemesh/core";
import { NVIDIA_SMI_QUERY_ARGS, parseNvidiaSmiCsv } from "@computemesh/miner";
import { afterEach, describe, expect, it } from "vitest";
import { checkDocker } from "./docker-check.ts";
import { localnetLayout } from "./layout.ts";
import { MAX_NODES_PER_ROLE, parseLocalnetOptions, portPlan } from "./options.ts";
import { assertPortsFree } from "./probes.ts";
import type { Command } from "@commander-js/extra-typings";
import { buildProgram } from "../program.ts";
import { chainSpec, minerGpus, minerSpec, SIMULATED_NVIDIA_SMI, validatorSpec } from "./roles.ts";
import { registerAndStake, ensureSubnet, localSubnetParams, VALIDATOR_STAKE } from "./setup.ts";
import { processAlive, readRunState, writeNetworkState, readNetworkState } from "./state.ts";
import { readLocalnetStatus } from "./status.ts";
import { startLocalnet } from "./run.ts";
import { ensureLocalWallet } from "./wallets.ts";

const run = promisify(execFile);
const tmp = () => mkdtempSync(join(tmpdir(), "cmesh-localnet-unit-"));

describe("options and ports", () => {
  it("gives every process its own port, and rentals' SSH ranges that overlap nothing", () => {
    const plan = portPlan(30_000);
    const fixed = plan.all(MAX_NODES_PER_ROLE, MAX_NODES_PER_ROLE).map((p) => p.port);
    expect(new Set(fixed).size).toBe(fixed.length);
    const ranges = Array.from({ length: MAX_NODES_PER_ROLE }, (_, i) => plan.minerSsh(i));
    for (const [i, [from, to]] of ranges.entries()) {
      expect(to - from).toBe(99);
      for (const p of fixed) expect(p < from || p > to).toBe(true);
      for (const [j, [f2, t2]] of ranges.entries()) if (i !== j) expect(to < f2 || from > t2).toBe(true);
    }
  });

  it("refuses options out of range with INVALID_ARGUMENT", () => {
    expect(() => parseLocalnetOptions({ miners: MAX_NODES_PER_ROLE + 1 })).toThrow(/miners/);
    expect(() => parseLocalnetOptions({ validators: 0 })).toThrow(/validators/);
    expect(() => parseLocalnetOptions({ basePort: 80 })).toThrow(/basePort/);
    expect(() => parseLocalnetOptions({ blockTimeMs: 1 })).toThrow(/blockTimeMs/);
    expect(parseLocalnetOptions({})).toMatchObject({
      dir: ".cmesh",
      miners: 3,
      validators: 2,
      basePort: 9944,
    });
  });

  it("resolves --gpus through the catalog, cycles it over the miners, and names an unknown model", () => {
    const gpus = minerGpus(["cpu", "RTX 4090"], 3);
    expect(gpus.map((g) => g.name)).toEqual([null, "NVIDIA GeForce RTX 4090", null]);
    expect(gpus[1].memoryMiB).toBe(Math.round(findGpu("RTX 4090")!.vramGiB * 1024));
    expect(gpus[1].pricePerHour).toBeGreaterThan(gpus[0].pricePerHour);
    expect(() => minerGpus(["RTX 9999"], 1)).toThrow(/RTX 9999/);
  });
});

describe("the command lines of the children", () => {
  /** Every `--flag` in `args` must be an option of the real command (catches drift in the other CLIs). */
  function unknownFlags(args: string[]): string[] {
    let cmd: Command = buildProgram();
    let i = 0;
    for (; i < args.length && !args[i].startsWith("--"); i++) {
      const sub = cmd.commands.find((c) => c.name() === args[i]);
      if (!sub) return [`unknown command ${args.slice(0, i + 1).join(" ")}`];
      cmd = sub as unknown as Command;
    }
    const known = new Set(cmd.options.map((o) => o.long));
    return args.slice(i).filter((a) => a.startsWith("--") && !known.has(a));
  }

  it("uses only options the real cmesh chain serve, miner and validator commands have", () => {
    const layout = localnetLayout(tmp());
    const ports = portPlan(30_000);
    const [cpu, gpu] = minerGpus(["cpu", "RTX 4090"], 2);
    const specs = [
      chainSpec(layout, ports, 1000),
      minerSpec(layout, ports, {
        index: 0,
        name: "miner-1",
        chain: "ws://127.0.0.1:30000",
        netuid: 1,
        gpu: cpu,
      }),
      minerSpec(layout, ports, { index: 1, name: "miner-2", chain: "ws://127.0.0.1:30000", netuid: 1, gpu }),
      validatorSpec(layout, ports, {
        index: 0,
        name: "validator-1",
        chain: "ws://127.0.0.1:30000",
        netuid: 1,
        pogIntervalSec: 60,
        api: true,
      }),
    ];
    for (const spec of specs) expect(unknownFlags(spec.args), spec.args.join(" ")).toEqual([]);
    expect(specs[2].args).toContain(SIMULATED_NVIDIA_SMI);
    expect(specs[2].env?.CMESH_SIMULATED_GPU).toBe("NVIDIA GeForce RTX 4090");
    expect(specs[1].env?.CMESH_SIMULATED_GPU).toBeUndefined();
    expect(specs[3].args).toEqual(
      expect.arrayContaining(["--pog.simulate", "--api.port", String(ports.api)]),
    );
  });
});

describe("SIMULATED nvidia-smi", () => {
  const env = (id: string) => ({
    ...process.env,
    CMESH_SIMULATED_GPU: "NVIDIA H100 80GB HBM3",
    CMESH_SIMULATED_GPU_MEMORY_MIB: "81559",
    CMESH_SIMULATED_GPU_ID: id,
  });

  it("answers the miner's query in a form its real parser reads, with a UUID stable per miner", async () => {
    const a = await run(SIMULATED_NVIDIA_SMI, NVIDIA_SMI_QUERY_ARGS, { env: env("a") });
    const again = await run(SIMULATED_NVIDIA_SMI, NVIDIA_SMI_QUERY_ARGS, { env: env("a") });
    const b = await run(SIMULATED_NVIDIA_SMI, NVIDIA_SMI_QUERY_ARGS, { env: env("b") });
    const [gpu] = parseNvidiaSmiCsv(a.stdout);
    expect(gpu).toMatchObject({ index: 0, name: "NVIDIA H100 80GB HBM3", memory_total_mib: 81559 });
    expect(gpu.driver_version).toBe("simulated");
    expect(findGpu(gpu.name)?.id).toBe(findGpu("H100 SXM")?.id);
    expect(parseNvidiaSmiCsv(again.stdout)[0].uuid).toBe(gpu.uuid);
    expect(parseNvidiaSmiCsv(b.stdout)[0].uuid).not.toBe(gpu.uuid);
  });

  it("fails without its configuration, and for anything but the CSV query", async () => {
    const bare = { ...process.env, CMESH_SIMULATED_GPU: "", CMESH_SIMULATED_GPU_MEMORY_MIB: "" };
    await expect(run(SIMULATED_NVIDIA_SMI, NVIDIA_SMI_QUERY_ARGS, { env: bare })).rejects.toMatchObject({
      code: 9,
    });
    await expect(run(SIMULATED_NVIDIA_SMI, ["-q", "-x"], { env: env("a") })).rejects.toMatchObject({
      code: 6,
    });
  });
});

describe("Docker verdict", () => {
  it("says plainly when no daemon answers", async () => {
    const v = await checkDocker(join(tmp(), "no-docker.sock"));
    expect(v).toMatchObject({ daemon: false, rentable: false });
    expect(v.reason).toMatch(/no Docker daemon answers/);
  });

  it.skipIf(!existsSync("/var/run/docker.sock"))(
    "says when the daemon answers but the rental image is missing",
    async () => {
      const v = await checkDocker("/var/run/docker.sock", "computemesh/no-such-image:never");
      expect(v).toMatchObject({ daemon: true, rentable: false });
      expect(v.reason).toMatch(/computemesh\/no-such-image:never is not built/);
    },
  );
});

describe("wallets and chain setup", () => {
  it("creates unencrypted btcli wallets once, marked local-only, and reuses them", async () => {
    const layout = localnetLayout(tmp());
    const w = await ensureLocalWallet(layout, "miner-1");
    expect(w.created).toBe(true);
    expect(readFileSync(layout.warningFile, "utf8")).toContain("NOT ENCRYPTED");
    expect(JSON.parse(readFileSync(w.hotkeyFile, "utf8")).ss58Address).toBe(w.hotkey.address);
    expect(readFileSync(w.wallet.coldkeyFile, "utf8").startsWith("{")).toBe(true); // plain JSON, not $NACL
    const again = await ensureLocalWallet(layout, "miner-1");
    expect(again.created).toBe(false);
    expect(again.hotkey.address).toBe(w.hotkey.address);
    expect(again.coldkey.address).toBe(w.coldkey.address);
  });

  it("creates the subnet and registers and stakes every hotkey once; a second pass changes nothing", async () => {
    const dir = tmp();
    const layout = localnetLayout(dir);
    const chain = await LocalChain.open({ dbPath: join(dir, "chain.db"), blockTimeMs: 0, create: true });
    try {
      const client = chain.client();
      const owner = await ensureLocalWallet(layout, "owner");
      const v = await ensureLocalWallet(layout, "validator-1");
      const m = await ensureLocalWallet(layout, "miner-1");
      const { netuid, created } = await ensureSubnet(client, owner, undefined, localSubnetParams(10, 1));
      expect(created).toBe(true);
      expect((await client.getHyperparams(netuid)).tempo).toBe(10);
      expect(await ensureSubnet(client, owner, netuid, localSubnetParams(10, 1))).toEqual({
        netuid,
        created: false,
      });
      // a netuid the chain does not know (a chain deleted by hand) means a new subnet
      expect((await ensureSubnet(client, owner, 99, localSubnetParams(10, 1))).created).toBe(true);

      const nodes = [
        { wallet: v, role: "validator" as const },
        { wallet: m, role: "miner" as const },
      ];
      const first = await registerAndStake(client, netuid, nodes);
      const second = await registerAndStake(client, netuid, nodes);
      expect(second).toEqual(first);
      const mg = await client.getMetagraph(netuid);
      expect(mg.neurons).toHaveLength(3); // the owner's uid 0 + two
      expect(mg.neurons.find((n) => n.hotkey === v.hotkey.address)!.stake).toBe(VALIDATOR_STAKE);
      expect(mg.neurons.find((n) => n.hotkey === m.hotkey.address)!.stake).toBe(0n);
    } finally {
      await chain.close();
    }
  });
});

describe("state files and refusals", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it("status says no network runs when there is no run.json, or its process is gone", async () => {
    const dir = tmp();
    await expect(readLocalnetStatus(dir)).rejects.toMatchObject({ code: "LOCALNET_NOT_RUNNING" });
    const child = execFile(process.execPath, ["-e", ""]);
    const pid = child.pid!;
    await new Promise((r) => child.once("exit", r));
    expect(processAlive(pid)).toBe(false);
    writeFileSync(
      join(dir, "run.json"),
      JSON.stringify({
        pid,
        startedAt: new Date().toISOString(),
        netuid: 1,
        chain: "ws://127.0.0.1:1",
        api: null,
        web: null,
        webServed: false,
        apiKey: null,
        docker: { daemon: true, rentable: true, reason: null },
        gpuMode: "",
        validators: [],
        miners: [],
        children: [],
      }),
    );
    await expect(readLocalnetStatus(dir)).rejects.toThrow(/is gone/);
  });

  it("rejects a malformed state file with LOCALNET_STATE_INVALID and round-trips a good one", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "run.json"), JSON.stringify({ pid: "x" }));
    await expect(readRunState(join(dir, "run.json"))).rejects.toMatchObject({
      code: "LOCALNET_STATE_INVALID",
    });
    const state = {
      version: 1 as const,
      createdAt: "t",
      netuid: 2,
      tempo: 10,
      renter: { accountName: "r", apiKey: "cmk_x" },
    };
    await writeNetworkState(join(dir, "network.json"), state);
    expect(await readNetworkState(join(dir, "network.json"))).toEqual(state);
  });

  it("names every busy port, and refuses before creating anything", async () => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    await expect(assertPortsFree([{ port, what: "chain" }])).rejects.toThrow(
      new RegExp(`${port} \\(chain\\)`),
    );
    const dir = join(tmp(), "net");
    await expect(startLocalnet(parseLocalnetOptions({ dir, basePort: port }))).rejects.toMatchObject({
      code: "PORT_IN_USE",
    });
  });

  it("--reset refuses a directory holding files a local network did not create", async () => {
    const dir = tmp();
    mkdirSync(join(dir, "wallets"));
    writeFileSync(join(dir, "my-thesis.tex"), "keep me");
    await expect(startLocalnet(parseLocalnetOptions({ dir, reset: true }))).rejects.toMatchObject({
      code: "LOCALNET_RESET_REFUSED",
    });
    expect(readFileSync(join(dir, "my-thesis.tex"), "utf8")).toBe("keep me");
  });
});
