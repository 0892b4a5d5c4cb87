// SHA-256 Merkle tree over result rows (docs/proof-of-gpu.md, "Commitment"):
//   leaf(g, row)   = SHA-256(0x00 ‖ u32le(g) ‖ row bytes)        row bytes = n int32 little-endian
//   node(l, r)     = SHA-256(0x01 ‖ l ‖ r)
// Levels are built pairwise left to right; an odd last node is promoted unchanged to the next level. The
// domain bytes keep a leaf from being passed off as an inner node (second-preimage on the tree shape).
import { createHash } from "node:crypto";

export const HASH_BYTES = 32;
/** Deepest tree we accept: 2^40 leaves is far beyond any workload, so longer paths are malformed. */
export const MAX_PATH_LENGTH = 40;

const LEAF_TAG = Buffer.from([0]);
const NODE_TAG = Buffer.from([1]);

export function leafHash(index: number, row: Uint8Array): Buffer {
  const idx = Buffer.alloc(4);
  idx.writeUInt32LE(index >>> 0);
  return createHash("sha256").update(LEAF_TAG).update(idx).update(row).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash("sha256").update(NODE_TAG).update(left).update(right).digest();
}

/** Byte view of an int32 row (little-endian hosts only, as everywhere in this package). */
export function rowBytes(row: Int32Array): Uint8Array {
  return new Uint8Array(row.buffer, row.byteOffset, row.byteLength);
}

/** A built tree: every level kept so paths can be read off. Level 0 is the leaves. */
export class MerkleTree {
  readonly levels: Buffer[][];

  constructor(leaves: Buffer[]) {
    if (leaves.length === 0) throw new RangeError("a Merkle tree needs at least one leaf");
    const levels: Buffer[][] = [leaves];
    let level = leaves;
    while (level.length > 1) {
      const next: Buffer[] = [];
      for (let i = 0; i < level.length; i += 2) {
        next.push(i + 1 < level.length ? nodeHash(level[i], level[i + 1]) : level[i]);
      }
      levels.push(next);
      level = next;
    }
    this.levels = levels;
  }

  get root(): Buffer {
    return this.levels[this.levels.length - 1][0];
  }

  get leafCount(): number {
    return this.levels[0].length;
  }

  /** Siblings from the leaf up; levels where the node was promoted (no sibling) contribute nothing. */
  path(index: number): Buffer[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.leafCount) {
      throw new RangeError(`leaf ${index} is outside the tree of ${this.leafCount}`);
    }
    const path: Buffer[] = [];
    let idx = index;
    for (let l = 0; l < this.levels.length - 1; l++) {
      const level = this.levels[l];
      const sibling = idx ^ 1;
      if (sibling < level.length) path.push(level[sibling]);
      idx >>= 1;
    }
    return path;
  }
}

/** Number of siblings a valid path for leaf `index` of a tree with `leafCount` leaves has. */
export function expectedPathLength(index: number, leafCount: number): number {
  let len = 0;
  let idx = index;
  let width = leafCount;
  while (width > 1) {
    if ((idx ^ 1) < width) len++;
    idx >>= 1;
    width = Math.ceil(width / 2);
  }
  return len;
}

/** Recomputes the root from a leaf hash and its path; true when it equals `root` and the path has the right shape. */
export function verifyPath(
  leaf: Uint8Array,
  index: number,
  leafCount: number,
  path: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isInteger(index) || index < 0 || index >= leafCount) return false;
  if (path.length !== expectedPathLength(index, leafCount)) return false;
  let cur: Uint8Array = leaf;
  let idx = index;
  let width = leafCount;
  let p = 0;
  while (width > 1) {
    const sibling = idx ^ 1;
    if (sibling < width) {
      const s = path[p++];
      if (s.byteLength !== HASH_BYTES) return false;
      cur = idx & 1 ? nodeHash(s, cur) : nodeHash(cur, s);
    }
    idx >>= 1;
    width = Math.ceil(width / 2);
  }
  return Buffer.from(cur).equals(Buffer.from(root));
}
