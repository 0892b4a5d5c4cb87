import type { z } from "zod";
import { isRentable, type MachineView } from "../backend.ts";
import type { ApiContext, App } from "../context.ts";
import { ApiError } from "../errors.ts";
import { applyQuery, withDefaults } from "../query/apply.ts";
import { formatQuery, parseJsonQuery, parseQuery, type SearchQuery } from "../query/parse.ts";
import {
  ErrorBody,
  HotkeyParams,
  JsonSearchBody,
  type Machine,
  MachineDetail,
  MinerView,
  Network,
  SearchQueryString,
  SearchResult,
} from "../schemas.ts";

const errors = { 400: ErrorBody, 404: ErrorBody, 502: ErrorBody };

function strip(m: MachineView): z.infer<typeof Machine> {
  const { axon: _axon, ...rest } = m;
  return { ...rest, rentable: isRentable(m) };
}

export function machineRoutes(app: App, ctx: ApiContext): void {
  const search = async (q: SearchQuery) => {
    const applied = withDefaults(q);
    const machines = await ctx.backend.listMachines();
    const res = applyQuery(machines, applied, ctx.clock.now());
    return { query: formatQuery(applied), total: res.total, machines: res.machines.map(strip) };
  };

  app.get(
    "/v1/machines",
    {
      schema: {
        tags: ["machines"],
        summary: "Search proven machines with the query language",
        description:
          "Terms `field op value` joined by spaces, e.g. `gpu=H100 count>=2 vram>=80 price<=2.5 reliability>=0.98 verified=true sort=price limit=10`. Unknown fields and bad operators are 400 errors naming the token. `verified=true` applies unless the query names `verified` (use `verified=any` for all).",
        querystring: SearchQueryString,
        response: { 200: SearchResult, ...errors },
      },
    },
    async (req) => {
      let text = req.query.q ?? "";
      if (req.query.sort) text += ` sort=${req.query.sort}`;
      if (req.query.limit) text += ` limit=${req.query.limit}`;
      return search(parseQuery(text));
    },
  );

  app.post(
    "/v1/machines/search",
    {
      schema: {
        tags: ["machines"],
        summary: "Search with the JSON form of the query language",
        body: JsonSearchBody,
        response: { 200: SearchResult, ...errors },
      },
    },
    async (req) => search(parseJsonQuery(req.body as Parameters<typeof parseJsonQuery>[0])),
  );

  const findMachine = async (hotkey: string) => {
    const m = (await ctx.backend.listMachines()).find((x) => x.minerHotkey === hotkey);
    if (!m)
      throw new ApiError(404, "MACHINE_NOT_FOUND", `no machine with hotkey ${hotkey}`, { field: "hotkey" });
    return m;
  };

  app.get(
    "/v1/machines/:hotkey",
    {
      schema: {
        tags: ["machines"],
        summary: "One machine with its proof-of-GPU and score history",
        params: HotkeyParams,
        response: { 200: MachineDetail, ...errors },
      },
    },
    async (req) => {
      const m = await findMachine(req.params.hotkey);
      const history = ctx.backend.machineHistory
        ? await ctx.backend.machineHistory(m.minerHotkey)
        : {
            proofs: m.lastProofAt
              ? [{ at: m.lastProofAt, passed: m.verified, model: m.gpuModel, measuredTops: m.measuredTops }]
              : [],
            scores: [
              { at: new Date(ctx.clock.now()).toISOString(), score: m.score, reliability: m.reliability },
            ],
          };
      return { machine: strip(m), history };
    },
  );

  app.get(
    "/v1/network",
    {
      schema: {
        tags: ["network"],
        summary: "The subnet's metagraph and its history",
        response: { 200: Network, ...errors },
      },
    },
    async () => {
      if (ctx.backend.network) return { available: true, ...(await ctx.backend.network()) };
      const machines = await ctx.backend.listMachines();
      return {
        available: false,
        neurons: machines.map((m) => ({
          uid: m.uid,
          hotkey: m.minerHotkey,
          stake: 0,
          incentive: 0,
          dividends: 0,
          emission: 0,
          trust: 0,
        })),
      };
    },
  );

  app.get(
    "/v1/miners/:hotkey",
    {
      schema: {
        tags: ["network"],
        summary: "A miner's machines, score breakdown and earnings",
        params: HotkeyParams,
        response: { 200: MinerView, ...errors },
      },
    },
    async (req) => {
      const machines = (await ctx.backend.listMachines()).filter((m) => m.minerHotkey === req.params.hotkey);
      const network = ctx.backend.network ? await ctx.backend.network() : undefined;
      const neuron = network?.neurons.find((n) => n.hotkey === req.params.hotkey) ?? null;
      if (machines.length === 0 && !neuron) {
        throw new ApiError(404, "MINER_NOT_FOUND", `no miner with hotkey ${req.params.hotkey}`, {
          field: "hotkey",
        });
      }
      return {
        hotkey: req.params.hotkey,
        neuron,
        machines: machines.map((m) => ({
          ...strip(m),
          breakdown: {
            baseScore: m.allocated ? m.score / 2 : m.score,
            gpuCount: m.gpuCount,
            allocationBonus: m.allocated ? m.score / 2 : 0,
            proofStatus: m.verified
              ? ("verified" as const)
              : m.lastProofAt
                ? ("failed" as const)
                : ("unproven" as const),
          },
        })),
      };
    },
  );
}
