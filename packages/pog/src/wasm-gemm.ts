// int8 GEMM in WebAssembly SIMD: c[i][j] = Σ_k a[i][k] · bT[j][k], 16 int8 at a time (sign-extend to i16x8,
// i32x4.dot_i16x8_s, accumulate in i32x4). Exact: the same int32 results as gemmInt8, several times faster
// (bench/pog.ts). The module is encoded below byte by byte (no WebAssembly toolchain is needed to build it).

const SIMD = 0xfd;
/** unsigned LEB128 */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}
const simd = (op: number) => [SIMD, ...leb(op)];
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
const name = (text: string) => [...leb(text.length), ...[...text].map((ch) => ch.charCodeAt(0))];

// locals: 0 a, 1 bT, 2 c, 3 rows, 4 k, 5 cols | 6 i, 7 j, 8 kk, 9 pa, 10 pb (i32) | 11 acc, 12 va, 13 vb (v128)
const [A, BT, C, ROWS, K, COLS, I, J, KK, PA, PB, ACC, VA, VB] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
];
const get = (l: number) => [0x20, l];
const set = (l: number) => [0x21, l];
const i32c = (v: number) => [0x41, ...leb(v)];
const ADD = 0x6a;
const MUL = 0x6c;
const GE_U = 0x4f;
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = 0x0b;
const brIf = (d: number) => [0x0d, d];
const br = (d: number) => [0x0c, d];
const V128_LOAD = [...simd(0x00), 0x00, 0x00];
const V128_ZERO = [...simd(0x0c), ...new Array(16).fill(0)];
const EXT_LO = simd(0x87); // i16x8.extend_low_i8x16_s
const EXT_HI = simd(0x88); // i16x8.extend_high_i8x16_s
const DOT = simd(0xba); // i32x4.dot_i16x8_s
const ADD4 = simd(0xae); // i32x4.add
const lane = (l: number) => [...simd(0x1b), l]; // i32x4.extract_lane

const body = [
  ...[...i32c(0), ...set(I)],
  ...BLOCK,
  ...LOOP,
  ...[...get(I), ...get(ROWS), GE_U, ...brIf(1)],
  ...[...i32c(0), ...set(J)],
  ...BLOCK,
  ...LOOP,
  ...[...get(J), ...get(COLS), GE_U, ...brIf(1)],
  ...[...V128_ZERO, ...set(ACC)],
  ...[...get(A), ...get(I), ...get(K), MUL, ADD, ...set(PA)],
  ...[...get(BT), ...get(J), ...get(K), MUL, ADD, ...set(PB)],
  ...[...i32c(0), ...set(KK)],
  ...BLOCK,
  ...LOOP,
  ...[...get(KK), ...get(K), GE_U, ...brIf(1)],
  ...[...get(PA), ...get(KK), ADD, ...V128_LOAD, ...set(VA)],
  ...[...get(PB), ...get(KK), ADD, ...V128_LOAD, ...set(VB)],
  ...get(ACC),
  ...[...get(VA), ...EXT_LO, ...get(VB), ...EXT_LO, ...DOT, ...ADD4],
  ...[...get(VA), ...EXT_HI, ...get(VB), ...EXT_HI, ...DOT, ...ADD4],
  ...set(ACC),
  ...[...get(KK), ...i32c(16), ADD, ...set(KK)],
  ...br(0),
  END,
  END,
  // c[(i·cols + j)·4] = Σ lanes of acc
  ...[...get(C), ...get(I), ...get(COLS), MUL, ...get(J), ADD, ...i32c(4), MUL, ADD],
  ...[
    ...get(ACC),
    ...lane(0),
    ...get(ACC),
    ...lane(1),
    ADD,
    ...get(ACC),
    ...lane(2),
    ADD,
    ...get(ACC),
    ...lane(3),
    ADD,
  ],
  ...[0x36, 0x02, 0x00], // i32.store align=4 offset=0
  ...[...get(J), ...i32c(1), ADD, ...set(J)],
  ...br(0),
  END,
  END,
  ...[...get(I), ...i32c(1), ADD, ...set(I)],
  ...br(0),
  END,
  END,
  END,
];
const I32 = 0x7f;
const V128 = 0x7b;
const locals = vec([
  [5, I32],
  [3, V128],
]);
const func = [...locals, ...body];

const MODULE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32]]), 0x00]])), // (i32 ×6) → ()
  ...section(3, vec([[0]])),
  ...section(5, vec([[0x00, 1]])), // memory, min 1 page
  ...section(
    7,
    vec([
      [...name("gemm"), 0x00, 0],
      [...name("mem"), 0x02, 0],
    ]),
  ), // exports: func 0, memory 0
  ...section(10, vec([[...leb(func.length), ...func]])),
]);

interface Exports {
  gemm(a: number, bT: number, c: number, rows: number, k: number, cols: number): void;
  mem: WebAssembly.Memory;
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is unavailable. */
function wasmModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(MODULE);
    } catch (err) {
      if (process.env.CMESH_DEBUG_WASM) console.error(err);
      compiled = null;
    }
  }
  return compiled;
}

export function wasmSimdAvailable(): boolean {
  return wasmModule() !== null;
}

/**
 * A right-hand int8 matrix B (k×n) prepared for repeated products: transposed once and kept in WASM memory.
 * `multiply(a, rows)` returns a·B (rows×n int32), bit-identical to gemmInt8. k must be a multiple of 16.
 */
export class WasmInt8Gemm {
  private readonly ex: Exports;
  private readonly bTOffset = 0;
  private readonly aOffset: number;

  constructor(
    b: Int8Array,
    readonly k: number,
    readonly n: number,
  ) {
    const module = wasmModule();
    if (!module) throw new Error("WebAssembly SIMD is not available");
    // one instance (and memory) per prepared B, so concurrent products never share scratch memory
    const ex = new WebAssembly.Instance(module).exports as unknown as Exports;
    if (k % 16 !== 0 || b.length !== k * n)
      throw new RangeError("WasmInt8Gemm: k must be a multiple of 16 and b k×n");
    this.ex = ex;
    this.aOffset = k * n;
    this.ensure(this.aOffset);
    const bT = new Int8Array(this.ex.mem.buffer, this.bTOffset, k * n);
    for (let kk = 0; kk < k; kk++) {
      const row = kk * n;
      for (let j = 0; j < n; j++) bT[j * k + kk] = b[row + j];
    }
  }

  multiply(a: Int8Array, rows: number): Int32Array {
    if (a.length !== rows * this.k) throw new RangeError("WasmInt8Gemm: a must be rows×k");
    const cOffset = align16(this.aOffset + a.length);
    this.ensure(cOffset + rows * this.n * 4);
    new Int8Array(this.ex.mem.buffer, this.aOffset, a.length).set(a);
    this.ex.gemm(this.aOffset, this.bTOffset, cOffset, rows, this.k, this.n);
    return new Int32Array(this.ex.mem.buffer.slice(cOffset, cOffset + rows * this.n * 4));
  }

  private ensure(bytes: number): void {
    const have = this.ex.mem.buffer.byteLength;
    if (bytes > have) this.ex.mem.grow(Math.ceil((bytes - have) / 65536));
  }
}

function align16(x: number): number {
  return Math.ceil(x / 16) * 16;
}
