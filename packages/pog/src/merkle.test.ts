import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { expectedPathLength, leafHash, MerkleTree, nodeHash, verifyPath } from "./merkle.ts";

const sha = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

function leaves(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => leafHash(i, new Uint8Array([i, i + 1, i + 2, 0])));
}

describe("Merkle tree", () => {
  it("uses the documented leaf and node encodings", () => {
    const row = new Uint8Array([1, 2, 3, 4]);
    expect(leafHash(5, row)).toEqual(sha(Buffer.from([0]), Buffer.from([5, 0, 0, 0]), row));
    const l = leafHash(0, row);
    const r = leafHash(1, row);
    expect(nodeHash(l, r)).toEqual(sha(Buffer.from([1]), l, r));
    // three leaves: the odd last one is promoted, not hashed with itself
    const t = new MerkleTree([l, r, leafHash(2, row)]);
    expect(t.root).toEqual(nodeHash(nodeHash(l, r), leafHash(2, row)));
  });

  it("verifies every leaf's path for sizes 1..33 and rejects tampering", () => {
    for (let count = 1; count <= 33; count++) {
      const ls = leaves(count);
      const tree = new MerkleTree(ls);
      for (let i = 0; i < count; i++) {
        const path = tree.path(i);
        expect(path.length).toBe(expectedPathLength(i, count));
        expect(verifyPath(ls[i], i, count, path, tree.root)).toBe(true);
        if (count > 1) {
          expect(verifyPath(ls[i], (i + 1) % count, count, path, tree.root)).toBe(false);
          const bad = path.map((p) => Buffer.from(p));
          bad[0][0] ^= 1;
          expect(verifyPath(ls[i], i, count, bad, tree.root)).toBe(false);
          expect(verifyPath(ls[i], i, count, [...path, path[0]], tree.root)).toBe(false);
          expect(verifyPath(ls[i], i, count, path.slice(1), tree.root)).toBe(false);
        }
      }
      expect(verifyPath(ls[0], -1, count, [], tree.root)).toBe(false);
      expect(verifyPath(ls[0], count, count, [], tree.root)).toBe(false);
    }
  });

  it("rejects a sibling of the wrong length and an empty tree", () => {
    const ls = leaves(4);
    const tree = new MerkleTree(ls);
    const path = tree.path(0);
    expect(verifyPath(ls[0], 0, 4, [path[0].subarray(0, 31), path[1]], tree.root)).toBe(false);
    expect(() => new MerkleTree([])).toThrow(RangeError);
    expect(() => tree.path(4)).toThrow(RangeError);
  });
});
