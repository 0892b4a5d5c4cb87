import type Docker from "dockerode";
import { JOB_DEFAULT_LIMITS, type JobSpec } from "@computemesh/protocol";

/** Label every job container carries (the miner's cleanup and restart reconciliation find them by these). */
export const JOB_LABELS = Object.freeze({
  managed: "computemesh.managed",
  job: "computemesh.job",
  kind: "computemesh.kind",
  /** Which job runner (one per miner data directory) owns the container: restarts reconcile only their own. */
  runner: "computemesh.job-runner",
});

/** Where the job sees its files inside the container. */
export const JOB_INPUT_MOUNT = "/volume";
export const JOB_OUTPUT_MOUNT = "/output";

export interface ResolvedJobLimits {
  downloadSec: number;
  executionSec: number;
  uploadSec: number;
  memoryMiB: number;
  cpus: number;
  pids: number;
}

/** The miner's ceilings: a spec asking for more than these is refused, asking for nothing gets the defaults. */
export interface JobLimitCeilings {
  maxExecutionSec: number;
  maxMemoryMiB: number;
  maxCpus: number;
  pids: number;
}

export const DEFAULT_CEILINGS: JobLimitCeilings = {
  maxExecutionSec: 3600,
  maxMemoryMiB: 8192,
  maxCpus: 4,
  pids: 256,
};

/** Fills in defaults; returns the list of limits over the miner's ceilings (empty when acceptable). */
export function resolveJobLimits(
  spec: JobSpec,
  ceilings: JobLimitCeilings = DEFAULT_CEILINGS,
): { limits: ResolvedJobLimits; refused: string[] } {
  const l = spec.limits ?? {};
  const limits: ResolvedJobLimits = {
    downloadSec: l.downloadSec ?? JOB_DEFAULT_LIMITS.downloadSec,
    executionSec: l.executionSec ?? Math.min(JOB_DEFAULT_LIMITS.executionSec, ceilings.maxExecutionSec),
    uploadSec: l.uploadSec ?? JOB_DEFAULT_LIMITS.uploadSec,
    memoryMiB: l.memoryMiB ?? Math.min(JOB_DEFAULT_LIMITS.memoryMiB, ceilings.maxMemoryMiB),
    cpus: l.cpus ?? Math.min(JOB_DEFAULT_LIMITS.cpus, ceilings.maxCpus),
    pids: ceilings.pids,
  };
  const refused: string[] = [];
  if (limits.executionSec > ceilings.maxExecutionSec)
    refused.push(`executionSec ${limits.executionSec} > ${ceilings.maxExecutionSec}`);
  if (limits.memoryMiB > ceilings.maxMemoryMiB)
    refused.push(`memoryMiB ${limits.memoryMiB} > ${ceilings.maxMemoryMiB}`);
  if (limits.cpus > ceilings.maxCpus) refused.push(`cpus ${limits.cpus} > ${ceilings.maxCpus}`);
  return { limits, refused };
}

export function jobContainerName(jobId: string): string {
  return `cmesh-job-${jobId}`;
}

/**
 * Docker create options for a job: no network at all, inputs read-only, outputs writable, every capability
 * dropped, no privilege escalation, CPU/memory/pids limits, tini as PID 1 (so kill and stop are immediate).
 */
export function jobContainerOptions(args: {
  jobId: string;
  spec: JobSpec;
  limits: ResolvedJobLimits;
  inputDir: string;
  outputDir: string;
  runnerId: string;
}): Docker.ContainerCreateOptions {
  const { jobId, spec, limits } = args;
  const env = Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`);
  env.push(
    `CMESH_JOB_ID=${jobId}`,
    `CMESH_INPUT_DIR=${JOB_INPUT_MOUNT}`,
    `CMESH_OUTPUT_DIR=${JOB_OUTPUT_MOUNT}`,
  );
  const memoryBytes = limits.memoryMiB * 1024 * 1024;
  return {
    name: jobContainerName(jobId),
    Image: spec.image,
    Cmd: spec.command,
    Env: env,
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    NetworkDisabled: true,
    Labels: {
      [JOB_LABELS.managed]: "true",
      [JOB_LABELS.job]: jobId,
      [JOB_LABELS.kind]: "job",
      [JOB_LABELS.runner]: args.runnerId,
    },
    HostConfig: {
      NetworkMode: "none",
      Binds: [`${args.inputDir}:${JOB_INPUT_MOUNT}:ro`, `${args.outputDir}:${JOB_OUTPUT_MOUNT}:rw`],
      Memory: memoryBytes,
      MemorySwap: memoryBytes,
      NanoCpus: Math.round(limits.cpus * 1e9),
      PidsLimit: limits.pids,
      CapDrop: ["ALL"],
      Privileged: false,
      SecurityOpt: ["no-new-privileges"],
      Init: true,
      AutoRemove: false,
      RestartPolicy: { Name: "no" },
      // Docker keeps a bounded copy (JSON lines, several times the raw size) so a restarted miner can replay it.
      LogConfig: { Type: "json-file", Config: { "max-size": "20m", "max-file": "1" } },
    },
  };
}
