import type {
  AllocationEvent,
  AllocationView,
  ChainEpochView,
  JobSpecInput,
  JobView,
  MachineView,
  RentRequest,
} from "@computemesh/validator";

// The views are the validator's own types (and the job states the protocol's): one definition, shared by the
// validator that produces them and the API that serves them.
export type { AllocationEvent, AllocationView, JobView, MachineView, RentRequest } from "@computemesh/validator";
export { isTerminalJobState, JOB_STATES, type JobState } from "@computemesh/protocol";
export type JobSpec = JobSpecInput;

/** Whether a renter can rent the machine now: proven, not rented, and its miner can start the containers. */
export function isRentable(m: MachineView): boolean {
  return m.verified && !m.allocated && m.runsContainers;
}

/** One row of the metagraph as the network page shows it (optional backend extension). */
export interface NeuronView {
  uid: number;
  hotkey: string;
  coldkey?: string;
  stake: number;
  incentive: number;
  dividends: number;
  emission: number;
  trust: number;
  validatorPermit?: boolean;
  isValidator?: boolean;
}
export interface NetworkView {
  netuid?: number;
  block?: number;
  epoch?: number;
  neurons: NeuronView[];
  /** The validator's scores per past epoch, oldest first, for the charts. */
  history?: {
    epoch: number;
    block?: number;
    totalScore: number;
    meanScore: number;
    neurons: number;
  }[];
  /** The chain's figures per neuron at each past epoch, oldest first, for the charts over epochs. */
  chain?: ChainEpochView[];
}
/** A machine's proof-of-GPU and score history (optional backend extension). */
export interface MachineHistoryView {
  proofs: {
    at: string;
    passed: boolean;
    model: string | null;
    measuredTops: number | null;
    reason?: string;
  }[];
  scores: { at: string; score: number; reliability?: number; online?: boolean }[];
}
export interface JobReceiptView {
  jobId: string;
  payload: Record<string, unknown>;
  validatorSignature?: string;
  minerSignature?: string;
}

/**
 * The market the renter API sells: exactly the members of `Validator` that the API needs (see the market
 * contract). A `Validator` from @computemesh/validator satisfies this interface structurally, so it is passed
 * straight to `startApiServer({ backend: validator })`. Optional members are extensions the web UI uses when
 * the backend offers them (the network page and miner view fall back to `listMachines` when absent).
 */
export interface MarketBackend {
  listMachines(): Promise<MachineView[]>;
  rent(req: RentRequest): Promise<AllocationView>;
  release(allocationId: string, reason: string): Promise<AllocationView>;
  allocation(allocationId: string): Promise<AllocationView | undefined>;
  /**
   * Optional: the allocation made for the API's rental id (passed as `RentRequest.clientRef`). Lets a restarted
   * API release an allocation whose rental it never recorded; without it such an allocation runs to its expiry.
   */
  allocationByClientRef?(clientRef: string): Promise<AllocationView | undefined>;
  onAllocationEvent(cb: (e: AllocationEvent) => void): () => void;
  submitJob(spec: JobSpec, opts?: { minerHotkey?: string }): Promise<JobView>;
  job(jobId: string): Promise<JobView | undefined>;
  jobLogs(
    jobId: string,
    fromOffset?: { stdout: number; stderr: number },
  ): Promise<{ stdout: string; stderr: string; done: boolean }>;
  jobOutputs(jobId: string): Promise<{ path: string; contentBase64: string }[]>;
  cancelJob(jobId: string): Promise<JobView>;
  /** Optional: the metagraph for the network page. */
  network?(): Promise<NetworkView>;
  /** Optional: proof and score history of one miner's machine. */
  machineHistory?(minerHotkey: string): Promise<MachineHistoryView>;
  /** Optional: the signed receipt of a finished job. */
  jobReceipt?(jobId: string): Promise<JobReceiptView | undefined>;
}
