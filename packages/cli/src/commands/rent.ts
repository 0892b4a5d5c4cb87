import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { idempotencyHeader, unwrap } from "@computemesh/api/client";
import { CmeshError } from "@computemesh/core";
import { apiClient, credits, printJson, printTable, withApiOptions } from "./account.ts";

/** "90", "90s", "15m", "2h", "1d" → seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m)
    throw new CmeshError("INVALID_DURATION", `cannot read duration "${text}"`, {
      hint: "e.g. 90s, 30m, 2h, 1d",
    });
  return Number(m[1]) * { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "" | "s" | "m" | "h" | "d"];
}

function readSshKey(opt: string | undefined): string {
  if (opt?.startsWith("ssh-") || opt?.startsWith("ecdsa-") || opt?.startsWith("sk-")) return opt.trim();
  const candidates = opt
    ? [opt]
    : ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"].map((f) => join(homedir(), ".ssh", f));
  for (const path of candidates) if (existsSync(path)) return readFileSync(path, "utf8").trim();
  throw new CmeshError(
    "SSH_KEY_NOT_FOUND",
    opt ? `no SSH public key at ${opt}` : "no SSH public key in ~/.ssh",
    {
      hint: "pass --ssh-key ~/.ssh/id_ed25519.pub (create one with ssh-keygen -t ed25519)",
    },
  );
}

/** Registers the `cmesh rent` commands. */
export function register(program: Command): void {
  const rent = program.command("rent").description("search, rent and release machines (renter API)");

  withApiOptions(
    rent
      .command("search")
      .description("search proven machines, e.g. cmesh rent search gpu=H100 count>=2 price<=2.5 sort=price")
      .argument(
        "[query...]",
        "terms like gpu=H100 count>=2 vram>=80 price<=2.5 reliability>=0.98 verified=true",
      )
      .option("--sort <keys>", "e.g. price or -reliability")
      .option("--limit <n>", "at most this many", Number),
  ).action(async (terms, opts) => {
    const res = unwrap(
      await apiClient(opts, false).GET("/v1/machines", {
        params: { query: { q: terms.join(" "), sort: opts.sort, limit: opts.limit } },
      }),
    );
    if (opts.json) return printJson(res);
    process.stdout.write(`${res.total} machine(s) match: ${res.query}\n`);
    printTable(
      [
        "hotkey",
        "gpu (proven)",
        "count",
        "vram",
        "TOPS",
        "price/GPU-h",
        "reliability",
        "last proof",
        "rented",
      ],
      res.machines.map((m) => [
        m.minerHotkey,
        `${m.gpuModel ?? "unproven"}${m.simulated ? " (sim)" : ""}`,
        m.gpuCount,
        `${m.vramGiB} GiB`,
        m.measuredTops === null ? "-" : m.measuredTops.toFixed(0),
        m.pricePerGpuHour.toFixed(2),
        m.reliability.toFixed(3),
        m.lastProofAt ?? "-",
        m.allocated ? "yes" : "no",
      ]),
    );
  });

  withApiOptions(
    rent
      .command("create")
      .description(
        "rent a named machine (--machine) or the best match for a query (--query); prints the ssh command",
      )
      .option("--machine <hotkey>", "miner hotkey to rent")
      .option("--query <query>", 'rent the cheapest available match, e.g. "gpu=H100 count>=2"')
      .option("--ssh-key <keyOrPath>", "SSH public key or its file (default ~/.ssh/id_ed25519.pub)")
      .option("--duration <d>", "how long at most (90s, 30m, 2h, 1d)", "1h")
      .option("--image <image>", "container image for the machine"),
  ).action(async (opts) => {
    if (!opts.machine === !opts.query) {
      throw new CmeshError("INVALID_ARGUMENT", "give exactly one of --machine or --query", {
        hint: "find machines with `cmesh rent search`",
      });
    }
    const r = unwrap(
      await apiClient(opts).POST("/v1/rentals", {
        body: {
          minerHotkey: opts.machine,
          query: opts.query,
          sshPublicKey: readSshKey(opts.sshKey),
          durationSec: parseDuration(opts.duration),
          image: opts.image,
        },
        headers: idempotencyHeader(),
      }),
    );
    if (opts.json) return printJson(r);
    process.stdout.write(
      `rental ${r.id} on ${r.minerHotkey} (${r.gpuCount}× ${r.gpuModel ?? "?"}), ${credits(r.rateMicroPerHour)}/h, metered per second until release\n\n  ${r.sshCommand}\n\nrelease with: cmesh rent release ${r.id}\n`,
    );
  });

  withApiOptions(
    rent.command("release").description("release a rental").argument("<rentalId>", "rnt_…"),
  ).action(async (id, opts) => {
    const r = unwrap(
      await apiClient(opts).POST("/v1/rentals/{id}/release", {
        params: { path: { id } },
        body: {},
        headers: idempotencyHeader(),
      }),
    );
    if (opts.json) return printJson(r);
    process.stdout.write(
      `rental ${r.id} ${r.state} after ${r.meteredSeconds}s; cost ${credits(r.chargedMicro)}\n`,
    );
  });

  withApiOptions(rent.command("status").description("one rental").argument("<rentalId>", "rnt_…")).action(
    async (id, opts) => {
      const r = unwrap(await apiClient(opts).GET("/v1/rentals/{id}", { params: { path: { id } } }));
      if (opts.json) return printJson(r);
      process.stdout.write(
        `${r.id}: ${r.state} on ${r.minerHotkey}, ${r.meteredSeconds}s, ${credits(r.costMicro)}${r.sshCommand && r.state === "active" ? `\n  ${r.sshCommand}` : ""}${r.endReason ? `\n  ended: ${r.endReason}` : ""}\n`,
      );
    },
  );

  withApiOptions(
    rent
      .command("list")
      .description("your rentals with their running cost")
      .option("--all", "include ended rentals"),
  ).action(async (opts) => {
    const res = unwrap(
      await apiClient(opts).GET("/v1/rentals", { params: { query: { state: opts.all ? "all" : "live" } } }),
    );
    if (opts.json) return printJson(res.rentals);
    printTable(
      ["id", "state", "machine", "gpu", "running", "cost", "ssh"],
      res.rentals.map((r) => [
        r.id,
        r.state,
        r.minerHotkey,
        `${r.gpuCount}× ${r.gpuModel ?? "?"}`,
        `${r.meteredSeconds}s`,
        credits(r.costMicro),
        r.state === "active" ? (r.sshCommand ?? "") : (r.endReason ?? ""),
      ]),
    );
  });
}
