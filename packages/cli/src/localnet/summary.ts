// What `cmesh localnet` prints once the network is up: where everything is and what to try first.
import type { RunState } from "./state.ts";

export function formatSummary(run: RunState, opts: { dir: string; elapsedMs: number }): string {
  const key = run.apiKey ?? "(none)";
  const api = run.api ?? "(no API)";
  const lines = [
    "",
    `ComputeMesh local network is up (${(opts.elapsedMs / 1000).toFixed(1)} s). Everything listens on 127.0.0.1.`,
    "",
    `  chain       ${run.chain}   (subnet ${run.netuid})`,
    `  renter API  ${api}   (OpenAPI docs: ${api}/docs)`,
    `  web UI      ${run.web && run.webServed ? run.web : `NOT SERVED (the API process serves no UI; see ${opts.dir}/logs/validator-1.log)`}`,
    `  API key     ${key}   (account local-renter)`,
    "",
    ...run.validators.map(
      (v) => `  ${v.uid.toString().padStart(3)}  validator  ${v.hotkey}  axon ${v.axon ?? "-"}`,
    ),
    ...run.miners.map(
      (m) => `  ${m.uid.toString().padStart(3)}  miner      ${m.hotkey}  axon ${m.axon ?? "-"}`,
    ),
    "",
    `  GPUs: ${run.gpuMode}`,
    run.docker.rentable
      ? "  Docker: available; the CPU machine can be rented over SSH (SIMULATED GPUs cannot: no NVIDIA runtime)"
      : run.docker.daemon
        ? `  Docker: ${run.docker.reason}; miners are proven and scored but cannot be rented`
        : `  Docker: NOT AVAILABLE (${run.docker.reason}); miners run with --no-docker: proven and scored, but nothing can be rented`,
    "",
    "Try:",
    `  export CMESH_API_KEY=${key}`,
    `  curl -s -H "Authorization: Bearer $CMESH_API_KEY" '${api}/v1/machines?q=verified%3Dany'`,
    `  curl -s -X POST -H "Authorization: Bearer $CMESH_API_KEY" -H 'content-type: application/json' ${api}/v1/rentals \\`,
    `       -d "{\\"query\\": \\"gpu=CPU\\", \\"sshPublicKey\\": \\"$(cat ~/.ssh/id_ed25519.pub)\\", \\"durationSec\\": 3600}"`,
    "  ssh -p PORT root@127.0.0.1     # the rental's sshCommand gives the exact port and user",
    `  curl -s -X POST -H "Authorization: Bearer $CMESH_API_KEY" -H 'content-type: application/json' -d '{}' \\`,
    `       ${api}/v1/rentals/RENTAL_ID/release`,
    "",
    `  npx cmesh localnet status --json --dir ${opts.dir}     # the same, as JSON`,
    `  logs: ${opts.dir}/logs/<name>.log     stop: Ctrl-C (state is kept; --reset starts fresh)`,
    "",
  ];
  return lines.join("\n");
}
