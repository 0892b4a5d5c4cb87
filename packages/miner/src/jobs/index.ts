// Dockerized jobs on the miner. The miner process calls `attachJobRunner(axon, {...})` before `axon.start()`.
export { type AttachJobRunnerOptions, attachJobRunner } from "./attach.ts";
export {
  DEFAULT_CEILINGS,
  JOB_INPUT_MOUNT,
  JOB_LABELS,
  JOB_OUTPUT_MOUNT,
  type JobLimitCeilings,
  jobContainerOptions,
  resolveJobLimits,
} from "./container-spec.ts";
export { JOB_ERROR_STATUS, JobRunnerError, type JobRunnerErrorCode } from "./errors.ts";
export { JobRunner, type JobRunnerOptions } from "./runner.ts";
