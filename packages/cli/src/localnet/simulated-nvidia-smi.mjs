#!/usr/bin/env node
// SIMULATED nvidia-smi, for `cmesh localnet` only: this machine has no GPU, so a local miner is given this
// program as its `--nvidia-smi` and reports the GPU named in CMESH_SIMULATED_GPU (one device, with a UUID
// derived from CMESH_SIMULATED_GPU_ID). Its proof-of-GPU answers come from the SIMULATED backend and validators
// accept them only with `--pog.simulate` on a loopback network; every verdict is marked simulated.
import { createHash } from "node:crypto";

const name = process.env.CMESH_SIMULATED_GPU;
const memoryMiB = Number(process.env.CMESH_SIMULATED_GPU_MEMORY_MIB);
const id = process.env.CMESH_SIMULATED_GPU_ID ?? "local";

if (!name || !Number.isInteger(memoryMiB)) {
  process.stderr.write(
    "simulated nvidia-smi: CMESH_SIMULATED_GPU and CMESH_SIMULATED_GPU_MEMORY_MIB are not set\n",
  );
  process.exit(9);
}
const args = process.argv.slice(2);
const query = args.find((a) => a.startsWith("--query-gpu="));
if (!query) {
  // `-q -x` and anything else: a simulated GPU has no driver report (the CSV query is what the miner needs)
  process.stderr.write("simulated nvidia-smi: only --query-gpu is answered\n");
  process.exit(6);
}
const hex = createHash("sha256").update(`cmesh-simulated-gpu:${id}`).digest("hex");
const uuid = `GPU-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
const values = {
  index: "0",
  name,
  uuid,
  "memory.total": String(memoryMiB),
  driver_version: "simulated",
  "power.limit": "[N/A]",
  "pci.bus_id": "00000000:00:00.0",
  "pcie.link.gen.max": "[N/A]",
  "pcie.link.width.max": "[N/A]",
};
const fields = query.slice("--query-gpu=".length).split(",");
process.stdout.write(`${fields.map((f) => values[f] ?? "[N/A]").join(", ")}\n`);
