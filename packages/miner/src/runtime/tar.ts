// A minimal ustar writer: enough to hand a few small files to Docker's putArchive (PUT /containers/{id}/archive).
import { posix } from "node:path";
import type { ContainerFile } from "./types.ts";

function header(name: string, size: number, mode: number, type: "0" | "5"): Buffer {
  const h = Buffer.alloc(512, 0);
  if (Buffer.byteLength(name) > 100) throw new RangeError(`tar entry name too long: ${name}`);
  h.write(name, 0, 100, "utf8");
  h.write(`${mode.toString(8).padStart(7, "0")}\0`, 100, 8, "ascii");
  h.write("0000000\0", 108, 8, "ascii"); // uid root
  h.write("0000000\0", 116, 8, "ascii"); // gid root
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124, 12, "ascii");
  h.write(
    `${Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, "0")}\0`,
    136,
    12,
    "ascii",
  );
  h.write("        ", 148, 8, "ascii"); // checksum placeholder
  h.write(type, 156, 1, "ascii");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return h;
}

/** Tar (relative to /) of the files, each preceded by its parent directory (mode 0700 for .ssh, 0755 otherwise). */
export function tarFiles(files: ContainerFile[]): Buffer {
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  for (const file of files) {
    if (!posix.isAbsolute(file.path) || posix.normalize(file.path) !== file.path) {
      throw new RangeError(`container file path must be absolute and normalized: ${file.path}`);
    }
    // Only the direct parent gets an entry (created if the image lacks it); ancestors keep the image's modes.
    const d = posix.dirname(file.path);
    if (d !== "/" && !dirs.has(d)) {
      dirs.add(d);
      parts.push(header(`${d.slice(1)}/`, 0, posix.basename(d) === ".ssh" ? 0o700 : 0o755, "5"));
    }
    const body = Buffer.from(file.content, "utf8");
    parts.push(header(file.path.slice(1), body.length, file.mode, "0"), body);
    const pad = (512 - (body.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}
