// ComputeMesh proof-of-GPU worker (docs/proof-of-gpu.md). The same definitions as packages/pog/src:
//   Philox4x32-10 counter PRNG, matrix keys = SHA-256("cmesh-pog-v1" ‖ seed ‖ label ‖ u32le(index))[0..8),
//   C_k = A_k · B exactly in int32 (int8 tensor-core MMA through WMMA), leaves SHA-256(0x00 ‖ u32le(g) ‖ row),
//   nodes SHA-256(0x01 ‖ left ‖ right), odd last node promoted; VRAM fill with data-dependent page mixing.
// Leaf and node hashing run on the GPU. Every visible GPU works: products are dealt round-robin (each device
// reduces its products' rows to the product's subtree root when n is a power of two) and the VRAM buffer is split
// into per-device ranges. With --host every step runs on the CPU through the same __host__ __device__ functions
// (--host-devices D emulates the D-way split), which is how CI checks this file against the TypeScript backend.
//
// Line protocol on stdin/stdout (one command per line, answers end with "ok ..." or "err <message>"):
//   gemm <seed hex64> <n> <m>                     → "ok <root hex> <leaf count>"
//   vram <seed hex64> <chains> <pages> <bytes>     → "ok <root hex> <leaf count>"
//   open <g> [<g> ...]                             → per leaf "leaf <g> <data hex> <sibling hex>..." then "ok"
//   quit
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <iostream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace nvcuda;

#define HD __host__ __device__

// ---------------------------------------------------------------------------------------------- Philox4x32-10
HD inline uint32_t mulhi32(uint32_t a, uint32_t b) { return (uint32_t)(((uint64_t)a * (uint64_t)b) >> 32); }

HD inline void philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                             uint32_t out[4]) {
  for (int round = 0; round < 10; round++) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    uint32_t hi0 = mulhi32(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
    uint32_t hi1 = mulhi32(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** 16 stream bytes of block b (little-endian words). */
HD inline void philox_block(uint64_t b, uint32_t k0, uint32_t k1, uint8_t out[16]) {
  uint32_t w[4];
  philox4x32_10((uint32_t)b, (uint32_t)(b >> 32), 0, 0, k0, k1, w);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) out[i * 4 + j] = (uint8_t)(w[i] >> (8 * j));
}

// ---------------------------------------------------------------------------------------------------- SHA-256
struct Sha256 {
  uint32_t h[8];
  uint8_t buf[64];
  uint64_t total;
  uint32_t fill;
};

HD inline uint32_t rotr(uint32_t x, int r) { return (x >> r) | (x << (32 - r)); }

HD inline void sha256_block(uint32_t h[8], const uint8_t p[64]) {
  const uint32_t K[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) | ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

HD inline void sha256_init(Sha256& s) {
  const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  for (int i = 0; i < 8; i++) s.h[i] = iv[i];
  s.total = 0;
  s.fill = 0;
}

HD inline void sha256_update(Sha256& s, const uint8_t* p, uint64_t len) {
  s.total += len;
  while (len > 0) {
    if (s.fill == 0 && len >= 64) {
      sha256_block(s.h, p);
      p += 64;
      len -= 64;
      continue;
    }
    uint32_t take = 64 - s.fill;
    if (take > len) take = (uint32_t)len;
    for (uint32_t i = 0; i < take; i++) s.buf[s.fill + i] = p[i];
    s.fill += take;
    p += take;
    len -= take;
    if (s.fill == 64) {
      sha256_block(s.h, s.buf);
      s.fill = 0;
    }
  }
}

HD inline void sha256_final(Sha256& s, uint8_t out[32]) {
  uint64_t bits = s.total * 8;
  uint8_t pad = 0x80;
  uint64_t total = s.total;
  sha256_update(s, &pad, 1);
  uint8_t zero = 0;
  while (s.fill != 56) sha256_update(s, &zero, 1);
  uint8_t len[8];
  for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_update(s, len, 8);
  s.total = total;
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(s.h[i] >> (24 - 8 * j));
}

/** Leaf g over `bytes` bytes of data: SHA-256(0x00 ‖ u32le(g) ‖ data). */
HD inline void leaf_hash(uint32_t g, const uint8_t* data, uint64_t bytes, uint8_t out[32]) {
  Sha256 s;
  sha256_init(s);
  uint8_t head[5] = {0, (uint8_t)g, (uint8_t)(g >> 8), (uint8_t)(g >> 16), (uint8_t)(g >> 24)};
  sha256_update(s, head, 5);
  sha256_update(s, data, bytes);
  sha256_final(s, out);
}

HD inline void node_hash(const uint8_t* l, const uint8_t* r, uint8_t out[32]) {
  Sha256 s;
  sha256_init(s);
  uint8_t tag = 1;
  sha256_update(s, &tag, 1);
  sha256_update(s, l, 32);
  sha256_update(s, r, 32);
  sha256_final(s, out);
}

// ------------------------------------------------------------------------------------------------- VRAM mixing
HD inline uint32_t rotl13(uint32_t x) { return (x << 13) | (x >> 19); }

/** One 16-word lane of page i from its predecessor and reference page (words = page length in u32). */
HD inline void vram_mix_lane(const uint32_t* prev, const uint32_t* ref, uint32_t* page, uint32_t i, uint32_t lane,
                             uint32_t words) {
  uint32_t base = lane * 16;
  uint32_t x = prev[base + 15] ^ (i * 0x9e3779b1u) ^ lane;
  for (uint32_t t = 0; t < 16; t++) {
    uint32_t r = ref[x % words];
    x = rotl13(((x ^ r) * 0x85ebca6bu) + prev[base + t]);
    page[base + t] = x;
  }
}

// ------------------------------------------------------------------------------------------------------ kernels
__global__ void k_philox(uint8_t* out, uint64_t first_block, uint64_t blocks, uint32_t k0, uint32_t k1) {
  uint64_t b = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
  if (b < blocks) philox_block(first_block + b, k0, k1, out + 16 * b);
}

/** One warp per 16×16 output tile: int8 × int8 → int32 on the tensor cores. */
__global__ void k_gemm_wmma(const int8_t* A, const int8_t* B, int32_t* C, int n) {
  int tileN = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
  int tileM = blockIdx.y * blockDim.y + threadIdx.y;
  if (tileM >= n / 16 || tileN >= n / 16) return;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, signed char, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, signed char, wmma::row_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, 16, int> c;
  wmma::fill_fragment(c, 0);
  for (int k = 0; k < n; k += 16) {
    wmma::load_matrix_sync(a, A + (size_t)tileM * 16 * n + k, n);
    wmma::load_matrix_sync(b, B + (size_t)k * n + tileN * 16, n);
    wmma::mma_sync(c, a, b, c);
  }
  wmma::store_matrix_sync(C + (size_t)tileM * 16 * n + tileN * 16, c, n, wmma::mem_row_major);
}

__global__ void k_leaves(const uint8_t* data, uint64_t leaf_bytes, uint32_t first_index, uint32_t count,
                         uint8_t* out) {
  uint32_t r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r < count) leaf_hash(first_index + r, data + (uint64_t)r * leaf_bytes, leaf_bytes, out + 32 * (uint64_t)r);
}

__global__ void k_level(const uint8_t* in, uint64_t width, uint8_t* out) {
  uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
  if (2 * i + 1 < width) node_hash(in + 64 * i, in + 64 * i + 32, out + 32 * i);
  else if (2 * i < width)
    for (int j = 0; j < 32; j++) out[32 * i + j] = in[64 * i + j];
}

__global__ void k_vram_step(uint32_t* pages, uint32_t pages_per_chain, uint32_t words, uint32_t i) {
  uint32_t chain = blockIdx.x;
  uint32_t lane = threadIdx.x + blockIdx.y * blockDim.x;
  if (lane * 16 >= words) return;
  uint32_t* base = pages + (uint64_t)chain * pages_per_chain * words;
  const uint32_t* prev = base + (uint64_t)(i - 1) * words;
  const uint32_t* ref = base + (uint64_t)(prev[0] % i) * words;
  vram_mix_lane(prev, ref, base + (uint64_t)i * words, i, lane, words);
}

// ------------------------------------------------------------------------------------------------------- host
static void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

static std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}

static std::vector<uint8_t> unhex(const std::string& s) {
  if (s.size() % 2) throw std::runtime_error("odd hex length");
  std::vector<uint8_t> out(s.size() / 2);
  for (size_t i = 0; i < out.size(); i++) out[i] = (uint8_t)std::stoul(s.substr(2 * i, 2), nullptr, 16);
  return out;
}

/** Philox key of a matrix: SHA-256("cmesh-pog-v1" ‖ seed ‖ label ‖ u32le(index)), first 8 bytes as two u32 LE. */
static void matrix_key(const std::vector<uint8_t>& seed, char label, uint32_t index, uint32_t& k0, uint32_t& k1) {
  Sha256 s;
  sha256_init(s);
  const char* domain = "cmesh-pog-v1";
  sha256_update(s, (const uint8_t*)domain, strlen(domain));
  sha256_update(s, seed.data(), seed.size());
  uint8_t l = (uint8_t)label;
  sha256_update(s, &l, 1);
  uint8_t idx[4] = {(uint8_t)index, (uint8_t)(index >> 8), (uint8_t)(index >> 16), (uint8_t)(index >> 24)};
  sha256_update(s, idx, 4);
  uint8_t d[32];
  sha256_final(s, d);
  k0 = d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
  k1 = d[4] | d[5] << 8 | d[6] << 16 | (uint32_t)d[7] << 24;
}

static void host_stream(uint32_t k0, uint32_t k1, uint64_t first_byte, uint8_t* out, uint64_t bytes) {
  for (uint64_t b = 0; b < bytes / 16; b++) philox_block(first_byte / 16 + b, k0, k1, out + 16 * b);
}

/** A Merkle tree kept level by level on the host. */
struct Tree {
  std::vector<std::vector<uint8_t>> levels;  // 32 bytes per node
  uint64_t leaves() const { return levels[0].size() / 32; }
  const uint8_t* root() const { return levels.back().data(); }
  void path(uint64_t g, std::vector<std::string>& out) const {
    for (size_t l = 0; l + 1 < levels.size(); l++) {
      uint64_t width = levels[l].size() / 32, sib = g ^ 1;
      if (sib < width) out.push_back(hex(levels[l].data() + 32 * sib, 32));
      g >>= 1;
    }
  }
};

static Tree host_tree(std::vector<uint8_t> leaves) {
  Tree t;
  t.levels.push_back(std::move(leaves));
  while (t.levels.back().size() > 32) {
    const auto& in = t.levels.back();
    uint64_t width = in.size() / 32;
    std::vector<uint8_t> out(((width + 1) / 2) * 32);
    for (uint64_t i = 0; 2 * i < width; i++) {
      if (2 * i + 1 < width) node_hash(&in[64 * i], &in[64 * i + 32], &out[32 * i]);
      else memcpy(&out[32 * i], &in[64 * i], 32);
    }
    t.levels.push_back(std::move(out));
  }
  return t;
}

/** A Merkle tree whose levels stay in one device's memory (paths are copied out node by node). */
struct DevTree {
  int dev = 0;
  std::vector<uint8_t*> levels;
  std::vector<uint64_t> widths;
  void free_all() {
    cudaSetDevice(dev);
    for (auto p : levels) cudaFree(p);
    levels.clear();
    widths.clear();
  }
  void root(uint8_t out[32]) const {
    cudaSetDevice(dev);
    check(cudaMemcpy(out, levels.back(), 32, cudaMemcpyDeviceToHost), "copy root");
  }
  void path(uint64_t g, std::vector<std::string>& out) const {
    cudaSetDevice(dev);
    uint8_t node[32];
    for (size_t l = 0; l + 1 < levels.size(); l++) {
      uint64_t sib = g ^ 1;
      if (sib < widths[l]) {
        check(cudaMemcpy(node, levels[l] + 32 * sib, 32, cudaMemcpyDeviceToHost), "copy path node");
        out.push_back(hex(node, 32));
      }
      g >>= 1;
    }
  }
};

/** Builds the tree over `count` leaf hashes already on the current device; takes ownership of d_leaves. */
static DevTree device_tree(int dev, uint8_t* d_leaves, uint64_t count) {
  DevTree t;
  t.dev = dev;
  t.levels.push_back(d_leaves);
  t.widths.push_back(count);
  uint64_t width = count;
  while (width > 1) {
    uint64_t next = (width + 1) / 2;
    uint8_t* out;
    check(cudaMalloc(&out, next * 32), "alloc tree level");
    k_level<<<(unsigned)((next + 255) / 256), 256>>>(t.levels.back(), width, out);
    check(cudaGetLastError(), "tree level");
    t.levels.push_back(out);
    t.widths.push_back(next);
    width = next;
  }
  check(cudaDeviceSynchronize(), "tree");
  return t;
}

static bool pow2(uint64_t x) { return x && !(x & (x - 1)); }

/** Runs fn(d) for every device in its own thread; rethrows the first failure. */
template <typename F>
static void on_devices(int count, F fn) {
  std::vector<std::thread> threads;
  std::mutex mu;
  std::string failure;
  for (int d = 0; d < count; d++) {
    threads.emplace_back([&, d] {
      try {
        fn(d);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (failure.empty()) failure = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!failure.empty()) throw std::runtime_error(failure);
}

// The trees are split so that several devices can work without gathering leaves: when n is a power of two,
// product k's n rows form a complete subtree of the global tree (its root is node k of level log2 n), so each
// device reduces its products to their roots and the host builds the rest over the m product roots. The VRAM
// buffer is split into per-device ranges of a power-of-two number of pages for the same reason.
struct Worker {
  bool device;
  int devices;  // CUDA devices, or emulated ones with --host-devices
  enum { NONE, GEMM, VRAM } kind = NONE;
  std::vector<uint8_t> seed;
  uint32_t n = 0, m = 0, chains = 0, pages = 0, page_bytes = 0;
  // GEMM
  bool per_product = false;
  Tree top;                     // over product roots (per_product) or over every row
  std::vector<uint8_t> host_b;  // host mode
  // VRAM
  int vdevs = 1;
  uint64_t per_dev = 0;
  std::vector<Tree> host_sub;        // host mode: one subtree per (emulated) device
  std::vector<DevTree> dev_sub;      // device mode
  std::vector<uint32_t*> d_pages;    // device mode: pages of each device's chains
  std::vector<uint8_t> host_pages;   // host mode: every page

  void reset() {
    for (auto& t : dev_sub) t.free_all();
    dev_sub.clear();
    for (size_t d = 0; d < d_pages.size(); d++) {
      cudaSetDevice((int)d);
      cudaFree(d_pages[d]);
    }
    d_pages.clear();
    host_sub.clear();
    host_b.clear();
    host_pages.clear();
    top = Tree();
    kind = NONE;
  }

  // ---- GEMM -------------------------------------------------------------------------------------------------
  std::vector<int32_t> host_row(uint32_t g) {
    uint32_t k = g / n, r = g % n, k0, k1;
    matrix_key(seed, 'A', k, k0, k1);
    std::vector<uint8_t> a(n);
    host_stream(k0, k1, (uint64_t)r * n, a.data(), n);
    std::vector<int32_t> row(n, 0);
    for (uint32_t kk = 0; kk < n; kk++) {
      int32_t av = (int8_t)a[kk];
      const int8_t* brow = (const int8_t*)&host_b[(uint64_t)kk * n];
      for (uint32_t j = 0; j < n; j++) row[j] += av * brow[j];
    }
    return row;
  }

  /** Leaf hashes of product k (n × 32 bytes) on the host, computed on the CPU. */
  std::vector<uint8_t> host_product_leaves(uint32_t k) {
    std::vector<uint8_t> leaves(32ull * n);
    for (uint32_t r = 0; r < n; r++) {
      auto row = host_row(k * n + r);
      leaf_hash(k * n + r, (const uint8_t*)row.data(), 4ull * n, &leaves[32ull * r]);
    }
    return leaves;
  }

  /** Device buffers of one device for products. */
  struct GemmBuffers {
    int8_t *A = nullptr, *B = nullptr;
    int32_t* C = nullptr;
    uint8_t* leaves = nullptr;
  };

  GemmBuffers gemm_buffers(int d) {
    check(cudaSetDevice(d), "set device");
    GemmBuffers b;
    uint64_t nn = (uint64_t)n * n;
    check(cudaMalloc(&b.A, nn), "alloc A");
    check(cudaMalloc(&b.B, nn), "alloc B");
    check(cudaMalloc(&b.C, nn * 4), "alloc C");
    check(cudaMalloc(&b.leaves, 32ull * n), "alloc leaves");
    uint32_t k0, k1;
    matrix_key(seed, 'B', 0, k0, k1);
    k_philox<<<(unsigned)((nn / 16 + 255) / 256), 256>>>((uint8_t*)b.B, 0, nn / 16, k0, k1);
    return b;
  }

  static void free_buffers(int d, GemmBuffers& b) {
    cudaSetDevice(d);
    cudaFree(b.A);
    cudaFree(b.B);
    cudaFree(b.C);
    cudaFree(b.leaves);
  }

  /** Computes product k on the current device into b.C and its leaf hashes into b.leaves. */
  void device_product(GemmBuffers& b, uint32_t k) {
    uint64_t nn = (uint64_t)n * n;
    uint32_t k0, k1;
    matrix_key(seed, 'A', k, k0, k1);
    k_philox<<<(unsigned)((nn / 16 + 255) / 256), 256>>>((uint8_t*)b.A, 0, nn / 16, k0, k1);
    dim3 block(128, 4), grid((n / 16 + 3) / 4, (n / 16 + 3) / 4);
    k_gemm_wmma<<<grid, block>>>(b.A, b.B, b.C, (int)n);
    k_leaves<<<(n + 127) / 128, 128>>>((const uint8_t*)b.C, 4ull * n, k * n, n, b.leaves);
    check(cudaGetLastError(), "gemm kernels");
  }

  void gemm() {
    per_product = pow2(n);
    if (!device) {
      uint32_t k0, k1;
      matrix_key(seed, 'B', 0, k0, k1);
      host_b.resize((uint64_t)n * n);
      host_stream(k0, k1, 0, host_b.data(), host_b.size());
      std::vector<uint8_t> base(32ull * (per_product ? m : (uint64_t)m * n));
      for (uint32_t k = 0; k < m; k++) {
        auto leaves = host_product_leaves(k);
        if (per_product) memcpy(&base[32ull * k], host_tree(std::move(leaves)).root(), 32);
        else memcpy(&base[32ull * k * n], leaves.data(), leaves.size());
      }
      top = host_tree(std::move(base));
      return;
    }
    int use = per_product ? devices : 1;
    std::vector<uint8_t> base(32ull * (per_product ? m : (uint64_t)m * n));
    on_devices(use, [&](int d) {
      GemmBuffers b = gemm_buffers(d);
      std::vector<uint8_t> leaves(32ull * n);
      for (uint32_t k = (uint32_t)d; k < m; k += (uint32_t)use) {
        device_product(b, k);
        if (per_product) {
          uint8_t* level = nullptr;
          check(cudaMalloc(&level, 32ull * n), "alloc level");
          check(cudaMemcpy(level, b.leaves, 32ull * n, cudaMemcpyDeviceToDevice), "copy leaves");
          DevTree sub = device_tree(d, level, n);
          sub.root(&base[32ull * k]);
          sub.free_all();
        } else {
          check(cudaMemcpy(&base[32ull * k * n], b.leaves, 32ull * n, cudaMemcpyDeviceToHost), "copy leaves");
        }
      }
      check(cudaDeviceSynchronize(), "gemm");
      free_buffers(d, b);
    });
    top = host_tree(std::move(base));
  }

  /** Row g's bytes and Merkle path. */
  void open_row(uint64_t g, std::vector<uint8_t>& data, std::vector<std::string>& path) {
    uint32_t k = (uint32_t)(g / n), r = (uint32_t)(g % n);
    std::vector<uint8_t> leaves;
    if (!device) {
      auto row = host_row((uint32_t)g);
      data.assign((uint8_t*)row.data(), (uint8_t*)row.data() + 4ull * n);
      if (per_product) leaves = host_product_leaves(k);
    } else {
      int d = per_product ? (int)(k % devices) : 0;
      GemmBuffers b = gemm_buffers(d);
      device_product(b, k);
      check(cudaDeviceSynchronize(), "reopen product");
      data.resize(4ull * n);
      check(cudaMemcpy(data.data(), b.C + (uint64_t)r * n, 4ull * n, cudaMemcpyDeviceToHost), "copy row");
      leaves.resize(32ull * n);
      check(cudaMemcpy(leaves.data(), b.leaves, leaves.size(), cudaMemcpyDeviceToHost), "copy leaves");
      free_buffers(d, b);
    }
    if (per_product) {
      host_tree(std::move(leaves)).path(r, path);
      top.path(k, path);
    } else {
      top.path(g, path);
    }
  }

  // ---- VRAM -------------------------------------------------------------------------------------------------
  void vram() {
    uint64_t words = page_bytes / 4;
    vdevs = (chains % devices == 0 && pow2((uint64_t)(chains / devices) * pages)) ? devices : 1;
    uint32_t cpd = chains / vdevs;
    per_dev = (uint64_t)cpd * pages;
    std::vector<uint32_t> keys(2ull * chains);
    for (uint32_t c = 0; c < chains; c++) matrix_key(seed, 'V', c, keys[2ull * c], keys[2ull * c + 1]);
    std::vector<uint8_t> roots(32ull * vdevs);
    if (!device) {
      host_pages.assign((uint64_t)chains * pages * page_bytes, 0);
      for (int d = 0; d < vdevs; d++) {
        std::vector<uint8_t> hashes(32ull * per_dev);
        for (uint32_t lc = 0; lc < cpd; lc++) {
          uint32_t c = d * cpd + lc;
          uint32_t* base = (uint32_t*)&host_pages[(uint64_t)c * pages * page_bytes];
          host_stream(keys[2ull * c], keys[2ull * c + 1], 0, (uint8_t*)base, page_bytes);
          for (uint32_t i = 1; i < pages; i++) {
            const uint32_t* prev = base + (uint64_t)(i - 1) * words;
            const uint32_t* ref = base + (uint64_t)(prev[0] % i) * words;
            for (uint32_t lane = 0; lane < words / 16; lane++)
              vram_mix_lane(prev, ref, base + (uint64_t)i * words, i, lane, (uint32_t)words);
          }
          for (uint32_t i = 0; i < pages; i++) {
            uint64_t g = (uint64_t)c * pages + i;
            leaf_hash((uint32_t)g, (const uint8_t*)(base + i * words), page_bytes,
                      &hashes[32ull * (lc * (uint64_t)pages + i)]);
          }
        }
        host_sub.push_back(host_tree(std::move(hashes)));
        memcpy(&roots[32ull * d], host_sub.back().root(), 32);
      }
      top = host_tree(std::move(roots));
      return;
    }
    d_pages.assign(vdevs, nullptr);
    dev_sub.assign(vdevs, DevTree());
    on_devices(vdevs, [&](int d) {
      check(cudaSetDevice(d), "set device");
      uint32_t* pagesd;
      check(cudaMalloc(&pagesd, per_dev * page_bytes), "alloc VRAM buffer");
      d_pages[d] = pagesd;
      for (uint32_t lc = 0; lc < cpd; lc++) {
        uint32_t c = d * cpd + lc;
        uint64_t blocks = page_bytes / 16;
        k_philox<<<(unsigned)((blocks + 255) / 256), 256>>>((uint8_t*)(pagesd + (uint64_t)lc * pages * words), 0,
                                                             blocks, keys[2ull * c], keys[2ull * c + 1]);
      }
      uint32_t lanes = (uint32_t)(words / 16), threads = lanes < 256 ? lanes : 256;
      dim3 grid(cpd, (lanes + threads - 1) / threads);
      for (uint32_t i = 1; i < pages; i++) k_vram_step<<<grid, threads>>>(pagesd, pages, (uint32_t)words, i);
      uint8_t* leaves;
      check(cudaMalloc(&leaves, per_dev * 32), "alloc leaves");
      k_leaves<<<(unsigned)((per_dev + 127) / 128), 128>>>((const uint8_t*)pagesd, page_bytes,
                                                            (uint32_t)(d * per_dev), (uint32_t)per_dev, leaves);
      check(cudaGetLastError(), "vram kernels");
      dev_sub[d] = device_tree(d, leaves, per_dev);
      dev_sub[d].root(&roots[32ull * d]);
    });
    top = host_tree(std::move(roots));
  }

  void open_page(uint64_t g, std::vector<uint8_t>& data, std::vector<std::string>& path) {
    int d = (int)(g / per_dev);
    uint64_t local = g % per_dev;
    data.resize(page_bytes);
    if (device) {
      cudaSetDevice(d);
      check(cudaMemcpy(data.data(), (uint8_t*)d_pages[d] + local * page_bytes, page_bytes, cudaMemcpyDeviceToHost),
            "copy page");
      dev_sub[d].path(local, path);
    } else {
      memcpy(data.data(), &host_pages[g * page_bytes], page_bytes);
      host_sub[d].path(local, path);
    }
    top.path(d, path);
  }

  uint64_t leaf_count() const { return kind == GEMM ? (uint64_t)m * n : (uint64_t)chains * pages; }
};

int main(int argc, char** argv) {
  bool host = false;
  int host_devices = 1;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--host") host = true;
    else if (a == "--host-devices" && i + 1 < argc) host_devices = std::max(1, atoi(argv[++i]));
  }
  int count = host_devices;
  if (!host) {
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      std::cout << "err no CUDA device (run with --host for the CPU path)" << std::endl;
      return 2;
    }
  }
  Worker w{!host, count};
  std::cout << "ready " << (host ? "host " : "cuda ") << count << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    try {
      if (cmd == "quit") break;
      if (cmd == "gemm" || cmd == "vram") {
        std::string seedHex;
        in >> seedHex;
        w.reset();
        w.seed = unhex(seedHex);
        if (w.seed.size() != 32) throw std::runtime_error("seed must be 32 bytes");
        if (cmd == "gemm") {
          in >> w.n >> w.m;
          if (!in || w.n < 16 || w.n % 16 || w.m < 1) throw std::runtime_error("bad gemm size");
          w.gemm();
          w.kind = Worker::GEMM;
        } else {
          in >> w.chains >> w.pages >> w.page_bytes;
          if (!in || w.chains < 1 || w.pages < 2 || w.page_bytes < 64 || w.page_bytes % 64)
            throw std::runtime_error("bad vram size");
          w.vram();
          w.kind = Worker::VRAM;
        }
        std::cout << "ok " << hex(w.top.root(), 32) << " " << w.leaf_count() << std::endl;
      } else if (cmd == "open") {
        if (w.kind == Worker::NONE) throw std::runtime_error("nothing committed");
        uint64_t g;
        std::ostringstream out;
        while (in >> g) {
          if (g >= w.leaf_count()) throw std::runtime_error("leaf out of range");
          std::vector<uint8_t> data;
          std::vector<std::string> path;
          if (w.kind == Worker::GEMM) w.open_row(g, data, path);
          else w.open_page(g, data, path);
          out << "leaf " << g << " " << hex(data.data(), data.size());
          for (auto& s : path) out << " " << s;
          out << "\n";
        }
        std::cout << out.str() << "ok" << std::endl;
      } else {
        throw std::runtime_error("unknown command " + cmd);
      }
    } catch (const std::exception& e) {
      std::cout << "err " << e.what() << std::endl;
    }
  }
  w.reset();
  return 0;
}
