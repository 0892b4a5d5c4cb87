import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { idempotencyHeader, unwrap } from "@computemesh/api/client";
import { CmeshError } from "@computemesh/core";
import { type ApiCliOptions, apiClient, credits, printJson, printTable, withApiOptions } from "./account.ts";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Streams a job's logs (server-sent events) to stdout/stderr until it ends; returns the final job. */
async function followLogs(
  opts: ApiCliOptions,
  jobId: string,
): Promise<{ state: string; exitCode?: number | null }> {
  const url = `${(opts.api ?? "").replace(/\/+$/, "")}/v1/jobs/${encodeURIComponent(jobId)}/logs?follow=1`;
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${opts.apiKey}`, accept: "text/event-stream" },
  });
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
    throw new CmeshError(
      body.error?.code ?? `HTTP_${res.status}`,
      body.error?.message ?? `log stream failed (${res.status})`,
    );
  }
  const decoder = new TextDecoder();
  let buffer = "";
  let last: { state: string; exitCode?: number | null } = { state: "unknown" };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let idx = buffer.indexOf("\n\n");
    while (idx >= 0) {
      const block = buffer.slice(0, idx);
      buffer = buffer.slice(idx + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null");
      if (event === "stdout") process.stdout.write(data);
      else if (event === "stderr") process.stderr.write(data);
      else if (event === "end") last = data;
      else if (event === "error") throw new CmeshError("LOG_STREAM_FAILED", String(data?.message));
      idx = buffer.indexOf("\n\n");
    }
  }
  return last;
}

/** Registers the `cmesh jobs` commands. */
export function register(program: Command): void {
  const jobs = program
    .command("jobs")
    .description("submit dockerized jobs and fetch their logs and outputs (renter API)");

  withApiOptions(
    jobs
      .command("submit")
      .description("submit a job: cmesh jobs submit --image alpine:3 -- sh -c 'echo hi > /out/hi.txt'")
      .requiredOption("--image <image>", "container image")
      .argument("<command...>", "command and arguments (after --)")
      .option("--env <K=V>", "environment variable (repeatable)", collect, [] as string[])
      .option(
        "--input <local[:path]>",
        "upload a local file as an input (repeatable)",
        collect,
        [] as string[],
      )
      .option("--output <path>", "output path to collect (repeatable)", collect, [] as string[])
      .option("--timeout <sec>", "execution time limit in seconds", Number)
      .option("--miner <hotkey>", "run on this miner")
      .option("--wait", "stream logs and wait for the end; exit with the job's exit code"),
  ).action(async (command, opts) => {
    const env: Record<string, string> = {};
    for (const kv of opts.env) {
      const i = kv.indexOf("=");
      if (i <= 0) throw new CmeshError("INVALID_ARGUMENT", `--env needs K=V, got "${kv}"`);
      env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const inputs = opts.input.map((spec) => {
      const [local, remote] = spec.split(":");
      return {
        path: remote ?? local.split("/").pop() ?? local,
        contentBase64: readFileSync(local).toString("base64"),
      };
    });
    const job = unwrap(
      await apiClient(opts).POST("/v1/jobs", {
        body: {
          image: opts.image,
          command,
          env: Object.keys(env).length ? env : undefined,
          inputs: inputs.length ? inputs : undefined,
          outputPaths: opts.output.length ? opts.output : undefined,
          limits: opts.timeout ? { executionSec: opts.timeout } : undefined,
          minerHotkey: opts.miner,
        },
        headers: idempotencyHeader(),
      }),
    );
    if (!opts.wait) {
      if (opts.json) return printJson(job);
      process.stdout.write(
        `job ${job.jobId} ${job.state}\nfollow with: cmesh jobs logs ${job.jobId} --follow\n`,
      );
      return;
    }
    const end = await followLogs(opts, job.jobId);
    process.stderr.write(
      `job ${job.jobId} ${end.state}${end.exitCode != null ? ` (exit ${end.exitCode})` : ""}\n`,
    );
    if (end.state !== "completed") {
      throw new CmeshError(
        "JOB_FAILED",
        `job ${job.jobId} ended ${end.state}${end.exitCode != null ? ` with exit code ${end.exitCode}` : ""}`,
        {
          hint: `see its logs: cmesh jobs logs ${job.jobId}`,
        },
      );
    }
  });

  withApiOptions(jobs.command("status").description("a job's state").argument("<jobId>", "job id")).action(
    async (id, opts) => {
      const api = apiClient(opts);
      const job = unwrap(await api.GET("/v1/jobs/{id}", { params: { path: { id } } }));
      if (opts.json) return printJson(job);
      printTable(
        ["job", "state", "exit", "cost", "miner", "created", "ended", "reason"],
        [
          [
            job.jobId,
            job.state,
            job.exitCode ?? "",
            job.costMicro === null ? "-" : credits(job.costMicro),
            job.minerHotkey ?? "",
            job.createdAt,
            job.endedAt ?? "",
            job.reason ?? "",
          ],
        ],
      );
    },
  );

  withApiOptions(
    jobs
      .command("logs")
      .description("print a job's logs")
      .argument("<jobId>", "job id")
      .option("--follow", "stream until the job ends"),
  ).action(async (id, opts) => {
    if (opts.follow) {
      await followLogs(opts, id);
      return;
    }
    const logs = unwrap(
      await apiClient(opts).GET("/v1/jobs/{id}/logs", { params: { path: { id }, query: {} } }),
    );
    if (opts.json) return printJson(logs);
    process.stdout.write(logs.stdout);
    process.stderr.write(logs.stderr);
  });

  withApiOptions(
    jobs
      .command("outputs")
      .description("download a finished job's output files")
      .argument("<jobId>", "job id")
      .option("--dir <dir>", "write files here", "."),
  ).action(async (id, opts) => {
    const res = unwrap(await apiClient(opts).GET("/v1/jobs/{id}/outputs", { params: { path: { id } } }));
    if (opts.json) return printJson(res);
    const root = resolve(opts.dir);
    for (const o of res.outputs) {
      const target = resolve(root, o.path);
      if (!target.startsWith(root))
        throw new CmeshError("UNSAFE_OUTPUT_PATH", `output path escapes ${root}: ${o.path}`);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, Buffer.from(o.contentBase64, "base64"));
      process.stdout.write(`${join(opts.dir, o.path)}\n`);
    }
    if (res.outputs.length === 0) process.stdout.write("no outputs\n");
  });

  withApiOptions(jobs.command("cancel").description("cancel a job").argument("<jobId>", "job id")).action(
    async (id, opts) => {
      const job = unwrap(
        await apiClient(opts).POST("/v1/jobs/{id}/cancel", {
          params: { path: { id } },
          body: {},
          headers: idempotencyHeader(),
        }),
      );
      if (opts.json) return printJson(job);
      process.stdout.write(`job ${job.jobId} ${job.state}\n`);
    },
  );

  withApiOptions(jobs.command("list").description("your jobs")).action(async (opts) => {
    const res = unwrap(await apiClient(opts).GET("/v1/jobs"));
    if (opts.json) return printJson(res.jobs);
    printTable(
      ["job", "state", "exit", "created"],
      res.jobs.map((j) => [j.jobId, j.state, j.exitCode ?? "", j.createdAt]),
    );
  });
}
