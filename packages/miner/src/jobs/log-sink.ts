import { closeSync, openSync, writeSync } from "node:fs";
import { Writable } from "node:stream";

/**
 * A writable that keeps the first `capBytes` written into a file and only counts the rest, so a job printing
 * gigabytes costs the miner at most `capBytes` of disk.
 */
export class CappedFileSink extends Writable {
  private fd: number | null;
  kept = 0;
  seen = 0;

  constructor(
    readonly path: string,
    readonly capBytes: number,
  ) {
    super();
    this.fd = openSync(path, "w");
  }

  get truncated(): boolean {
    return this.seen > this.kept;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.seen += chunk.length;
    const room = this.capBytes - this.kept;
    if (room > 0 && this.fd !== null) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      try {
        writeSync(this.fd, part);
        this.kept += part.length;
      } catch (err) {
        cb(err as Error);
        return;
      }
    }
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.closeFile();
    cb();
  }

  closeFile(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

/** The largest end ≤ `end` that does not split a UTF-8 character (unless that would return nothing). */
export function utf8SafeEnd(buf: Uint8Array, start: number, end: number): number {
  if (end >= buf.length) return buf.length;
  let e = end;
  // Step back over continuation bytes (10xxxxxx) to the start of the character that was split.
  while (e > start && (buf[e] & 0xc0) === 0x80) e--;
  return e > start ? e : end;
}
