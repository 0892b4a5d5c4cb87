export {
  type AllocationEvent,
  type AllocationView,
  type RentRequest,
  resourcesFor,
  toAllocationView,
} from "./allocations.ts";
export {
  VALIDATOR_VERSION,
  VALIDATOR_VERSION_KEY,
  type ValidatorConfig,
  type ValidatorOptions,
  type ValidatorOptionsInput,
  ValidatorOptionsSchema,
} from "./config.ts";
export {
  classifyMiners,
  type Exclusion,
  type MinerFilterOptions,
  parseVersion,
  versionAtLeast,
} from "./filters.ts";
export type { JobView } from "./jobs/index.ts";
export { ValidatorMetrics } from "./metrics.ts";
export { claimFromSpecs, type GpuClaim, INCONCLUSIVE_POG_REASONS } from "./proofs.ts";
export { ReceiptBook } from "./receipt-book.ts";
export { firstPogAt, isPogDue, nextPogAt, type PogScheduleOptions, retryPogAt } from "./schedule.ts";
export {
  type MinerScore,
  type MinerScoreInput,
  type ScoreReason,
  scoreMiner,
  weightsFromScores,
} from "./scoring.ts";
export { buildStatus, type StatusRow } from "./status.ts";
export { ValidatorStore } from "./store/store.ts";
export {
  type ChainEpochView,
  type EpochReport,
  type JobSpecInput,
  type MachineView,
  Validator,
} from "./validator.ts";
