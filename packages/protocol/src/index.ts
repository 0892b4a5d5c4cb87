export * from "./synapse.ts";
export * from "./synapses-compute.ts";
