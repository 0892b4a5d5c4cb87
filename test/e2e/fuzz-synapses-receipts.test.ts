// Signed hostile bodies against the receipts synapses of a real `cmesh miner` process (see chaos-helpers/synapse-fuzz.ts).
import { synapseFuzzSuite } from "./chaos-helpers/synapse-fuzz.ts";

await synapseFuzzSuite("receipts", 42580);
