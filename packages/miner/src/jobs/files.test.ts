import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { collectOutputs, writeInputs } from "./files.ts";
import { CappedFileSink, utf8SafeEnd } from "./log-sink.ts";

const root = mkdtempSync(join(tmpdir(), "cmesh-files-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("collectOutputs", () => {
  it("walks directories, refuses symlinked files and parents, and stops at the size cap", async () => {
    const out = join(root, "out1");
    mkdirSync(join(out, "d/sub"), { recursive: true });
    writeFileSync(join(out, "d/a.txt"), "aaaa");
    writeFileSync(join(out, "d/sub/b.txt"), "bbbb");
    writeFileSync(join(out, "big.bin"), Buffer.alloc(100));
    symlinkSync("/etc", join(out, "etc-link"));
    symlinkSync("/etc/hostname", join(out, "d/host"));
    const got = await collectOutputs(out, ["d", "etc-link/passwd", "big.bin", "nope"], 50);
    expect(got.files.map((f) => f.path)).toEqual(["d/a.txt", "d/sub/b.txt"]);
    expect(got.skipped).toEqual([
      { path: "d/host", reason: "symbolic link (not followed)" },
      { path: "etc-link/passwd", reason: "etc-link is not a directory" },
      { path: "big.bin", reason: "over the output size cap of 50 bytes" },
      { path: "nope", reason: "not found" },
    ]);
  });
});

describe("writeInputs", () => {
  it("writes nested files and refuses an escaping path even if validation was skipped", async () => {
    const dir = join(root, "in1");
    expect(
      await writeInputs(dir, [{ path: "x/y.txt", contentBase64: Buffer.from("hey").toString("base64") }]),
    ).toBe(3);
    await expect(writeInputs(dir, [{ path: "../escape", contentBase64: "" }])).rejects.toThrow(/escapes/);
  });
});

describe("CappedFileSink and utf8SafeEnd", () => {
  it("keeps the first bytes and counts the rest", async () => {
    const sink = new CappedFileSink(join(root, "log"), 5);
    sink.write(Buffer.from("abc"));
    sink.write(Buffer.from("defgh"));
    await new Promise<void>((r) => sink.end(r));
    expect({ kept: sink.kept, seen: sink.seen, truncated: sink.truncated }).toEqual({
      kept: 5,
      seen: 8,
      truncated: true,
    });
  });

  it("never splits a UTF-8 character unless the chunk would be empty", () => {
    const buf = Buffer.from("aé€"); // 61 | c3 a9 | e2 82 ac
    expect(utf8SafeEnd(buf, 0, 2)).toBe(1);
    expect(utf8SafeEnd(buf, 0, 3)).toBe(3);
    expect(utf8SafeEnd(buf, 0, 5)).toBe(3);
    expect(utf8SafeEnd(buf, 0, 6)).toBe(6);
    expect(utf8SafeEnd(buf, 1, 2)).toBe(2);
  });
});
