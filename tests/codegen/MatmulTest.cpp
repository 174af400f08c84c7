// Generated float matmul kernels (f32, f16, bf16, q8_0 weights) vs the reference twin.
#include "CodegenTestUtil.h"

#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tern::cpu::test {
namespace {

struct MatmulCase {
  int64_t n, k, nBlock, xStride;
};

uint16_t toHalfBits(float v) {
  _Float16 h = static_cast<_Float16>(v);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}
float fromHalfBits(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, 2);
  return static_cast<float>(h);
}

// The weights in |dtype|'s bytes and as the floats they stand for.
void makeWeights(const std::string &dtype, std::mt19937 &rng, int64_t n, int64_t k,
                 std::vector<uint8_t> *bytes, std::vector<float> *values) {
  std::vector<float> raw = randomFloats(rng, n * k, 1.0f);
  values->resize(n * k);
  if (dtype == "f32") {
    bytes->resize(n * k * 4);
    std::memcpy(bytes->data(), raw.data(), bytes->size());
    *values = raw;
  } else if (dtype == "f16" || dtype == "bf16") {
    bytes->resize(n * k * 2);
    for (int64_t i = 0; i < n * k; ++i) {
      uint16_t bits;
      if (dtype == "f16") {
        // Every 97th weight subnormal, to cover the exact bit conversion on the baseline.
        bits = i % 97 == 5 ? uint16_t(0x0003 | (i & 1 ? 0x8000 : 0)) : toHalfBits(raw[i]);
        (*values)[i] = fromHalfBits(bits);
      } else {
        uint32_t f;
        std::memcpy(&f, &raw[i], 4);
        bits = uint16_t(f >> 16);
        uint32_t back = uint32_t(bits) << 16;
        std::memcpy(&(*values)[i], &back, 4);
      }
      std::memcpy(bytes->data() + 2 * i, &bits, 2);
    }
  } else { // q8_0: per 32 weights an f16 scale and 32 int8
    const int64_t blocks = k / 32;
    bytes->resize(n * blocks * 34);
    std::uniform_int_distribution<int> code(-127, 127);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t blk = 0; blk < blocks; ++blk) {
        uint8_t *block = bytes->data() + (r * blocks + blk) * 34;
        uint16_t d = toHalfBits(0.001f + std::fabs(raw[r * k + blk * 32]) * 0.02f);
        std::memcpy(block, &d, 2);
        for (int64_t i = 0; i < 32; ++i) {
          int8_t c = int8_t(code(rng));
          block[2 + i] = uint8_t(c);
          (*values)[r * k + blk * 32 + i] = fromHalfBits(d) * float(c);
        }
      }
  }
}

class MatmulTest : public ::testing::TestWithParam<std::string> {};

void checkMatmul(const std::string &target, const std::string &dtype, const MatmulCase &c,
                 uint32_t seed) {
  SCOPED_TRACE("target " + target + " dtype " + dtype + " n=" + std::to_string(c.n) +
               " k=" + std::to_string(c.k) + " x_stride=" + std::to_string(c.xStride));
  KernelSpec spec;
  spec.symbol = "mm";
  spec.family = "matmul";
  spec.ints = {{"n", c.n}, {"k", c.k}, {"n_block", c.nBlock}, {"x_stride", c.xStride}};
  spec.strings = {{"dtype", dtype}};
  std::string error;
  auto library = buildAndLoad({spec}, target, &error);
  ASSERT_TRUE(library) << error;
  std::mt19937 rng(seed);
  std::vector<uint8_t> wBytes;
  std::vector<float> wValues;
  makeWeights(dtype, rng, c.n, c.k, &wBytes, &wValues);
  for (int64_t rows : {1, 3, 6}) {
    std::vector<float> x = randomFloats(rng, rows * c.xStride, 2.0f);
    std::vector<float> compact(rows * c.k);
    for (int64_t t = 0; t < rows; ++t)
      std::memcpy(&compact[t * c.k], &x[t * c.xStride], c.k * 4);
    std::vector<float> want(rows * c.n), got(rows * c.n);
    ref::matmul(compact.data(), wValues.data(), rows, c.n, c.k, want.data());
    for (int64_t slices : {1, 3}) {
      poison(got);
      runSliced(library->kernel("mm"), {x.data(), wBytes.data(), got.data()}, rows, 0,
                c.n / c.nBlock, slices);
      for (int64_t t = 0; t < rows; ++t)
        for (int64_t o = 0; o < c.n; ++o) {
          double magnitude = 0;
          for (int64_t i = 0; i < c.k; ++i)
            magnitude += std::fabs(double(compact[t * c.k + i]) * wValues[o * c.k + i]);
          ASSERT_TRUE(closeRelative(got[t * c.n + o], want[t * c.n + o], magnitude, 1e-5))
              << "rows=" << rows << " slices=" << slices << " at (" << t << ", " << o
              << "): " << got[t * c.n + o] << " vs " << want[t * c.n + o];
        }
    }
  }
}

const std::vector<MatmulCase> kCases = {
    {32, 64, 8, 64}, {172, 200, 43, 200}, {256, 2560, 32, 2600}, {12, 6912, 4, 6912},
    {10, 7, 5, 9},
};

TEST_P(MatmulTest, F32MatchesReference) {
  uint32_t seed = 1;
  for (const MatmulCase &c : kCases)
    checkMatmul(GetParam(), "f32", c, seed++);
}

TEST_P(MatmulTest, F16MatchesReference) {
  uint32_t seed = 11;
  for (const MatmulCase &c : kCases)
    checkMatmul(GetParam(), "f16", c, seed++);
}

TEST_P(MatmulTest, BF16MatchesReference) {
  uint32_t seed = 21;
  for (const MatmulCase &c : kCases)
    checkMatmul(GetParam(), "bf16", c, seed++);
}

TEST_P(MatmulTest, Q8_0MatchesReference) {
  uint32_t seed = 31;
  for (const MatmulCase &c : kCases)
    if (c.k % 32 == 0)
      checkMatmul(GetParam(), "q8_0", c, seed++);
}

INSTANTIATE_TEST_SUITE_P(Targets, MatmulTest, ::testing::ValuesIn(runnableTargets()));

} // namespace
} // namespace tern::cpu::test
