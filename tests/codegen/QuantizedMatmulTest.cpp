// Generated quantized_matmul kernels (q8_b32, q6_b32, q4_b32 weights, int8 activations) vs the
// reference twin, on every runnable target.
#include "CodegenTestUtil.h"

#include "packing/QuantizedPacking.h"
#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tern::cpu::test {
namespace {

struct Case {
  int64_t n, k, nBlock;
};

// Weights quantized by the shared packer from random floats, some outliers and a zero block.
std::vector<uint8_t> makeWeights(packing::QuantFormat format, std::mt19937 &rng, int64_t n,
                                 int64_t k) {
  std::vector<float> raw = randomFloats(rng, n * k, 0.05f);
  for (int64_t i = 0; i < n * k; i += 61)
    raw[i] *= 30.0f;
  for (int64_t i = 0; i < std::min<int64_t>(k, 32); ++i)
    raw[i] = 0.0f; // row 0's first block: scale 0
  std::vector<uint8_t> bytes(packing::quantPackedBytes(format, n, k));
  EXPECT_TRUE(packing::quantizeMatrix(format, raw.data(), n, k, bytes.data()));
  return bytes;
}

void checkQuantizedMatmul(const std::string &target, packing::QuantFormat format, const Case &c,
                          uint32_t seed) {
  const std::string name = packing::quantFormatName(format);
  SCOPED_TRACE("target " + target + " format " + name + " n=" + std::to_string(c.n) +
               " k=" + std::to_string(c.k) + " n_block=" + std::to_string(c.nBlock));
  KernelSpec spec;
  spec.symbol = "qmm";
  spec.family = "quantized_matmul";
  spec.ints = {{"n", c.n}, {"k", c.k}, {"n_block", c.nBlock}};
  spec.strings = {{"format", name}};
  std::string error;
  auto library = buildAndLoad({spec}, target, &error);
  ASSERT_TRUE(library) << error;
  tern_cpu_kernel_fn fn = library->kernel("qmm");
  ASSERT_TRUE(fn);

  std::mt19937 rng(seed);
  std::vector<uint8_t> w = makeWeights(format, rng, c.n, c.k);
  const int64_t blocks = c.k / packing::kQuantBlock;
  std::vector<int8_t> codes(c.n * c.k);
  std::vector<float> scales(c.n * blocks);
  packing::unpackQuantized(format, w.data(), c.n, c.k, 0, c.n, codes.data(), scales.data());

  // quantize_act's codes lie in [-127, 127]: the kernels may assume it (docs/kernels.md).
  std::uniform_int_distribution<int> act(-127, 127);
  std::uniform_real_distribution<float> scale(0.5f, 200.0f);
  for (int64_t rows : {1, 2, 5, 9}) {
    std::vector<int8_t> q(rows * c.k);
    for (int8_t &v : q)
      v = int8_t(act(rng));
    for (int64_t i = 0; i < std::min<int64_t>(c.k, 32); ++i)
      q[i] = int8_t(i % 2 ? 127 : -127); // extremes of the range
    std::vector<float> qscale(rows);
    for (float &s : qscale)
      s = scale(rng);
    std::vector<float> want(rows * c.n), got(rows * c.n);
    ref::quantizedMatmul(q.data(), qscale.data(), codes.data(), scales.data(),
                         packing::kQuantBlock, rows, c.n, c.k, want.data());
    for (int64_t slices : {1, 3}) {
      poison(got);
      runSliced(fn, {q.data(), qscale.data(), w.data(), got.data()}, rows, 0, c.n / c.nBlock,
                slices);
      for (int64_t t = 0; t < rows; ++t)
        for (int64_t o = 0; o < c.n; ++o) {
          // Relative to the sum of |scaled products|, so summation order does not count.
          double magnitude = 0;
          for (int64_t i = 0; i < c.k; ++i)
            magnitude += std::fabs(double(scales[o * blocks + i / packing::kQuantBlock]) *
                                   q[t * c.k + i] * codes[o * c.k + i]);
          magnitude /= qscale[t];
          ASSERT_TRUE(closeRelative(got[t * c.n + o], want[t * c.n + o], magnitude, 1e-5))
              << "rows=" << rows << " slices=" << slices << " at (" << t << ", " << o
              << "): " << got[t * c.n + o] << " vs " << want[t * c.n + o];
        }
    }
  }
}

// k: one block, block counts below, at and past the 8-block step (with tails of 1 to 7
// blocks, odd counts leaving a q4 or q6 half group), the 2B-4T widths. n_block: every column tile width (4, 2, 1) and uneven work items.
const std::vector<Case> kCases = {
    {16, 32, 4},    {12, 64, 4},    {10, 96, 2},   {24, 256, 8},  {9, 288, 3},
    {32, 480, 16},  {40, 2560, 8},  {6, 6912, 2},  {7, 160, 7},   {64, 544, 16},
};

class QuantizedMatmulTest : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantizedMatmulTest, Q8B32MatchesReference) {
  uint32_t seed = 1;
  for (const Case &c : kCases)
    checkQuantizedMatmul(GetParam(), packing::QuantFormat::Q8B32, c, seed++);
}

TEST_P(QuantizedMatmulTest, Q6B32MatchesReference) {
  uint32_t seed = 201;
  for (const Case &c : kCases)
    checkQuantizedMatmul(GetParam(), packing::QuantFormat::Q6B32, c, seed++);
}

TEST_P(QuantizedMatmulTest, Q4B32MatchesReference) {
  uint32_t seed = 101;
  for (const Case &c : kCases)
    checkQuantizedMatmul(GetParam(), packing::QuantFormat::Q4B32, c, seed++);
}

// Small activations and power-of-two scales make every product and sum exact in f32 and double:
// then the kernel must agree with the reference bit for bit, whatever the summation order.
TEST_P(QuantizedMatmulTest, ExactWhenEveryStepIsExact) {
  for (packing::QuantFormat format :
       {packing::QuantFormat::Q8B32, packing::QuantFormat::Q6B32, packing::QuantFormat::Q4B32}) {
    const int64_t n = 8, k = 320, blocks = k / packing::kQuantBlock;
    std::mt19937 rng(7);
    // The code range; q4 and q6 give a block's extreme the most negative code.
    const int lowest = format == packing::QuantFormat::Q8B32   ? -127
                       : format == packing::QuantFormat::Q6B32 ? -32
                                                               : -8;
    const int highest = format == packing::QuantFormat::Q8B32 ? 127 : -lowest - 1;
    std::uniform_int_distribution<int> code(lowest, highest);
    std::vector<float> raw(n * k);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t b = 0; b < blocks; ++b) {
        const float d = std::ldexp(1.0f, int(b % 5) - 3);
        for (int64_t i = 0; i < packing::kQuantBlock; ++i)
          raw[r * k + b * 32 + i] = d * float(code(rng));
        // Pin the block's extreme so the packer picks exactly d (q8: 127 d; q4: -8 d; q6: -32 d).
        raw[r * k + b * 32] = format == packing::QuantFormat::Q8B32 ? 127 * d : float(lowest) * d;
      }
    std::vector<uint8_t> w(packing::quantPackedBytes(format, n, k));
    ASSERT_TRUE(packing::quantizeMatrix(format, raw.data(), n, k, w.data()));
    std::vector<float> back(n * k);
    packing::dequantizeRows(format, w.data(), n, k, 0, n, back.data());
    ASSERT_EQ(back, raw) << "the packer did not reproduce exactly representable weights";
    std::vector<int8_t> codes(n * k);
    std::vector<float> scales(n * blocks);
    packing::unpackQuantized(format, w.data(), n, k, 0, n, codes.data(), scales.data());

    KernelSpec spec;
    spec.symbol = "qmm";
    spec.family = "quantized_matmul";
    spec.ints = {{"n", n}, {"k", k}, {"n_block", 4}};
    spec.strings = {{"format", packing::quantFormatName(format)}};
    std::string error;
    auto library = buildAndLoad({spec}, GetParam(), &error);
    ASSERT_TRUE(library) << error;
    const int64_t rows = 3;
    std::vector<int8_t> q(rows * k);
    // Sums stay below 2^21 with a resolution of 2^-3: within f32's 24 bits.
    std::uniform_int_distribution<int> act(-15, 15);
    for (int8_t &v : q)
      v = int8_t(act(rng));
    std::vector<float> qscale = {1.0f, 0.5f, 4.0f};
    std::vector<float> want(rows * n), got(rows * n);
    ref::quantizedMatmul(q.data(), qscale.data(), codes.data(), scales.data(),
                         packing::kQuantBlock, rows, n, k, want.data());
    runSliced(library->kernel("qmm"), {q.data(), qscale.data(), w.data(), got.data()}, rows, 0,
              n / 4, 1);
    EXPECT_EQ(got, want) << packing::quantFormatName(format);
  }
}

TEST(QuantizedMatmulCodegen, RejectsBadParameters) {
  auto errorOf = [](KernelSpec spec) {
    spec.symbol = "qmm";
    spec.family = "quantized_matmul";
    std::string error;
    EXPECT_FALSE(buildAndLoad({spec}, "generic", &error));
    return error;
  };
  KernelSpec spec;
  spec.ints = {{"n", 8}, {"k", 48}, {"n_block", 4}};
  spec.strings = {{"format", "q8_b32"}};
  EXPECT_NE(errorOf(spec).find("multiple of 32"), std::string::npos);
  spec.ints["k"] = 64;
  spec.strings["format"] = "q5_b32";
  EXPECT_NE(errorOf(spec).find("q5_b32"), std::string::npos);
  spec.strings["format"] = "q4_b32";
  spec.ints["n_block"] = 3;
  EXPECT_NE(errorOf(spec).find("n_block"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Targets, QuantizedMatmulTest, ::testing::ValuesIn(runnableTargets()));

} // namespace
} // namespace tern::cpu::test
