import { constants } from "node:fs";
import { lstat, mkdir, open, readdir, realpath, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { JobOutputFile } from "@computemesh/protocol";

/** Writes the job's input files under `inputDir` (paths were validated as relative, without `..`). */
export async function writeInputs(
  inputDir: string,
  inputs: { path: string; contentBase64: string }[],
): Promise<number> {
  await mkdir(inputDir, { recursive: true, mode: 0o755 });
  let total = 0;
  for (const f of inputs) {
    const target = join(inputDir, f.path);
    if (!isInside(inputDir, target)) throw new Error(`input path ${f.path} escapes the input directory`);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    const bytes = Buffer.from(f.contentBase64, "base64");
    total += bytes.length;
    await writeFile(target, bytes, { mode: 0o644 });
  }
  return total;
}

function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel !== "" && !rel.startsWith("..") && !rel.startsWith(sep);
}

export interface CollectedOutputs {
  files: JobOutputFile[];
  skipped: { path: string; reason: string }[];
}

/**
 * Reads the requested output paths (files, or directories walked recursively) from `outputDir` after the
 * container exited. Never follows a symlink (a job could point one at the miner's own files), skips anything that
 * is not a regular file, and stops adding files once `maxBytes` would be exceeded.
 */
export async function collectOutputs(
  outputDir: string,
  outputPaths: string[],
  maxBytes: number,
  maxFiles = 2048,
): Promise<CollectedOutputs> {
  const root = await realpath(outputDir);
  const out: CollectedOutputs = { files: [], skipped: [] };
  let total = 0;
  const seen = new Set<string>();

  const visit = async (rel: string): Promise<void> => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const abs = join(root, rel);
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(abs);
    } catch {
      out.skipped.push({ path: rel, reason: "not found" });
      return;
    }
    if (st.isSymbolicLink()) {
      out.skipped.push({ path: rel, reason: "symbolic link (not followed)" });
      return;
    }
    if (st.isDirectory()) {
      const entries = (await readdir(abs)).sort();
      for (const e of entries) await visit(rel === "" ? e : `${rel}/${e}`);
      return;
    }
    if (!st.isFile()) {
      out.skipped.push({ path: rel, reason: "not a regular file" });
      return;
    }
    if (out.files.length >= maxFiles) {
      out.skipped.push({ path: rel, reason: `more than ${maxFiles} files` });
      return;
    }
    if (total + st.size > maxBytes) {
      out.skipped.push({ path: rel, reason: `over the output size cap of ${maxBytes} bytes` });
      return;
    }
    // Parent directories were checked with lstat on the way down; O_NOFOLLOW guards the last component.
    const fh = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const fst = await fh.stat();
      if (!fst.isFile() || total + fst.size > maxBytes) {
        out.skipped.push({ path: rel, reason: `over the output size cap of ${maxBytes} bytes` });
        return;
      }
      const buf = Buffer.alloc(fst.size);
      const { bytesRead } = await fh.read(buf, 0, fst.size, 0);
      total += bytesRead;
      out.files.push({ path: rel, contentBase64: buf.subarray(0, bytesRead).toString("base64") });
    } finally {
      await fh.close();
    }
  };

  for (const p of outputPaths) {
    // Walk the path one segment at a time so a symlinked parent directory is refused, not followed.
    const segs = p.split("/");
    let ok = true;
    for (let i = 1; i < segs.length; i++) {
      const parent = join(root, ...segs.slice(0, i));
      try {
        const st = await lstat(parent);
        if (!st.isDirectory()) {
          out.skipped.push({ path: p, reason: `${segs.slice(0, i).join("/")} is not a directory` });
          ok = false;
          break;
        }
      } catch {
        out.skipped.push({ path: p, reason: "not found" });
        ok = false;
        break;
      }
    }
    if (ok) await visit(p);
  }
  return out;
}

/**
 * Bytes used by regular files under `dir` (symlinks not followed); stops counting once `stopAt` is reached, and
 * after 100,000 entries (a job making millions of empty files is then counted as over the limit).
 */
export async function directorySize(dir: string, stopAt: number): Promise<number> {
  let total = 0;
  let entries = 0;
  const stack = [dir];
  while (stack.length > 0 && total < stopAt) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      continue;
    }
    for (const name of names) {
      if (++entries > 100_000) return stopAt;
      const st = await lstat(join(d, name)).catch(() => null);
      if (!st) continue;
      if (st.isDirectory()) stack.push(join(d, name));
      else if (st.isFile()) total += st.size;
      if (total >= stopAt) break;
    }
  }
  return total;
}
