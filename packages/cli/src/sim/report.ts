// The short human-readable summary of a network simulation (the JSON is the full result).
import Table from "cli-table3";
import { CHEATER_KINDS } from "./miners.ts";
import type { NetworkSimResult } from "./network.ts";

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

export function formatNetworkSim(r: NetworkSimResult): string {
  const c = r.config;
  const lines = [
    `cmesh sim network: ${c.miners} miners, ${c.validators} validators, ${pct(c.cheaters)} cheaters, ${c.epochs} epochs, seed ${c.seed} (${(r.wallMs / 1000).toFixed(1)} s)`,
    `MODE: SIMULATED proof-of-GPU. Modeled: ${r.modeled}`,
  ];
  const meanShare = (kind: string, from: number) => {
    const eps = r.epochs.slice(from);
    return eps.length ? eps.reduce((a, e) => a + (e.byKind[kind] ?? 0), 0) / eps.length : 0;
  };
  const tail = Math.min(r.epochs.length - 1, 3);
  const kinds = new Table({
    style: { head: [], border: [] },
    head: [
      "miners",
      "n",
      "detected (validators)",
      "timing audit",
      "incentive share (epochs ≥ 3)",
      "fail reasons",
    ],
  });
  for (const kind of CHEATER_KINDS) {
    const k = r.kinds[kind];
    kinds.push([
      kind,
      k.miners,
      pct(k.detectionRate),
      k.auditFailRate === null ? "n/a" : pct(k.auditFailRate),
      pct(meanShare(kind, tail)),
      Object.entries(k.reasons)
        .map(([reason, n]) => `${reason}×${n}`)
        .join(" "),
    ]);
  }
  kinds.push([
    "honest",
    r.honest.miners,
    `false positives ${pct(r.honest.falsePositiveRate)}`,
    pct(r.honest.auditFailRate),
    pct(meanShare("honest", tail)),
    "",
  ]);
  lines.push(kinds.toString());
  const epochs = new Table({
    style: { head: [], border: [] },
    head: ["epoch", "honest incentive", "cheater incentive", "weight agreement (mean/min)", "proofs", "ms"],
  });
  for (const e of r.epochs) {
    epochs.push([
      e.epoch,
      pct(e.honestIncentive),
      pct(e.cheaterIncentive),
      `${e.weightAgreement.mean.toFixed(4)} / ${e.weightAgreement.min.toFixed(4)}`,
      e.proofsRun,
      e.ms,
    ]);
  }
  lines.push(epochs.toString());
  lines.push(
    `rentals: ${r.rentals.rented} started, ${r.rentals.lostDeclared} declared lost after their miner dropped out`,
  );
  lines.push(`fetched receipts rejected by the validators (replays): ${r.receiptsRejected}`);
  return `${lines.join("\n")}\n`;
}
