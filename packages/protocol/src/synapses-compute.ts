// Synapses of the compute market (Specs, Allocate, Deallocate, AllocationStatus, jobs): owned by the miner work.
export {};
