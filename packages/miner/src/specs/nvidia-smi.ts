// Parsers for nvidia-smi output: the CSV of `--query-gpu` and the XML of `-q -x`. Pure functions, tested on
// recorded outputs of real cards (fixtures/). nvidia-smi prints "[N/A]", "N/A" or "[Not Supported]" for fields a
// card or driver does not report; those become null.
import type { GpuSpec } from "@computemesh/protocol";
import { CmeshError } from "@computemesh/core";

/** The fields asked of `nvidia-smi --query-gpu=…`, in the order the CSV parser expects. */
export const NVIDIA_SMI_QUERY_FIELDS = [
  "index",
  "name",
  "uuid",
  "memory.total",
  "driver_version",
  "power.limit",
  "pci.bus_id",
  "pcie.link.gen.max",
  "pcie.link.width.max",
] as const;

export const NVIDIA_SMI_QUERY_ARGS = [
  `--query-gpu=${NVIDIA_SMI_QUERY_FIELDS.join(",")}`,
  "--format=csv,noheader,nounits",
];

function isMissing(value: string): boolean {
  const v = value.trim();
  return v === "" || /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions)\]?$/i.test(v);
}

/** "81559 MiB" / "81559" → 81559; "[N/A]" → null. */
function number(value: string | undefined): number | null {
  if (value === undefined || isMissing(value)) return null;
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*(?:[a-zA-Z]+)?\s*$/.exec(value);
  return m ? Number(m[1]) : null;
}

function int(value: string | undefined): number | null {
  const n = number(value);
  return n === null ? null : Math.round(n);
}

function text(value: string | undefined): string | null {
  return value === undefined || isMissing(value) ? null : value.trim();
}

/** Parses `nvidia-smi --query-gpu=<NVIDIA_SMI_QUERY_FIELDS> --format=csv,noheader[,nounits]`. */
export function parseNvidiaSmiCsv(csv: string, cudaVersion: string | null = null): GpuSpec[] {
  const gpus: GpuSpec[] = [];
  for (const [lineNo, line] of csv.split(/\r?\n/).entries()) {
    if (line.trim() === "") continue;
    const cols = line.split(",").map((c) => c.trim());
    if (cols.length !== NVIDIA_SMI_QUERY_FIELDS.length) {
      throw new CmeshError(
        "NVIDIA_SMI_PARSE",
        `nvidia-smi CSV line ${lineNo + 1} has ${cols.length} fields, expected ${NVIDIA_SMI_QUERY_FIELDS.length}: ${line}`,
      );
    }
    const [index, name, uuid, memory, driver, power, busId, genMax, widthMax] = cols;
    const idx = int(index);
    const mem = int(memory);
    if (idx === null || !text(name) || !text(uuid) || mem === null) {
      throw new CmeshError(
        "NVIDIA_SMI_PARSE",
        `nvidia-smi CSV line ${lineNo + 1} lacks index, name, uuid or memory: ${line}`,
      );
    }
    gpus.push({
      index: idx,
      name: text(name)!,
      uuid: text(uuid)!,
      memory_total_mib: mem,
      driver_version: text(driver),
      cuda_version: cudaVersion,
      power_limit_w: number(power),
      pci_bus_id: text(busId),
      pcie_link_gen_max: int(genMax),
      pcie_link_width_max: int(widthMax),
    });
  }
  return gpus.sort((a, b) => a.index - b.index);
}

// ---- XML (`nvidia-smi -q -x`) ------------------------------------------------------------------------------
// The document is flat, machine-written and has no attributes we need except gpu id, so a tag reader suffices.

function tag(xml: string, path: string[]): string | undefined {
  let scope = xml;
  for (const name of path) {
    const m = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`).exec(scope);
    if (!m) return undefined;
    scope = m[1];
  }
  return unescapeXml(scope.trim());
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The CUDA version the driver supports (`<cuda_version>`), or null. */
export function parseCudaVersionFromXml(xml: string): string | null {
  return text(tag(xml, ["cuda_version"]));
}

/** Parses the XML of `nvidia-smi -q -x` (driver 470+ with `<power_readings>`, 535+ with `<gpu_power_readings>`). */
export function parseNvidiaSmiXml(xml: string): GpuSpec[] {
  if (!/<nvidia_smi_log>/.test(xml)) {
    throw new CmeshError("NVIDIA_SMI_PARSE", "not the XML of `nvidia-smi -q -x` (no <nvidia_smi_log>)");
  }
  const driver = text(tag(xml, ["driver_version"]));
  const cuda = parseCudaVersionFromXml(xml);
  const blocks = [...xml.matchAll(/<gpu id="([^"]*)">([\s\S]*?)<\/gpu>/g)];
  return blocks.map(([, id, body], i) => {
    const name = text(tag(body, ["product_name"]));
    const uuid = text(tag(body, ["uuid"]));
    const memory = int(tag(body, ["fb_memory_usage", "total"]));
    if (!name || !uuid || memory === null) {
      throw new CmeshError(
        "NVIDIA_SMI_PARSE",
        `GPU ${id} in nvidia-smi XML lacks product_name, uuid or memory`,
      );
    }
    const power =
      number(tag(body, ["gpu_power_readings", "current_power_limit"])) ??
      number(tag(body, ["power_readings", "power_limit"])) ??
      number(tag(body, ["power_readings", "enforced_power_limit"]));
    const minor = int(tag(body, ["minor_number"]));
    return {
      index: minor ?? i,
      name,
      uuid,
      memory_total_mib: memory,
      driver_version: driver,
      cuda_version: cuda,
      power_limit_w: power,
      pci_bus_id: text(tag(body, ["pci", "pci_bus_id"])) ?? id,
      pcie_link_gen_max: int(tag(body, ["pci", "pci_gpu_link_info", "pcie_gen", "max_link_gen"])),
      pcie_link_width_max: int(tag(body, ["pci", "pci_gpu_link_info", "link_widths", "max_link_width"])),
    };
  });
}
