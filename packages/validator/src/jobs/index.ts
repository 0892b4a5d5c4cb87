// Dockerized jobs on the validator side. The Validator class delegates submitJob/job/jobLogs/jobOutputs/cancelJob
// to a JobService (see the wiring note at the top of service.ts).
export {
  type JobEvent,
  type JobLogsChunk,
  type JobMinerCandidate,
  JobService,
  type JobServiceOptions,
  type JobView,
} from "./service.ts";
export { ValidatorJobStore, type ValidatorJobRow } from "./store.ts";
