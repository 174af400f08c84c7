// The block-quantized layouts (q8_b32, q6_b32, q4_b32): f16 conversions, quantizer rounding and
// error bounds, byte layout, unpacker round trips, and the reference twins that read them.
#include "packing/QuantizedPacking.h"
#include "reference/ReferenceDispatch.h"
#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace tern::packing {
namespace {

std::vector<uint8_t> quantize(QuantFormat format, const std::vector<float> &x, int64_t n,
                              int64_t k) {
  std::vector<uint8_t> out(quantPackedBytes(format, n, k), 0xcd);
  EXPECT_TRUE(quantizeMatrix(format, x.data(), n, k, out.data()));
  return out;
}

TEST(QuantizedPacking, HalfConversionsRoundTripEveryHalf) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float f = halfBitsToFloat(uint16_t(bits));
    if (std::isnan(f))
      continue;
    EXPECT_EQ(floatToHalfBits(f), bits) << std::hex << bits;
  }
  EXPECT_EQ(halfBitsToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfBitsToFloat(0x0001), std::ldexp(1.0f, -24)); // smallest subnormal
  EXPECT_TRUE(std::isnan(halfBitsToFloat(floatToHalfBits(std::nanf("")))));
}

TEST(QuantizedPacking, FloatToHalfRoundsHalfToEven) {
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: even is 1. 1 + 3 * 2^-11: even is 1 + 2^-9.
  EXPECT_EQ(floatToHalfBits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(floatToHalfBits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(floatToHalfBits(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalfBits(65520.0f), 0x7c00); // rounds past the largest half
  EXPECT_EQ(floatToHalfBits(std::ldexp(1.0f, -25)), 0x0000); // halfway to 2^-24: even is 0
  EXPECT_EQ(floatToHalfBits(std::ldexp(3.0f, -25)), 0x0002);
}

TEST(QuantizedPacking, SizesAndPlanes) {
  EXPECT_EQ(quantRowCodeBytes(QuantFormat::Q8B32, 2560), 2560);
  EXPECT_EQ(quantRowCodeBytes(QuantFormat::Q4B32, 2560), 1280);
  EXPECT_EQ(quantRowCodeBytes(QuantFormat::Q4B32, 96), 64); // a final half group
  EXPECT_EQ(quantScaleOffset(QuantFormat::Q8B32, 3, 32), 128); // 96 code bytes, 64-aligned
  EXPECT_EQ(quantPackedBytes(QuantFormat::Q8B32, 128256, 2560), 128256LL * 2560 + 128256LL * 160);
  EXPECT_EQ(quantPackedBytes(QuantFormat::Q4B32, 128256, 2560), 128256LL * 1280 + 128256LL * 160);
  // q6: 48 bytes per 64 weights (6 bits each), a final half group stored whole.
  EXPECT_EQ(quantRowCodeBytes(QuantFormat::Q6B32, 2560), 1920);
  EXPECT_EQ(quantRowCodeBytes(QuantFormat::Q6B32, 64), 48);
  EXPECT_EQ(quantRowCodeBytes(QuantFormat::Q6B32, 160), 144);
  EXPECT_EQ(quantPackedBytes(QuantFormat::Q6B32, 128256, 2560), 128256LL * 1920 + 128256LL * 160);
  EXPECT_FALSE(quantSupportsWidth(48));
  EXPECT_TRUE(quantSupportsWidth(32));
  QuantFormat f;
  EXPECT_TRUE(quantFormatFromName("q4_b32", &f));
  EXPECT_EQ(f, QuantFormat::Q4B32);
  EXPECT_TRUE(quantFormatFromName("q6_b32", &f));
  EXPECT_EQ(f, QuantFormat::Q6B32);
  EXPECT_STREQ(quantFormatName(QuantFormat::Q6B32), "q6_b32");
  EXPECT_STREQ(quantFormatName(QuantFormat::Q8B32), "q8_b32");
  EXPECT_FALSE(quantFormatFromName("q4_0", &f));
}

TEST(QuantizedPacking, Q8RoundsHalfToEvenAgainstTheStoredScale) {
  // absmax 127: d = 1 exactly, so x / d is x and the codes show the rounding.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;   // -> 2
  x[2] = 3.5f;   // -> 4
  x[3] = -2.5f;  // -> -2
  x[4] = 0.49f;  // -> 0
  x[5] = -126.5f; // -> -126
  std::vector<uint8_t> packed = quantize(QuantFormat::Q8B32, x, 1, 32);
  const int8_t *codes = reinterpret_cast<const int8_t *>(packed.data());
  EXPECT_EQ(codes[0], 127);
  EXPECT_EQ(codes[1], 2);
  EXPECT_EQ(codes[2], 4);
  EXPECT_EQ(codes[3], -2);
  EXPECT_EQ(codes[4], 0);
  EXPECT_EQ(codes[5], -126);
  uint16_t scale;
  std::memcpy(&scale, packed.data() + quantScaleOffset(QuantFormat::Q8B32, 1, 32), 2);
  EXPECT_EQ(scale, 0x3c00); // 1.0
}

TEST(QuantizedPacking, Q4UsesTheSignedMaximumAndNibbleLayout) {
  // The value of largest magnitude (-16, the first of the ties with 16) gets code -8: d = 2.
  std::vector<float> x(64, 0.0f);
  x[0] = -16.0f;
  x[1] = 16.0f;  // 8 -> clamped to 7
  x[2] = 3.0f;   // 1.5 -> 2
  x[3] = 5.0f;   // 2.5 -> 2
  x[32] = -6.0f; // block 1 alone: absmax 6, d = 0.75, code -8
  x[33] = 1.5f;  // 2
  std::vector<uint8_t> packed = quantize(QuantFormat::Q4B32, x, 1, 64);
  // Byte j: weight j in the low nibble, weight 32 + j in the high nibble, each code + 8.
  EXPECT_EQ(packed[0], uint8_t((-8 + 8) | ((-8 + 8) << 4)));
  EXPECT_EQ(packed[1], uint8_t((7 + 8) | ((2 + 8) << 4)));
  EXPECT_EQ(packed[2], uint8_t((2 + 8) | (8 << 4)));
  EXPECT_EQ(packed[3], uint8_t((2 + 8) | (8 << 4)));
  const uint8_t *scales = packed.data() + quantScaleOffset(QuantFormat::Q4B32, 1, 64);
  uint16_t d0, d1;
  std::memcpy(&d0, scales, 2);
  std::memcpy(&d1, scales + 2, 2);
  EXPECT_EQ(halfBitsToFloat(d0), 2.0f);
  EXPECT_EQ(halfBitsToFloat(d1), 0.75f);
}

TEST(QuantizedPacking, Q6UsesTheSignedMaximumAndTwoParts) {
  // d = -(value of largest magnitude) / 32; u = c + 32 split into its low nibble (bytes 0-31,
  // q4's layout) and high 2 bits (byte 32 + j: weights j, 16 + j, 32 + j, 48 + j).
  std::vector<float> x(64, 0.0f);
  x[0] = 64.0f;   // block 0: d = -2, code -32 (u 0)
  x[1] = -64.0f;  // 32 -> clamped to 31 (u 63)
  x[2] = 3.0f;    // -1.5 -> -2 (u 30)
  x[3] = -5.0f;   // 2.5 -> 2 (u 34)
  x[17] = 3.0f;   // u 30
  x[32] = -8.0f;  // block 1: d = 0.25, code -32 (u 0)
  x[33] = 1.25f;  // 5 (u 37)
  x[49] = -1.25f; // -5 (u 27)
  std::vector<uint8_t> packed = quantize(QuantFormat::Q6B32, x, 1, 64);
  auto stored = [&](int64_t col) {
    const int low = (packed[col % 32] >> (col < 32 ? 0 : 4)) & 0xf;
    const int high = (packed[32 + col % 16] >> (2 * (col / 16))) & 3;
    return low | (high << 4);
  };
  EXPECT_EQ(stored(0), 0);
  EXPECT_EQ(stored(1), 63);
  EXPECT_EQ(stored(2), 30);
  EXPECT_EQ(stored(3), 34);
  EXPECT_EQ(stored(4), 32); // zero
  EXPECT_EQ(stored(17), 30);
  EXPECT_EQ(stored(32), 0);
  EXPECT_EQ(stored(33), 37);
  EXPECT_EQ(stored(49), 27);
  // The raw bytes: weights 1 (u 63) and 33 (u 37) share low byte 1, 17 (30) and 49 (27) byte
  // 17; byte 33 holds the high bits of weights 1, 17, 33, 49: 3, 1, 2, 1.
  EXPECT_EQ(packed[1], uint8_t(0xf | (0x5 << 4)));
  EXPECT_EQ(packed[17], uint8_t(0xe | (0xb << 4)));
  EXPECT_EQ(packed[33], uint8_t(3 | (1 << 2) | (2 << 4) | (1 << 6)));
  const uint8_t *scales = packed.data() + quantScaleOffset(QuantFormat::Q6B32, 1, 64);
  uint16_t d0, d1;
  std::memcpy(&d0, scales, 2);
  std::memcpy(&d1, scales + 2, 2);
  EXPECT_EQ(halfBitsToFloat(d0), -2.0f);
  EXPECT_EQ(halfBitsToFloat(d1), 0.25f);
}

TEST(QuantizedPacking, Q6HalfGroupPadsWithZeroWeights) {
  // k = 96: groups of 64 and 32 weights; the second group's missing block holds code 0 (u 32:
  // low nibble 0, high bits 2 in the pairs of weights 32 + j and 48 + j).
  std::vector<float> x(2 * 96, -1.0f);
  std::vector<uint8_t> packed = quantize(QuantFormat::Q6B32, x, 2, 96);
  for (int64_t row = 0; row < 2; ++row) {
    const uint8_t *group = packed.data() + row * 96 + 48;
    for (int64_t j = 0; j < 32; ++j)
      EXPECT_EQ(group[j] >> 4, 0);
    for (int64_t j = 0; j < 16; ++j)
      EXPECT_EQ(group[32 + j], 0xa0); // u 0 (bits 0-3), u 32 (bits 4-7)
  }
  std::vector<float> back(2 * 96);
  dequantizeRows(QuantFormat::Q6B32, packed.data(), 2, 96, 0, 2, back.data());
  EXPECT_EQ(back, x);
}

TEST(QuantizedPacking, Q4HalfGroupPadsWithZeroWeights) {
  // k = 96: groups of 64 and 32 weights; the second group's high nibbles are code 0 (8).
  std::vector<float> x(2 * 96, 1.0f);
  std::vector<uint8_t> packed = quantize(QuantFormat::Q4B32, x, 2, 96);
  for (int64_t row = 0; row < 2; ++row)
    for (int64_t j = 0; j < 32; ++j)
      EXPECT_EQ(packed[row * 64 + 32 + j] >> 4, 8);
  std::vector<float> back(2 * 96);
  dequantizeRows(QuantFormat::Q4B32, packed.data(), 2, 96, 0, 2, back.data());
  EXPECT_EQ(back, x);
}

TEST(QuantizedPacking, ZeroBlocksStoreZeroScaleAndCodes) {
  for (QuantFormat format : {QuantFormat::Q8B32, QuantFormat::Q6B32, QuantFormat::Q4B32}) {
    std::vector<float> x(64, 0.0f);
    x[40] = 1e-30f; // its scale underflows f16: the block stores zeros too
    std::vector<uint8_t> packed = quantize(format, x, 1, 64);
    std::vector<int8_t> codes(64);
    std::vector<float> scales(2);
    unpackQuantized(format, packed.data(), 1, 64, 0, 1, codes.data(), scales.data());
    EXPECT_EQ(scales, std::vector<float>(2, 0.0f));
    EXPECT_EQ(codes, std::vector<int8_t>(64, 0));
  }
}

TEST(QuantizedPacking, RejectsNonFiniteValuesAndBadWidths) {
  std::vector<float> x(32, 1.0f);
  std::vector<uint8_t> out(quantPackedBytes(QuantFormat::Q8B32, 1, 32));
  x[7] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(quantizeMatrix(QuantFormat::Q8B32, x.data(), 1, 32, out.data()));
  x[7] = std::nanf("");
  EXPECT_FALSE(quantizeMatrix(QuantFormat::Q4B32, x.data(), 1, 32, out.data()));
  x[7] = 1.0f;
  EXPECT_FALSE(quantizeMatrix(QuantFormat::Q8B32, x.data(), 2, 16, out.data()));
}

// Random rows (with outliers): codes in range, every weight within half a step of its value
// (a full step where q4/q6 clamp +8/+32 to 7/31), determinism, and unpack/dequantize agreeing.
TEST(QuantizedPacking, RoundTripErrorIsBoundedByHalfAStep) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (QuantFormat format : {QuantFormat::Q8B32, QuantFormat::Q6B32, QuantFormat::Q4B32})
    for (int64_t k : {32, 96, 160, 2560}) {
      SCOPED_TRACE(std::string(quantFormatName(format)) + " k=" + std::to_string(k));
      const int64_t n = 7;
      std::vector<float> x(n * k);
      for (float &v : x)
        v = normal(rng);
      for (size_t i = 0; i < x.size(); i += 53)
        x[i] *= 25.0f;
      std::vector<uint8_t> packed = quantize(format, x, n, k);
      EXPECT_EQ(quantize(format, x, n, k), packed);
      const int64_t blocks = k / kQuantBlock;
      std::vector<int8_t> codes(n * k);
      std::vector<float> scales(n * blocks), back(n * k);
      unpackQuantized(format, packed.data(), n, k, 0, n, codes.data(), scales.data());
      dequantizeRows(format, packed.data(), n, k, 0, n, back.data());
      const int lo = format == QuantFormat::Q8B32 ? -127 : format == QuantFormat::Q6B32 ? -32 : -8;
      const int hi = format == QuantFormat::Q8B32 ? 127 : format == QuantFormat::Q6B32 ? 31 : 7;
      for (int64_t i = 0; i < n * k; ++i) {
        const float d = scales[i / kQuantBlock];
        ASSERT_GE(codes[i], lo);
        ASSERT_LE(codes[i], hi);
        ASSERT_EQ(back[i], d * float(codes[i]));
        const float bound = (codes[i] == hi && format != QuantFormat::Q8B32 ? 1.0f : 0.5f) *
                                std::fabs(d) * (1 + 1e-6f);
        ASSERT_LE(std::fabs(back[i] - x[i]), bound) << "at " << i;
      }
      // A slice of rows unpacks like the same rows of the whole.
      std::vector<int8_t> slice(2 * k);
      std::vector<float> sliceScales(2 * blocks);
      unpackQuantized(format, packed.data(), n, k, 3, 5, slice.data(), sliceScales.data());
      EXPECT_TRUE(std::equal(slice.begin(), slice.end(), codes.begin() + 3 * k));
      EXPECT_TRUE(std::equal(sliceScales.begin(), sliceScales.end(), scales.begin() + 3 * blocks));
    }
}

// The reference dispatch (`--kernels=reference`) runs quantized_matmul and quantized embedding
// tables from the packed bytes, column slices included.
TEST(QuantizedPacking, ReferenceDispatchReadsThePackedLayouts) {
  const int64_t n = 12, k = 96, rows = 3, blocks = k / kQuantBlock;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(n * k);
  for (float &v : x)
    v = uniform(rng);
  for (QuantFormat format : {QuantFormat::Q8B32, QuantFormat::Q6B32, QuantFormat::Q4B32}) {
    SCOPED_TRACE(quantFormatName(format));
    std::vector<uint8_t> packed = quantize(format, x, n, k);
    std::vector<int8_t> codes(n * k), q(rows * k);
    std::vector<float> scales(n * blocks), qscale = {2.0f, 0.5f, 10.0f};
    unpackQuantized(format, packed.data(), n, k, 0, n, codes.data(), scales.data());
    for (int8_t &v : q)
      v = int8_t(int(uniform(rng) * 127));
    std::vector<float> want(rows * n), got(rows * n, -1.0f);
    ref::quantizedMatmul(q.data(), qscale.data(), codes.data(), scales.data(), kQuantBlock, rows,
                         n, k, want.data());
    KernelSpec spec{"qmm", "quantized_matmul", {{"n", n}, {"k", k}, {"n_block", 4}}, {},
                    {{"format", quantFormatName(format)}}};
    std::vector<void *> bindings = {q.data(), qscale.data(), packed.data(), got.data()};
    for (int64_t item = 0; item < n / 4; ++item) // one work item at a time
      ASSERT_EQ(runReferenceKernel(spec, bindings.data(), rows, 0, item, item + 1), nullptr);
    EXPECT_EQ(got, want);
    ReferenceKernelShape shape;
    ASSERT_EQ(describeReferenceKernel(spec, rows, &shape), nullptr);
    EXPECT_EQ(shape.gridItems, 3);
    EXPECT_EQ(shape.bindingBytes,
              (std::vector<uint64_t>{uint64_t(rows * k), uint64_t(rows * 4),
                                     uint64_t(packed.size()), uint64_t(rows * n * 4)}));

    // The same bytes as an embedding table: each row decodes to scale * code.
    KernelSpec table{"emb", "embedding", {{"vocab", n}, {"width", k}}, {},
                     {{"dtype", quantFormatName(format)}}};
    std::vector<int32_t> tokens = {11, 0, 5};
    std::vector<float> rowsOut(rows * k), expected(rows * k);
    for (int64_t t = 0; t < rows; ++t)
      dequantizeRows(format, packed.data(), n, k, tokens[t], tokens[t] + 1, &expected[t * k]);
    std::vector<void *> tableBindings = {packed.data(), tokens.data(), rowsOut.data()};
    ASSERT_EQ(runReferenceKernel(table, tableBindings.data(), rows, 0, 0, 1), nullptr);
    EXPECT_EQ(rowsOut, expected);
  }
  KernelSpec bad{"qmm", "quantized_matmul", {{"n", 4}, {"k", 48}, {"n_block", 4}}, {},
                 {{"format", "q8_b32"}}};
  ReferenceKernelShape shape;
  tern_status_t status = describeReferenceKernel(bad, 1, &shape);
  ASSERT_NE(status, nullptr);
  EXPECT_NE(std::string(tern_status_message(status)).find("multiple of 32"), std::string::npos);
  tern_status_free(status);
  bad.ints["k"] = 64;
  bad.strings["format"] = "q4_0";
  status = describeReferenceKernel(bad, 1, &shape);
  ASSERT_NE(status, nullptr);
  EXPECT_NE(std::string(tern_status_message(status)).find("q4_0"), std::string::npos);
  tern_status_free(status);
}

} // namespace
} // namespace tern::packing
