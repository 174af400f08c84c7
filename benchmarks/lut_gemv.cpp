// Does a lookup-table ternary GEMV (TL2, base-3) beat the 2-bit vpdpbusd kernel at batch 1?
//
// Batch-1 decode is memory-bound, tok/s <= bandwidth / bytes per token, so a format with fewer
// bits per weight can only win if its kernel still keeps up with the bandwidth. This tool packs
// the bitnet-b1.58-2B-4T matmul shapes in three formats, checks every kernel against a scalar
// integer reference, and times them from cache (compute) and streaming from DRAM, at 1 and 2
// threads, interleaved round by round so all kernels see the same machine state:
//
//   i2       2 bits/weight, i2_b128 layout, 1 x 4 decode tile, ymm vpdpbusd, linear prefetch
//            (a reimplementation of ternc's x86-64-v4 decode tile, docs/codegen.md).
//   tl2      1.67 bits/weight: 3 weights -> 4-bit index into a 14-entry table of signed sums of
//            3 activations + 1 sign bit. Exact int16 table split in low/high bytes, vpermb
//            lookups, sign applied as a +-1 vpdpbusd operand.
//   tl2-i8   the same weights with a single int8 table: exact only for |activation| <= 42
//            (T-MAC-style table quantization). An upper bound on LUT speed, not a drop-in format.
//   b3       1.6 bits/weight: 5 weights per byte in base 3 (TQ1_0-style scaled encoding),
//            digits by multiplying by 3 modulo 256 (b3-cmp: the same with compares).
//
// Measurements and conclusions: docs/perf/lut.md.
//
// Results: a table and one JSON object per line. Build with -march=native (AVX-512 VBMI/VNNI).

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <time.h>
#include <vector>

#if !defined(__AVX512VBMI__) || !defined(__AVX512VNNI__) || !defined(__AVX512BW__) ||              \
    !defined(__AVX512VL__)
#error "lut_gemv.cpp needs AVX-512 BW/VL/VBMI/VNNI: build with -march=native on such a host"
#endif

namespace {

// ---------------------------------------------------------------------------------------------
// Small utilities

struct FreeDeleter {
  void operator()(uint8_t *p) const { std::free(p); }
};
using Bytes = std::unique_ptr<uint8_t[], FreeDeleter>;

Bytes allocateBytes(size_t size) {
  const size_t rounded = (size + 4095) / 4096 * 4096 + 4096;
  auto *p = static_cast<uint8_t *>(std::aligned_alloc(4096, rounded));
  if (!p) {
    std::fprintf(stderr, "tern-lut-gemv: cannot allocate %zu bytes\n", size);
    std::exit(1);
  }
  std::memset(p, 0, rounded); // also first-touches the pages
  return Bytes(p);
}

size_t roundUp(size_t value, size_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int uniform(int lo, int hi) { return lo + int(next() % uint64_t(hi - lo + 1)); }
};

double threadCPUSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int32_t hsum256(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

int32_t sumActivations(const int8_t *x, int count) {
  int32_t sum = 0;
  for (int j = 0; j < count; ++j)
    sum += x[j];
  return sum;
}

// The scalar twin of every kernel: y[r] = sum_j w[r][j] * x[j], exact in int32.
void referenceGemv(const int8_t *w, const int8_t *x, int n, int k, int32_t *y) {
  for (int r = 0; r < n; ++r) {
    int32_t sum = 0;
    for (int j = 0; j < k; ++j)
      sum += int32_t(w[size_t(r) * k + j]) * x[j];
    y[r] = sum;
  }
}

// ---------------------------------------------------------------------------------------------
// Kernel interface. Rows are split between threads in multiples of 64.

class GemvKernel {
public:
  virtual ~GemvKernel() = default;
  virtual const char *name() const = 0;
  // Largest |activation| for which the kernel is exact (int8 activations: 127).
  virtual int maxActivation() const { return 127; }
  virtual size_t packedBytes(int n, int k) const = 0;
  // Packs |w| (n, k), values -1/0/1, row-major, into |out| (packedBytes(n, k) bytes, zeroed).
  virtual void pack(const int8_t *w, int n, int k, uint8_t *out) const = 0;
  virtual size_t scratchBytes(int k) const = 0;
  // y[r] = sum_j w[r][j] x[j] for r in [rowBegin, rowEnd). |x| is readable and zero up to
  // roundUp(k, 320) + 64. |prepare|: build the per-call activation data (tables, sums) in
  // |scratch| (a real call always does; the cache-resident timing reuses it to time the loop).
  virtual void gemv(const uint8_t *packed, const int8_t *x, int n, int k, int rowBegin, int rowEnd,
                    bool prepare, uint8_t *scratch, int32_t *y) const = 0;
  // Time of the per-call preparation alone, for the report.
  virtual void prepareOnly(const int8_t *x, int k, uint8_t *scratch) const = 0;
};

// ---------------------------------------------------------------------------------------------
// i2: ternc's i2_b128 decode tile. A row is k/128 blocks of 32 bytes; bits 2s..2s+1 of byte j
// of block b hold weight b*128 + 32s + j, plus 1. Four rows per tile, one accumulator per row
// and slot: slot s keeps its codes in place (code * 4^s, still a u8) and the sum is shifted
// right by 2s once at the end. One ascending prefetch stream 4 KiB ahead of the tile's last row.

class I2Kernel final : public GemvKernel {
public:
  explicit I2Kernel(size_t prefetch) : prefetch(prefetch) {}
  const char *name() const override { return "i2"; }
  size_t packedBytes(int n, int k) const override { return size_t(n) * (k / 4); }
  void pack(const int8_t *w, int n, int k, uint8_t *out) const override {
    const size_t rowBytes = k / 4;
    for (int r = 0; r < n; ++r)
      for (int j = 0; j < k; ++j) {
        const int block = j / 128, slot = (j % 128) / 32, lane = j % 32;
        out[r * rowBytes + block * 32 + lane] |= uint8_t((w[size_t(r) * k + j] + 1) << (2 * slot));
      }
  }
  size_t scratchBytes(int) const override { return 64; }
  void prepareOnly(const int8_t *x, int k, uint8_t *scratch) const override {
    const int32_t sum = sumActivations(x, k);
    std::memcpy(scratch, &sum, 4);
  }

  void gemv(const uint8_t *packed, const int8_t *x, int, int k, int rowBegin, int rowEnd,
            bool prepare, uint8_t *scratch, int32_t *y) const override {
    if (prepare)
      prepareOnly(x, k, scratch);
    int32_t sumX;
    std::memcpy(&sumX, scratch, 4);
    const size_t rowBytes = k / 4;
    const int blocks = k / 128;
    const __m256i m0 = _mm256_set1_epi8(0x03), m1 = _mm256_set1_epi8(0x0C),
                  m2 = _mm256_set1_epi8(0x30), m3 = _mm256_set1_epi8(char(0xC0));
    for (int r = rowBegin; r < rowEnd; r += 4) {
      const uint8_t *tile = packed + size_t(r) * rowBytes;
      // Named accumulators: GCC spills and shuffles an array of 16 of them.
      __m256i a00 = _mm256_setzero_si256(), a01 = a00, a02 = a00, a03 = a00;
      __m256i a10 = a00, a11 = a00, a12 = a00, a13 = a00;
      __m256i a20 = a00, a21 = a00, a22 = a00, a23 = a00;
      __m256i a30 = a00, a31 = a00, a32 = a00, a33 = a00;
      for (int b = 0; b < blocks; ++b) {
        const char *pf = reinterpret_cast<const char *>(tile) + b * 128 + 3 * rowBytes + prefetch;
        _mm_prefetch(pf, _MM_HINT_T0);
        _mm_prefetch(pf + 64, _MM_HINT_T0);
        const int8_t *xb = x + b * 128;
        __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb));
        __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb + 32));
        __m256i x2 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb + 64));
        __m256i x3 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb + 96));
        // Keep each activation load in a register instead of re-loading it for every row.
        asm("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3));
        auto row = [&](int i, __m256i &s0, __m256i &s1, __m256i &s2, __m256i &s3) {
          __m256i codes =
              _mm256_loadu_si256(reinterpret_cast<const __m256i *>(tile + i * rowBytes + b * 32));
          asm("" : "+v"(codes));
          s0 = _mm256_dpbusd_epi32(s0, _mm256_and_si256(codes, m0), x0);
          s1 = _mm256_dpbusd_epi32(s1, _mm256_and_si256(codes, m1), x1);
          s2 = _mm256_dpbusd_epi32(s2, _mm256_and_si256(codes, m2), x2);
          s3 = _mm256_dpbusd_epi32(s3, _mm256_and_si256(codes, m3), x3);
        };
        row(0, a00, a01, a02, a03);
        row(1, a10, a11, a12, a13);
        row(2, a20, a21, a22, a23);
        row(3, a30, a31, a32, a33);
      }
      auto finish = [&](__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
        __m256i v = _mm256_add_epi32(s0, _mm256_srai_epi32(s1, 2));
        v = _mm256_add_epi32(v, _mm256_srai_epi32(s2, 4));
        v = _mm256_add_epi32(v, _mm256_srai_epi32(s3, 6));
        return hsum256(v) - sumX;
      };
      y[r + 0] = finish(a00, a01, a02, a03);
      y[r + 1] = finish(a10, a11, a12, a13);
      y[r + 2] = finish(a20, a21, a22, a23);
      y[r + 3] = finish(a30, a31, a32, a33);
    }
  }

private:
  size_t prefetch;
};

// ---------------------------------------------------------------------------------------------
// tl2: 3 weights (w0, w1, w2) -> v = 9(w0+1) + 3(w1+1) + (w2+1) in 0..26; v and 26 - v are
// negatives of each other, so the 4-bit index is v - 13 (v >= 13) or 13 - v (v < 13, sign bit
// set), 0 for the zero triple. Entry i of a group's table is T[i] = the dot product of the
// triple v = 13 + i with the group's 3 activations.
//
// Layout, per tile of 64 rows (rows split in 4 vectors of 16 rows, a dword per row):
//   int16 S[64]: sum of the row's group signs (+1/-1), the correction for the table bias;
//   per quad q (4 groups = 12 weights): 128 bytes of indices, byte p of bytes [0,64) holds
//   row p/4 (low nibble) and 16 + p/4 (high nibble), group m = p % 4 of the quad; bytes
//   [64,128) the same for rows 32.. and 48..; then 4 x 64-bit sign masks, bit p of mask v =
//   sign of (row 16v + p/4, group p%4);
//   k % 12 leftover weights as 2-bit codes (w + 1), 4 per row and 64-byte chunk, bits 2s of
//   byte p = row 16s + p/4, weight p % 4 of the chunk.
// So one 64-byte vpermb table holds 4 groups' tables (byte 16m + i), the 4 bytes of a row's
// dword look up 4 different groups, and vpdpbusd sums them into the row's int32 lane.
//
// Tables: exact: E = T + 384 in [3, 765], low and high bytes in two tables, result = sum(s lo)
// + 256 sum(s hi) - 384 S. int8: E = T + 128, exact while |x| <= 42 (|T| <= 126).

int tl2Encode(int w0, int w1, int w2, bool &negative) {
  const int v = 9 * (w0 + 1) + 3 * (w1 + 1) + (w2 + 1);
  negative = v < 13;
  return v >= 13 ? v - 13 : 13 - v;
}

template <bool Exact> class Tl2Kernel final : public GemvKernel {
public:
  static constexpr int kBias = Exact ? 384 : 128;
  static constexpr int kTableBytes = Exact ? 128 : 64; // per quad

  explicit Tl2Kernel(size_t prefetch) : prefetch(prefetch) {
    // Coefficient of activation j of group m for entry i, for table bytes 32h + L.
    for (int h = 0; h < 2; ++h)
      for (int lane = 0; lane < 32; ++lane) {
        const int m = 2 * h + lane / 16, i = lane % 16;
        const int v = 13 + i;
        const int w[3] = {v / 9 - 1, (v / 3) % 3 - 1, v % 3 - 1};
        for (int j = 0; j < 3; ++j) {
          permute[h][j][lane] = int16_t(3 * m + j);
          coefficient[h][j][lane] = int16_t(i >= 1 && i <= 13 ? w[j] : 0);
        }
      }
  }
  const char *name() const override { return Exact ? "tl2" : "tl2-i8"; }
  int maxActivation() const override { return Exact ? 127 : 42; }

  static int quads(int k) { return k / 12; }
  static int chunks(int k) { return (k - 12 * quads(k) + 3) / 4; }
  static size_t tileBytes(int k) {
    return roundUp(128 + 160 * size_t(quads(k)) + 64 * chunks(k), 32);
  }
  size_t packedBytes(int n, int k) const override { return size_t(n / 64) * tileBytes(k); }

  void pack(const int8_t *w, int n, int k, uint8_t *out) const override {
    const int nq = quads(k), nc = chunks(k);
    for (int t = 0; t < n / 64; ++t) {
      uint8_t *tile = out + t * tileBytes(k);
      for (int row = 0; row < 64; ++row) {
        const int8_t *wr = w + size_t(t * 64 + row) * k;
        const int v = row / 16, p = 4 * (row % 16);
        int16_t signSum = 0;
        for (int q = 0; q < nq; ++q) {
          uint8_t *quad = tile + 128 + 160 * size_t(q);
          for (int m = 0; m < 4; ++m) {
            const int8_t *g = wr + 12 * q + 3 * m;
            bool negative;
            const int index = tl2Encode(g[0], g[1], g[2], negative);
            quad[(v / 2) * 64 + p + m] |= uint8_t(index << (4 * (v % 2)));
            uint64_t mask;
            std::memcpy(&mask, quad + 128 + 8 * v, 8);
            mask |= uint64_t(negative) << (p + m);
            std::memcpy(quad + 128 + 8 * v, &mask, 8);
            signSum += negative ? -1 : 1;
          }
        }
        std::memcpy(tile + 2 * row, &signSum, 2);
        for (int c = 0; c < nc; ++c) {
          uint8_t *chunk = tile + 128 + 160 * size_t(nq) + 64 * c;
          for (int m = 0; m < 4; ++m) {
            const int j = 12 * nq + 4 * c + m;
            const int code = j < k ? wr[j] + 1 : 1;
            chunk[p + m] |= uint8_t(code << (2 * v));
          }
        }
      }
    }
  }

  // Scratch: the tables (kTableBytes per quad), then the int32 sum of the leftover activations.
  size_t scratchBytes(int k) const override { return size_t(quads(k)) * kTableBytes + 64; }

  void prepareOnly(const int8_t *x, int k, uint8_t *scratch) const override {
    const int nq = quads(k);
    __m512i perm[2][3], coef[2][3];
    for (int h = 0; h < 2; ++h)
      for (int j = 0; j < 3; ++j) {
        perm[h][j] = _mm512_loadu_si512(permute[h][j]);
        coef[h][j] = _mm512_loadu_si512(coefficient[h][j]);
      }
    const __m512i bias = _mm512_set1_epi16(kBias);
    for (int q = 0; q < nq; ++q) {
      // 16 activations (12 used), sign-extended to int16 lanes 0..15.
      const __m128i a8 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(x + 12 * q));
      const __m512i a16 = _mm512_cvtepi8_epi16(_mm256_zextsi128_si256(a8));
      uint8_t *table = scratch + size_t(q) * kTableBytes;
      for (int h = 0; h < 2; ++h) {
        __m512i e = bias;
        for (int j = 0; j < 3; ++j)
          e = _mm512_add_epi16(
              e, _mm512_mullo_epi16(_mm512_permutexvar_epi16(perm[h][j], a16), coef[h][j]));
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(table + 32 * h), _mm512_cvtepi16_epi8(e));
        if (Exact)
          _mm256_storeu_si256(reinterpret_cast<__m256i *>(table + 64 + 32 * h),
                              _mm512_cvtepi16_epi8(_mm512_srli_epi16(e, 8)));
      }
    }
    const int32_t leftover = sumActivations(x + 12 * nq, k - 12 * nq);
    std::memcpy(scratch + size_t(nq) * kTableBytes, &leftover, 4);
  }

  void gemv(const uint8_t *packed, const int8_t *x, int, int k, int rowBegin, int rowEnd,
            bool prepare, uint8_t *scratch, int32_t *y) const override {
    if (prepare)
      prepareOnly(x, k, scratch);
    const int nq = quads(k), nc = chunks(k);
    int32_t leftoverSum;
    std::memcpy(&leftoverSum, scratch + size_t(nq) * kTableBytes, 4);
    const __m512i lowNibble = _mm512_set1_epi8(0x0F);
    const __m512i groupOffset = _mm512_set1_epi32(0x30201000); // byte m of a dword: + 16 m
    const __m512i plusOne = _mm512_set1_epi8(1), minusOne = _mm512_set1_epi8(-1);
    const __m512i three = _mm512_set1_epi8(3);
    const size_t bytesPerTile = tileBytes(k);
    for (int t = rowBegin / 64; t < rowEnd / 64; ++t) {
      const uint8_t *tile = packed + t * bytesPerTile;
      __m512i lo[4], hi[4];
      for (int v = 0; v < 4; ++v)
        lo[v] = hi[v] = _mm512_setzero_si512();
      const uint8_t *p = tile + 128;
      const uint8_t *table = scratch;
      for (int q = 0; q < nq; ++q, p += 160, table += kTableBytes) {
        const char *pf = reinterpret_cast<const char *>(p) + prefetch;
        // Into L2 (prefetcht1), 12 KiB ahead: one ascending stream, 2.5 lines per quad.
        _mm_prefetch(pf, _MM_HINT_T1);
        _mm_prefetch(pf + 64, _MM_HINT_T1);
        _mm_prefetch(pf + 128, _MM_HINT_T1);
        // One load per table and quad: GCC would otherwise fold a 64-byte table load into
        // every vpermb, 4x the L1 load traffic, which slows the kernel down when streaming.
        __m512i tableLo = _mm512_loadu_si512(table);
        __m512i tableHi = Exact ? _mm512_loadu_si512(table + 64) : tableLo;
        asm("" : "+v"(tableLo), "+v"(tableHi));
        const __m512i raw0 = _mm512_loadu_si512(p);
        const __m512i raw1 = _mm512_loadu_si512(p + 64);
        // (raw & 0x0F) | groupOffset: vpermb reads the index's low 6 bits.
        __m512i index[4];
        index[0] = _mm512_ternarylogic_epi32(raw0, lowNibble, groupOffset, 0xEA);
        index[1] =
            _mm512_ternarylogic_epi32(_mm512_srli_epi16(raw0, 4), lowNibble, groupOffset, 0xEA);
        index[2] = _mm512_ternarylogic_epi32(raw1, lowNibble, groupOffset, 0xEA);
        index[3] =
            _mm512_ternarylogic_epi32(_mm512_srli_epi16(raw1, 4), lowNibble, groupOffset, 0xEA);
        for (int v = 0; v < 4; ++v) {
          uint64_t bits;
          std::memcpy(&bits, p + 128 + 8 * v, 8);
          const __mmask64 negative = _cvtu64_mask64(bits);
          const __m512i sign = _mm512_mask_blend_epi8(negative, plusOne, minusOne);
          lo[v] = _mm512_dpbusd_epi32(lo[v], _mm512_permutexvar_epi8(index[v], tableLo), sign);
          if (Exact) {
            hi[v] = _mm512_dpbusd_epi32(hi[v], _mm512_permutexvar_epi8(index[v], tableHi), sign);
          }
        }
      }
      // Leftover weights (k % 12) as 2-bit codes.
      for (int c = 0; c < nc; ++c, p += 64) {
        const __m512i raw = _mm512_loadu_si512(p);
        int32_t xs;
        std::memcpy(&xs, x + 12 * nq + 4 * c, 4);
        const __m512i xb = _mm512_set1_epi32(xs);
        lo[0] = _mm512_dpbusd_epi32(lo[0], _mm512_and_si512(raw, three), xb);
        lo[1] = _mm512_dpbusd_epi32(lo[1], _mm512_and_si512(_mm512_srli_epi16(raw, 2), three), xb);
        lo[2] = _mm512_dpbusd_epi32(lo[2], _mm512_and_si512(_mm512_srli_epi16(raw, 4), three), xb);
        lo[3] = _mm512_dpbusd_epi32(lo[3], _mm512_and_si512(_mm512_srli_epi16(raw, 6), three), xb);
      }
      const __m512i bias = _mm512_set1_epi32(kBias);
      const __m512i leftover = _mm512_set1_epi32(leftoverSum);
      for (int v = 0; v < 4; ++v) {
        const __m512i signSum = _mm512_cvtepi16_epi32(
            _mm256_loadu_si256(reinterpret_cast<const __m256i *>(tile + 32 * v)));
        __m512i result = Exact ? _mm512_add_epi32(lo[v], _mm512_slli_epi32(hi[v], 8)) : lo[v];
        result = _mm512_sub_epi32(result, _mm512_mullo_epi32(signSum, bias));
        result = _mm512_sub_epi32(result, leftover);
        _mm512_storeu_si512(y + t * 64 + 16 * v, result);
      }
    }
  }

private:
  size_t prefetch;
  int16_t permute[2][3][32];
  int16_t coefficient[2][3][32];
};

// ---------------------------------------------------------------------------------------------
// b3: 5 weights per byte. A row is ceil(k/320) blocks of 64 bytes; byte i of a block holds the
// codes c_j = w + 1 of weights 64j + i (j = 0..4) as q = sum c_j 3^(4-j), stored scaled as
// ceil(q * 256 / 243) (llama.cpp TQ1_0's trick): then t_j = byte * 3^j mod 256 carries digit j
// in its top "trit", c_j = floor(3 t_j / 256), and t_j+1 = 3 t_j mod 256 (two byte adds).
//   b3:     by multiplication: 256 c_j = 3 t_j - t_j+1, so sum c_j x_j =
//           (3 sum t_j x_j - sum t_j+1 x_j) / 256, exactly: two vpdpbusd of the raw bytes t_j,
//           t_j+1 against x_j per digit, no digit is ever formed.
//   b3-cmp: c_j = [t_j > 85] + [t_j > 170] (two compares into masks and a masked add), then one
//           vpdpbusd.

template <bool Multiply> class Base3Kernel final : public GemvKernel {
public:
  explicit Base3Kernel(size_t prefetch) : prefetch(prefetch) {}
  const char *name() const override { return Multiply ? "b3" : "b3-cmp"; }
  static size_t rowBytes(int k) { return roundUp(k, 320) / 320 * 64; }
  size_t packedBytes(int n, int k) const override { return size_t(n) * rowBytes(k); }
  void pack(const int8_t *w, int n, int k, uint8_t *out) const override {
    const int blocks = int(rowBytes(k) / 64);
    for (int r = 0; r < n; ++r)
      for (int b = 0; b < blocks; ++b)
        for (int i = 0; i < 64; ++i) {
          int q = 0;
          for (int j = 0; j < 5; ++j) {
            const int col = b * 320 + 64 * j + i;
            q = 3 * q + (col < k ? w[size_t(r) * k + col] + 1 : 1);
          }
          out[r * rowBytes(k) + b * 64 + i] = uint8_t((q * 256 + 242) / 243);
        }
  }
  size_t scratchBytes(int) const override { return 64; }
  void prepareOnly(const int8_t *x, int k, uint8_t *scratch) const override {
    const int32_t sum = sumActivations(x, k);
    std::memcpy(scratch, &sum, 4);
  }

  void gemv(const uint8_t *packed, const int8_t *x, int, int k, int rowBegin, int rowEnd,
            bool prepare, uint8_t *scratch, int32_t *y) const override {
    if (prepare)
      prepareOnly(x, k, scratch);
    int32_t sumX;
    std::memcpy(&sumX, scratch, 4);
    const size_t bytesPerRow = rowBytes(k);
    const int blocks = int(bytesPerRow / 64);
    const __m512i one = _mm512_set1_epi8(1);
    const __m512i low = _mm512_set1_epi8(85), high = _mm512_set1_epi8(char(170));
    for (int r = rowBegin; r < rowEnd; r += 4) {
      const uint8_t *tile = packed + size_t(r) * bytesPerRow;
      // Per row: p = sum t_j x_j (or sum c_j x_j for b3-cmp), q = sum t_j+1 x_j.
      __m512i p0 = _mm512_setzero_si512(), p1 = p0, p2 = p0, p3 = p0;
      __m512i q0 = p0, q1 = p0, q2 = p0, q3 = p0;
      for (int b = 0; b < blocks; ++b) {
        const char *pf =
            reinterpret_cast<const char *>(tile) + b * 256 + 3 * bytesPerRow + prefetch;
        for (int line = 0; line < 4; ++line)
          _mm_prefetch(pf + 64 * line, _MM_HINT_T0);
        __m512i x0 = _mm512_loadu_si512(x + b * 320);
        __m512i x1 = _mm512_loadu_si512(x + b * 320 + 64);
        __m512i x2 = _mm512_loadu_si512(x + b * 320 + 128);
        __m512i x3 = _mm512_loadu_si512(x + b * 320 + 192);
        __m512i x4 = _mm512_loadu_si512(x + b * 320 + 256);
        asm("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(x4));
        auto row = [&](int i, __m512i &p, __m512i &q) {
          __m512i t = _mm512_loadu_si512(tile + i * bytesPerRow + b * 64);
          const __m512i *xs[5] = {&x0, &x1, &x2, &x3, &x4};
          for (int j = 0; j < 5; ++j) {
            const __m512i next = _mm512_add_epi8(t, _mm512_add_epi8(t, t)); // 3 t mod 256
            if (Multiply) {
              p = _mm512_dpbusd_epi32(p, t, *xs[j]);
              q = _mm512_dpbusd_epi32(q, next, *xs[j]);
            } else {
              const __mmask64 aboveLow = _mm512_cmpgt_epu8_mask(t, low);
              const __mmask64 aboveHigh = _mm512_cmpgt_epu8_mask(t, high);
              __m512i digit = _mm512_maskz_mov_epi8(aboveLow, one);
              digit = _mm512_mask_add_epi8(digit, aboveHigh, digit, one);
              p = _mm512_dpbusd_epi32(p, digit, *xs[j]);
            }
            t = next;
          }
        };
        row(0, p0, q0);
        row(1, p1, q1);
        row(2, p2, q2);
        row(3, p3, q3);
      }
      auto finish = [&](__m512i p, __m512i q) {
        // 3p - q is a multiple of 256 only in total, not per lane: reduce first. |3p| <
        // 3 * 255 * 127 * k fits int32 for k < 22000.
        const int32_t dot =
            Multiply ? (3 * _mm512_reduce_add_epi32(p) - _mm512_reduce_add_epi32(q)) / 256
                     : _mm512_reduce_add_epi32(p);
        return dot - sumX;
      };
      y[r + 0] = finish(p0, q0);
      y[r + 1] = finish(p1, q1);
      y[r + 2] = finish(p2, q2);
      y[r + 3] = finish(p3, q3);
    }
  }

private:
  size_t prefetch;
};

// ---------------------------------------------------------------------------------------------
// Threads: a spinning pool (thread 0 is the caller) and a spinning barrier, so that a 100 us
// GEMV call is not dominated by thread wake-ups. Both yield after a while: the host is shared.

void spinWait(const std::function<bool()> &done) {
  for (unsigned spins = 0; !done(); ++spins) {
    if (spins < 4096)
      _mm_pause();
    else
      std::this_thread::yield();
  }
}

class SpinBarrier {
public:
  explicit SpinBarrier(unsigned count) : count(count) {}
  void wait() {
    const unsigned gen = generation.load(std::memory_order_acquire);
    if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == count) {
      arrived.store(0, std::memory_order_relaxed);
      generation.fetch_add(1, std::memory_order_release);
      return;
    }
    spinWait([&] { return generation.load(std::memory_order_acquire) != gen; });
  }

private:
  unsigned count;
  std::atomic<unsigned> arrived{0};
  std::atomic<unsigned> generation{0};
};

class ThreadPool {
public:
  explicit ThreadPool(unsigned threads) : threads(threads) {
    for (unsigned t = 1; t < threads; ++t)
      workers.emplace_back([this, t] { loop(t); });
  }
  ~ThreadPool() {
    stop.store(true);
    generation.fetch_add(1, std::memory_order_release);
    for (auto &w : workers)
      w.join();
  }
  unsigned size() const { return threads; }
  // Runs job(t) on threads 0..size-1 and returns when all are done.
  void run(const std::function<void(unsigned)> &fn) {
    job = &fn;
    finished.store(0, std::memory_order_relaxed);
    generation.fetch_add(1, std::memory_order_release);
    fn(0);
    spinWait([&] { return finished.load(std::memory_order_acquire) == threads - 1; });
  }

private:
  void loop(unsigned t) {
    unsigned seen = 0;
    for (;;) {
      spinWait([&] { return generation.load(std::memory_order_acquire) != seen; });
      seen = generation.load(std::memory_order_acquire);
      if (stop.load())
        return;
      (*job)(t);
      finished.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  unsigned threads;
  std::vector<std::thread> workers;
  const std::function<void(unsigned)> *job = nullptr;
  std::atomic<unsigned> generation{0};
  std::atomic<unsigned> finished{0};
  std::atomic<bool> stop{false};
};

// Rows [begin, end) of thread t: whole 64-row tiles.
int splitRows(int n, unsigned t, unsigned threads) {
  return int(size_t(n / 64) * t / threads) * 64;
}

// ---------------------------------------------------------------------------------------------
// Benchmark driver

struct Shape {
  const char *name;
  int k, n;
};
constexpr Shape kShapes[] = {
    {"qkv", 2560, 3840}, {"o", 2560, 2560}, {"gate_up", 2560, 13824}, {"down", 6912, 2560}};
constexpr int kLayers = 30; // bitnet-b1.58-2B-4T

struct Options {
  unsigned rounds = 7;
  unsigned maxThreads = 2;
  size_t streamBytes = size_t(192) << 20; // of the i2 copies; > 4x the 32 MiB L3
  size_t prefetch = 0;                    // bytes; 0: each kernel's tuned distance
  int cacheRows = 256;                    // per thread
  bool verifyOnly = false;
  std::vector<std::string> shapes, kernels;
};

std::vector<std::string> splitList(const std::string &text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty())
      out.push_back(item);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return out;
}

void printUsage(FILE *out) {
  std::fprintf(
      out,
      "usage: tern-lut-gemv [--rounds R] [--threads T] [--stream-mb MB] [--prefetch BYTES]\n"
      "                     [--shapes qkv,o,gate_up,down] [--kernels i2,tl2,tl2-i8,b3,b3-cmp]\n"
      "                     [--verify-only]\n"
      "Checks each ternary GEMV kernel against a scalar reference, then times it from cache and\n"
      "streaming from DRAM at 1..T threads (default 2), best of R interleaved rounds (default "
      "7).\n");
}

bool parseOptions(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      printUsage(stdout);
      std::exit(0);
    }
    if (arg == "--verify-only") {
      o.verifyOnly = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "tern-lut-gemv: '%s' needs a value (or is unknown)\n", arg.c_str());
      return false;
    }
    const std::string value = argv[++i];
    const long number = std::strtol(value.c_str(), nullptr, 10);
    if (arg == "--rounds" && number > 0)
      o.rounds = unsigned(number);
    else if (arg == "--threads" && number > 0)
      o.maxThreads = unsigned(number);
    else if (arg == "--stream-mb" && number > 0)
      o.streamBytes = size_t(number) << 20;
    else if (arg == "--prefetch" && number >= 0)
      o.prefetch = size_t(number);
    else if (arg == "--shapes")
      o.shapes = splitList(value);
    else if (arg == "--kernels")
      o.kernels = splitList(value);
    else {
      std::fprintf(stderr, "tern-lut-gemv: bad option '%s %s'\n", arg.c_str(), value.c_str());
      return false;
    }
  }
  return true;
}

bool selected(const std::vector<std::string> &list, const char *name) {
  return list.empty() || std::find(list.begin(), list.end(), name) != list.end();
}

// Activations padded with zeros as GemvKernel::gemv requires.
Bytes makeActivations(int k, Rng &rng, int limit, int pattern) {
  Bytes x = allocateBytes(roundUp(k, 320) + 64);
  auto *xs = reinterpret_cast<int8_t *>(x.get());
  for (int j = 0; j < k; ++j)
    xs[j] = int8_t(pattern == 0   ? rng.uniform(-limit, limit)
                   : pattern == 1 ? limit
                   : pattern == 2 ? -limit
                                  : (j % 2 ? limit : -limit));
  return x;
}

std::vector<int8_t> makeWeights(int n, int k, Rng &rng, int pattern) {
  std::vector<int8_t> w(size_t(n) * k);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = int8_t(pattern == 0 ? rng.uniform(-1, 1) : pattern == 1 ? 1 : pattern == 2 ? -1 : 0);
  return w;
}

// Runs |kernel| on the whole matrix with |threads| threads and compares with the reference.
bool verify(const GemvKernel &kernel, ThreadPool &pool, const std::vector<int8_t> &w, int n, int k,
            const int8_t *x, const char *what) {
  Bytes packed = allocateBytes(kernel.packedBytes(n, k));
  kernel.pack(w.data(), n, k, packed.get());
  std::vector<int32_t> expected(n), actual(n, 0x7FFFFFFF);
  referenceGemv(w.data(), x, n, k, expected.data());
  std::vector<Bytes> scratch;
  for (unsigned t = 0; t < pool.size(); ++t)
    scratch.push_back(allocateBytes(kernel.scratchBytes(k)));
  pool.run([&](unsigned t) {
    kernel.gemv(packed.get(), x, n, k, splitRows(n, t, pool.size()),
                splitRows(n, t + 1, pool.size()), true, scratch[t].get(), actual.data());
  });
  for (int r = 0; r < n; ++r)
    if (actual[r] != expected[r]) {
      std::printf("MISMATCH %s %s k=%d n=%d threads=%u row %d: got %d, expected %d\n",
                  kernel.name(), what, k, n, pool.size(), r, actual[r], expected[r]);
      return false;
    }
  return true;
}

uint64_t sumWords(const uint64_t *words, size_t count) {
  uint64_t acc[8] = {};
  size_t i = 0;
  for (; i + 8 <= count; i += 8)
    for (int lane = 0; lane < 8; ++lane)
      acc[lane] += words[i + lane];
  uint64_t total = 0;
  for (uint64_t a : acc)
    total += a;
  return total;
}

struct Result {
  std::string kernel, shape, mode;
  int k = 0, n = 0;
  unsigned threads = 0;
  size_t bytes = 0;   // per pass
  double weights = 0; // per pass
  double best = 1e30; // seconds
  double worst = 0;
  // The slowest thread's CPU time of the best such pass: a descheduled thread stretches the
  // wall time but not this, so on a busy host it estimates what an uncontended pass would do.
  double bestCPU = 1e30;
  double gbPerS() const { return bytes / best / 1e9; }
  double gbPerSCPU() const { return bytes / bestCPU / 1e9; }
  double gwPerSCPU() const { return weights / bestCPU / 1e9; }
  double gwPerS() const { return weights / best / 1e9; }
};

} // namespace

int main(int argc, char **argv) {
  Options options;
  if (!parseOptions(argc, argv, options)) {
    printUsage(stderr);
    return 2;
  }

  std::vector<std::unique_ptr<GemvKernel>> all;
  // Prefetch distances: ternc's 4 KiB for the row-major kernels (i2 measured the same within
  // noise at 8-16 KiB and with prefetcht1/t2); 12 KiB for the tile-interleaved TL2 stream
  // (prefetcht1; 4 KiB with prefetcht0 streamed 25-35% slower, docs/perf/lut.md).
  auto distance = [&](size_t tuned) { return options.prefetch ? options.prefetch : tuned; };
  all.push_back(std::make_unique<I2Kernel>(distance(4096)));
  all.push_back(std::make_unique<Tl2Kernel<true>>(distance(12288)));
  all.push_back(std::make_unique<Tl2Kernel<false>>(distance(12288)));
  all.push_back(std::make_unique<Base3Kernel<true>>(distance(4096)));
  all.push_back(std::make_unique<Base3Kernel<false>>(distance(4096)));
  std::vector<const GemvKernel *> kernels;
  for (auto &kernel : all)
    if (selected(options.kernels, kernel->name()))
      kernels.push_back(kernel.get());
  std::vector<Shape> shapes;
  for (const Shape &shape : kShapes)
    if (selected(options.shapes, shape.name))
      shapes.push_back(shape);

  std::vector<std::unique_ptr<ThreadPool>> pools;
  for (unsigned t = 1; t <= options.maxThreads; ++t)
    pools.push_back(std::make_unique<ThreadPool>(t));

  // 1. Exactness: the full shapes with random data, and 128-row slices with extreme data.
  Rng rng{12345};
  bool ok = true;
  for (const Shape &shape : shapes) {
    const auto w = makeWeights(shape.n, shape.k, rng, 0);
    for (const GemvKernel *kernel : kernels) {
      Bytes x = makeActivations(shape.k, rng, kernel->maxActivation(), 0);
      for (auto &pool : pools)
        ok &= verify(*kernel, *pool, w, shape.n, shape.k, reinterpret_cast<int8_t *>(x.get()),
                     "random");
    }
  }
  for (int k : {2560, 6912})
    for (int wp = 0; wp < 4; ++wp)
      for (int xp = 0; xp < 4; ++xp) {
        const auto w = makeWeights(128, k, rng, wp);
        for (const GemvKernel *kernel : kernels) {
          Bytes x = makeActivations(k, rng, kernel->maxActivation(), xp);
          ok &= verify(*kernel, *pools.back(), w, 128, k, reinterpret_cast<int8_t *>(x.get()),
                       "extreme");
        }
      }
  std::printf("verified: %s (%zu kernels x %zu shapes, 1..%u threads, random and extreme data)\n",
              ok ? "all results equal the scalar reference" : "MISMATCHES", kernels.size(),
              shapes.size(), options.maxThreads);
  if (!ok)
    return 1;
  if (options.verifyOnly)
    return 0;

  std::vector<Result> results;
  // Per-thread CPU seconds of the pass being timed.
  std::vector<double> cpuSeconds(options.maxThreads);
  auto record = [&](const Result &proto, double seconds, unsigned threads) {
    const double cpu = *std::max_element(cpuSeconds.begin(), cpuSeconds.begin() + threads);
    for (Result &r : results)
      if (r.kernel == proto.kernel && r.shape == proto.shape && r.mode == proto.mode &&
          r.threads == proto.threads) {
        r.best = std::min(r.best, seconds);
        r.worst = std::max(r.worst, seconds);
        r.bestCPU = std::min(r.bestCPU, cpu);
        return;
      }
    results.push_back(proto);
    results.back().best = results.back().worst = seconds;
    results.back().bestCPU = cpu;
  };
  // Runs fn(t) on |threads| threads, recording each thread's CPU time.
  auto timedRun = [&](ThreadPool &pool, const std::function<void(unsigned)> &fn) {
    const double start = now();
    pool.run([&](unsigned t) {
      const double cpuStart = threadCPUSeconds();
      fn(t);
      cpuSeconds[t] = threadCPUSeconds() - cpuStart;
    });
    return now() - start;
  };

  // The read-bandwidth probe (as benchmarks/bandwidth.cpp), 256 MiB, in the same rounds.
  const size_t probeBytes = size_t(256) << 20;
  Bytes probe = allocateBytes(probeBytes);
  for (size_t i = 0; i < probeBytes / 8; ++i)
    reinterpret_cast<uint64_t *>(probe.get())[i] = i * 0x9E3779B97F4A7C15ull;
  std::atomic<uint64_t> sink{0};
  auto runProbe = [&](unsigned threads) {
    ThreadPool &pool = *pools[threads - 1];
    const size_t words = probeBytes / 8;
    const double seconds = timedRun(pool, [&](unsigned t) {
      const size_t begin = words / 8 * t / threads * 8, end = words / 8 * (t + 1) / threads * 8;
      sink += sumWords(reinterpret_cast<const uint64_t *>(probe.get()) + begin, end - begin);
    });
    Result proto;
    proto.kernel = "probe", proto.shape = "-", proto.mode = "probe", proto.threads = threads;
    proto.bytes = probeBytes, proto.weights = 0;
    record(proto, seconds, threads);
  };

  // Per-call preparation cost (tables, sums), 1 thread, per k.
  for (int k : {2560, 6912}) {
    Bytes x = makeActivations(k, rng, 42, 0);
    for (const GemvKernel *kernel : kernels) {
      Bytes scratch = allocateBytes(kernel->scratchBytes(k));
      double best = 1e30;
      for (int rep = 0; rep < 2000; ++rep) {
        const double start = now();
        kernel->prepareOnly(reinterpret_cast<int8_t *>(x.get()), k, scratch.get());
        best = std::min(best, now() - start);
      }
      std::printf("{\"kernel\": \"%s\", \"mode\": \"prepare\", \"k\": %d, \"us_per_call\": %.3f}\n",
                  kernel->name(), k, best * 1e6);
    }
  }

  for (const Shape &shape : shapes) {
    const int k = shape.k, n = shape.n;
    const auto w = makeWeights(n, k, rng, 0);
    Bytes x = makeActivations(k, rng, 42, 0); // valid for every kernel
    const auto *xs = reinterpret_cast<const int8_t *>(x.get());
    const size_t copies = std::max<size_t>(2, options.streamBytes / all[0]->packedBytes(n, k) + 1);

    // Packed streaming copies and a cache-resident slice per kernel.
    struct Data {
      Bytes stream, cache;
      size_t bytes = 0, cacheBytes = 0;
      std::vector<Bytes> scratch;
    };
    std::vector<Data> data(kernels.size());
    const int cacheRows = options.cacheRows;
    std::vector<int32_t> y(std::max(n, cacheRows * int(options.maxThreads)));
    for (size_t i = 0; i < kernels.size(); ++i) {
      Data &d = data[i];
      d.bytes = kernels[i]->packedBytes(n, k);
      d.stream = allocateBytes(d.bytes * copies);
      kernels[i]->pack(w.data(), n, k, d.stream.get());
      for (size_t c = 1; c < copies; ++c)
        std::memcpy(d.stream.get() + c * d.bytes, d.stream.get(), d.bytes);
      const int cacheN = cacheRows * int(options.maxThreads);
      d.cacheBytes = kernels[i]->packedBytes(cacheN, k);
      d.cache = allocateBytes(d.cacheBytes);
      kernels[i]->pack(w.data(), cacheN, k, d.cache.get());
      for (unsigned t = 0; t < options.maxThreads; ++t)
        d.scratch.push_back(allocateBytes(kernels[i]->scratchBytes(k)));
    }

    // Calls per cache-resident run: about 2e8 weights per thread.
    const int cacheCalls = std::max(20, int(2e8 / (double(k) * cacheRows)));
    for (unsigned round = 0; round < options.rounds; ++round) {
      for (unsigned threads = 1; threads <= options.maxThreads; ++threads) {
        ThreadPool &pool = *pools[threads - 1];
        runProbe(threads);
        for (size_t o = 0; o < kernels.size(); ++o) {
          const size_t i = (o + round) % kernels.size(); // rotate the order every round
          const GemvKernel &kernel = *kernels[i];
          Data &d = data[i];
          // Streaming: every copy once, a barrier after each call (as decode does).
          SpinBarrier barrier(threads);
          double seconds = timedRun(pool, [&](unsigned t) {
            const int begin = splitRows(n, t, threads), end = splitRows(n, t + 1, threads);
            for (size_t c = 0; c < copies; ++c) {
              kernel.gemv(d.stream.get() + c * d.bytes, xs, n, k, begin, end, true,
                          d.scratch[t].get(), y.data());
              barrier.wait();
            }
          });
          Result proto;
          proto.kernel = kernel.name(), proto.shape = shape.name, proto.mode = "stream";
          proto.k = k, proto.n = n, proto.threads = threads;
          proto.bytes = d.bytes * copies, proto.weights = double(k) * n * copies;
          record(proto, seconds, threads);

          // Cache-resident: 256 rows per thread, the same slice again and again; tables built
          // once (their cost is reported separately above).
          const int cacheN = cacheRows * int(threads);
          seconds = timedRun(pool, [&](unsigned t) {
            for (int c = 0; c < cacheCalls; ++c)
              kernel.gemv(d.cache.get(), xs, cacheN, k, cacheRows * int(t), cacheRows * int(t + 1),
                          c == 0, d.scratch[t].get(), y.data());
          });
          proto.mode = "cache";
          proto.n = cacheN;
          proto.bytes = kernel.packedBytes(cacheN, k) * size_t(cacheCalls);
          proto.weights = double(k) * cacheN * cacheCalls;
          record(proto, seconds, threads);
        }
      }
    }
  }

  // Report.
  auto probeFor = [&](unsigned threads) {
    for (const Result &r : results)
      if (r.mode == "probe" && r.threads == threads)
        return r.gbPerS();
    return 0.0;
  };
  std::printf("\nBest of %u rounds; wall time (cpu: the threads' CPU time, less sensitive to "
              "descheduling). Gw/s = 1e9 weights/s.\n",
              options.rounds);
  std::printf("%-8s %-7s %3s %6s | %10s %7s | %9s %7s %7s | %9s %7s | %s\n", "shape", "kernel",
              "thr", "bits/w", "cache GB/s", "Gw/s", "strm GB/s", "Gw/s", "%probe", "cpu GB/s",
              "Gw/s", "stream Gw/s / i2 (wall, cpu)");
  for (const Result &r : results) {
    if (r.mode != "stream")
      continue;
    const Result *cache = nullptr, *base = nullptr;
    for (const Result &c : results) {
      if (c.mode == "cache" && c.kernel == r.kernel && c.shape == r.shape && c.threads == r.threads)
        cache = &c;
      if (c.mode == "stream" && c.kernel == "i2" && c.shape == r.shape && c.threads == r.threads)
        base = &c;
    }
    const double bits = 8.0 * r.bytes / r.weights;
    const double gwCPU = r.gbPerSCPU() * 8.0 / bits;
    std::printf(
        "%-8s %-7s %3u %6.3f | %10.1f %7.1f | %9.2f %7.1f %6.0f%% | %9.2f %7.1f | %.3f, %.3f\n",
        r.shape.c_str(), r.kernel.c_str(), r.threads, bits, cache ? cache->gbPerS() : 0.0,
        cache ? cache->gwPerS() : 0.0, r.gbPerS(), r.gwPerS(),
        100.0 * r.gbPerS() / probeFor(r.threads), r.gbPerSCPU(), gwCPU,
        base ? r.gwPerS() / base->gwPerS() : 0.0,
        base ? r.gbPerSCPU() / bits / (base->gbPerSCPU() / 2.0) : 0.0);
  }
  for (unsigned threads = 1; threads <= options.maxThreads; ++threads)
    for (const Result &r : results)
      if (r.mode == "probe" && r.threads == threads)
        std::printf("probe %u thread(s): %.2f GB/s (cpu %.2f)\n", threads, r.gbPerS(),
                    r.gbPerSCPU());

  // The ternary matmuls of one decoded token (30 layers x the four shapes) at the measured
  // streaming rates: what a decode step would spend in them.
  if (shapes.size() == std::size(kShapes))
    for (unsigned threads = 1; threads <= options.maxThreads; ++threads)
      for (const GemvKernel *kernel : kernels) {
        double seconds = 0, secondsCPU = 0, bytes = 0;
        for (const Result &r : results)
          if (r.mode == "stream" && r.kernel == kernel->name() && r.threads == threads) {
            const double weights = kLayers * double(r.k) * r.n;
            seconds += weights / (r.gwPerS() * 1e9);
            secondsCPU += weights / (r.gwPerSCPU() * 1e9);
            bytes += weights * r.bytes / r.weights;
          }
        std::printf(
            "{\"kernel\": \"%s\", \"mode\": \"token\", \"threads\": %u, \"ternary_mb_per_token\": "
            "%.1f, \"ternary_ms_per_token\": %.3f, \"ternary_ms_per_token_cpu_time\": %.3f}\n",
            kernel->name(), threads, bytes / 1e6, seconds * 1e3, secondsCPU * 1e3);
      }

  for (const Result &r : results)
    std::printf(
        "{\"kernel\": \"%s\", \"shape\": \"%s\", \"k\": %d, \"n\": %d, \"threads\": %u, \"mode\": "
        "\"%s\", \"bits_per_weight\": %.4f, \"bytes\": %zu, \"best_s\": %.6f, \"worst_s\": %.6f, "
        "\"gb_per_s\": %.2f, \"gweights_per_s\": %.2f, \"gb_per_s_cpu_time\": %.2f, \"rounds\": "
        "%u}\n",
        r.kernel.c_str(), r.shape.c_str(), r.k, r.n, r.threads, r.mode.c_str(),
        r.weights > 0 ? 8.0 * r.bytes / r.weights : 0.0, r.bytes, r.best, r.worst, r.gbPerS(),
        r.gwPerS(), r.gbPerSCPU(), options.rounds);
  std::printf("{\"checksum\": %llu}\n", static_cast<unsigned long long>(sink.load() & 0xFF));
  return 0;
}
