import { z } from "zod";
import { isTerminalJobState } from "../backend.ts";
import { type ApiContext, type App, bearer, requireAccount } from "../context.ts";
import {
  ErrorBody,
  IdParams,
  Job,
  JobLogs,
  JobLogsQuery,
  JobOutputs,
  JobReceipt,
  JobSubmitBody,
} from "../schemas.ts";

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  422: ErrorBody,
  502: ErrorBody,
  503: ErrorBody,
};

export function jobRoutes(
  app: App,
  ctx: ApiContext,
  opts: { jobBodyLimit: number; logPollMs: number },
): void {
  app.post(
    "/v1/jobs",
    {
      bodyLimit: opts.jobBodyLimit,
      config: { auth: "account" },
      schema: {
        tags: ["jobs"],
        summary: "Submit a dockerized job (inputs inline as base64, size-limited)",
        security: bearer,
        body: JobSubmitBody,
        response: { 201: Job, ...errors },
      },
    },
    async (req, reply) => {
      const { minerHotkey, ...spec } = req.body;
      const job = await ctx.jobs.submit(requireAccount(req).id, spec, { minerHotkey });
      return reply.code(201).send(job);
    },
  );

  app.get(
    "/v1/jobs",
    {
      config: { auth: "account" },
      schema: {
        tags: ["jobs"],
        summary: "Your jobs",
        security: bearer,
        response: { 200: z.object({ jobs: z.array(Job) }), ...errors },
      },
    },
    async (req) => ({ jobs: await ctx.jobs.list(requireAccount(req).id) }),
  );

  app.get(
    "/v1/jobs/:id",
    {
      config: { auth: "account" },
      schema: {
        tags: ["jobs"],
        summary: "One job's state",
        security: bearer,
        params: IdParams,
        response: { 200: Job, ...errors },
      },
    },
    async (req) => ctx.jobs.get(requireAccount(req).id, req.params.id),
  );

  app.get(
    "/v1/jobs/:id/logs",
    {
      config: { auth: "account" },
      schema: {
        tags: ["jobs"],
        summary: "Logs from the given offsets; with follow=1 a server-sent event stream until the job ends",
        description:
          "SSE events: `stdout` and `stderr` (data: JSON string chunk), then `end` (data: the job).",
        security: bearer,
        params: IdParams,
        querystring: JobLogsQuery,
        response: { 200: JobLogs, ...errors },
      },
    },
    async (req, reply) => {
      const acc = requireAccount(req);
      const from = { stdout: req.query.stdoutOffset, stderr: req.query.stderrOffset };
      const follow = req.query.follow === "1" || req.query.follow === "true";
      if (!follow) return ctx.jobs.logs(acc.id, req.params.id, from);
      await ctx.jobs.get(acc.id, req.params.id);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      let closed = false;
      req.raw.on("close", () => {
        closed = true;
      });
      const send = (event: string, data: unknown) =>
        raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      try {
        while (!closed) {
          const chunk = await ctx.jobs.logs(acc.id, req.params.id, from);
          if (chunk.stdout) send("stdout", chunk.stdout);
          if (chunk.stderr) send("stderr", chunk.stderr);
          from.stdout += Buffer.byteLength(chunk.stdout);
          from.stderr += Buffer.byteLength(chunk.stderr);
          if (chunk.done) {
            const job = await ctx.jobs.get(acc.id, req.params.id);
            if (isTerminalJobState(job.state)) {
              send("end", job);
              break;
            }
          }
          await new Promise((r) => setTimeout(r, opts.logPollMs));
        }
      } catch (err) {
        send("error", { message: err instanceof Error ? err.message : String(err) });
      }
      raw.end();
    },
  );

  app.get(
    "/v1/jobs/:id/outputs",
    {
      config: { auth: "account" },
      schema: {
        tags: ["jobs"],
        summary: "Output files of a finished job",
        security: bearer,
        params: IdParams,
        response: { 200: JobOutputs, ...errors },
      },
    },
    async (req) => ({ outputs: await ctx.jobs.outputs(requireAccount(req).id, req.params.id) }),
  );

  app.get(
    "/v1/jobs/:id/receipt",
    {
      config: { auth: "account" },
      schema: {
        tags: ["jobs"],
        summary: "The job's receipt signed by validator and miner (null until it exists)",
        security: bearer,
        params: IdParams,
        response: { 200: JobReceipt, ...errors },
      },
    },
    async (req) => ({ receipt: await ctx.jobs.receipt(requireAccount(req).id, req.params.id) }),
  );

  app.post(
    "/v1/jobs/:id/cancel",
    {
      config: { auth: "account" },
      schema: {
        tags: ["jobs"],
        summary: "Cancel a job",
        security: bearer,
        params: IdParams,
        body: z.strictObject({}).optional(),
        response: { 200: Job, ...errors },
      },
    },
    async (req) => ctx.jobs.cancel(requireAccount(req).id, req.params.id),
  );
}
