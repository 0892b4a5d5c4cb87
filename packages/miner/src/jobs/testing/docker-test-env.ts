// Test helpers for the job runner: a tiny local image and Docker availability. Used by tests only.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Docker from "dockerode";

/**
 * Whether tests can use Docker. When it cannot and `CMESH_REQUIRE_DOCKER=1` (CI), returns true anyway so the
 * tests run and fail loudly instead of being skipped.
 */
export async function dockerUsable(): Promise<boolean> {
  const ok = await new Docker()
    .ping()
    .then(() => true)
    .catch(() => false);
  if (!ok) {
    if (process.env.CMESH_REQUIRE_DOCKER === "1") return true;
    console.warn(
      "SKIPPING Docker job tests: no Docker daemon at /var/run/docker.sock (set CMESH_REQUIRE_DOCKER=1 to fail)",
    );
  }
  return ok;
}

// Host programs copied into the test image (with their shared libraries); missing ones are left out.
const PROGRAMS = [
  "sh",
  "ls",
  "cat",
  "sleep",
  "head",
  "yes",
  "dd",
  "mkdir",
  "wc",
  "tr",
  "env",
  "id",
  "true",
  "false",
  "seq",
  "ln",
  "tail",
  "ip",
];

function which(name: string): string | null {
  for (const dir of ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

function sharedLibraries(binary: string): string[] {
  const out = spawnSync("ldd", [binary], { encoding: "utf8" });
  if (out.status !== 0) return [];
  const libs: string[] = [];
  for (const line of out.stdout.split("\n")) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)/);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/**
 * A local image (a few MB) made of this host's own shell and coreutils, imported with `docker import`: no
 * registry, no network. Built once per content (the tag is a digest of the file list and sizes).
 */
export async function ensureJobTestImage(docker = new Docker()): Promise<string> {
  const files = new Map<string, string>(); // path in image → host path
  for (const name of PROGRAMS) {
    const host = which(name);
    if (!host) continue;
    files.set(`/bin/${name}`, host);
    for (const lib of sharedLibraries(host)) files.set(lib, lib);
  }
  const fingerprint = createHash("sha256");
  for (const [inImage, host] of [...files].sort()) fingerprint.update(`${inImage}:${statSync(host).size}\n`);
  const image = `local/cmesh-jobtest:${fingerprint.digest("hex").slice(0, 12)}`;
  const exists = await docker
    .getImage(image)
    .inspect()
    .then(() => true)
    .catch(() => false);
  if (exists) return image;

  const root = mkdtempSync(join(tmpdir(), "cmesh-jobtest-rootfs-"));
  try {
    for (const dir of ["tmp", "etc", "proc", "sys", "dev", "volume", "output"]) mkdirSync(join(root, dir));
    for (const [inImage, host] of files) {
      mkdirSync(join(root, dirname(inImage)), { recursive: true });
      copyFileSync(host, join(root, inImage)); // follows symlinks: the image holds the real files
    }
    const tar = execFileSync("tar", ["-C", root, "-c", "."], { maxBuffer: 512 * 1024 * 1024 });
    execFileSync("docker", ["import", "-c", "ENV PATH=/bin", "-", image], {
      input: tar,
      stdio: ["pipe", "ignore", "inherit"],
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return image;
}

/** Removes the job containers the given runners left behind (by label; other runners' are not touched). */
export async function removeJobContainers(docker: Docker, runnerIds: string[]): Promise<void> {
  if (runnerIds.length === 0) return;
  const all = await docker.listContainers({ all: true, filters: { label: ["computemesh.kind=job"] } });
  const list = all.filter((c) => runnerIds.includes(c.Labels["computemesh.job-runner"] ?? ""));
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}

export function readText(path: string): string {
  return readFileSync(path, "utf8");
}
