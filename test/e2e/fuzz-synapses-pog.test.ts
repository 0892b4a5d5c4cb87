// Signed hostile bodies against the pog synapses of a real `cmesh miner` process (see chaos-helpers/synapse-fuzz.ts).
import { synapseFuzzSuite } from "./chaos-helpers/synapse-fuzz.ts";

await synapseFuzzSuite("pog", 42560);
