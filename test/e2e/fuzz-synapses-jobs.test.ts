// Signed hostile bodies against the jobs synapses of a real `cmesh miner` process (see chaos-helpers/synapse-fuzz.ts).
import { synapseFuzzSuite } from "./chaos-helpers/synapse-fuzz.ts";

await synapseFuzzSuite("jobs", 42570);
