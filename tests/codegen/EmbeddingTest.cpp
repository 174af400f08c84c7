// Generated embedding kernels (f32, f16, bf16, q8_0, q8_b32, q6_b32, q4_b32 tables) and
// position_embedding kernels (f32, f16, bf16, q8_0) vs the reference twins.
#include "CodegenTestUtil.h"

#include "packing/QuantizedPacking.h"
#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tern::cpu::test {
namespace {

uint16_t halfBits(float v) {
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

// A table in |dtype|'s bytes and the f32 values it decodes to.
struct Table {
  std::vector<uint8_t> bytes;
  std::vector<float> values; // (vocab, width)
};

Table makeTable(const std::string &dtype, std::mt19937 &rng, int64_t vocab, int64_t width) {
  Table table;
  const int64_t n = vocab * width;
  std::vector<float> raw = randomFloats(rng, n, 2.0f);
  table.values.resize(n);
  if (dtype == "f32") {
    table.bytes.resize(n * 4);
    std::memcpy(table.bytes.data(), raw.data(), n * 4);
    table.values = raw;
  } else if (dtype == "f16" || dtype == "bf16") {
    table.bytes.resize(n * 2);
    for (int64_t i = 0; i < n; ++i) {
      uint16_t bits;
      if (dtype == "f16") {
        // Some subnormals and infinities, which the baseline decodes with integer operations.
        bits = i % 89 == 3   ? uint16_t(0x0201 | (i & 1 ? 0x8000 : 0))
               : i % 97 == 5 ? uint16_t(i & 1 ? 0xfc00 : 0x7c00)
                             : halfBits(raw[i]);
        table.values[i] = fromHalfBits(bits);
      } else {
        uint32_t f;
        std::memcpy(&f, &raw[i], 4);
        bits = uint16_t(f >> 16);
        uint32_t back = uint32_t(bits) << 16;
        std::memcpy(&table.values[i], &back, 4);
      }
      std::memcpy(table.bytes.data() + 2 * i, &bits, 2);
    }
  } else if (packing::QuantFormat format; packing::quantFormatFromName(dtype.c_str(), &format)) {
    // The tied lm_head's layouts: quantized by the shared packer, decoded by its unpacker.
    for (int64_t i = 0; i < n; i += 97)
      raw[i] *= 40.0f; // outliers: blocks with a wide range
    for (int64_t i = 0; i < std::min<int64_t>(n, 32); ++i)
      raw[i] = 0.0f; // one all-zero block (scale 0)
    table.bytes.resize(packing::quantPackedBytes(format, vocab, width));
    EXPECT_TRUE(packing::quantizeMatrix(format, raw.data(), vocab, width, table.bytes.data()));
    packing::dequantizeRows(format, table.bytes.data(), vocab, width, 0, vocab,
                            table.values.data());
  } else { // q8_0: per 32 values an f16 scale and 32 int8 codes
    const int64_t blocks = n / 32;
    table.bytes.resize(blocks * 34);
    std::uniform_int_distribution<int> code(-128, 127);
    for (int64_t blk = 0; blk < blocks; ++blk) {
      uint8_t *block = table.bytes.data() + blk * 34;
      uint16_t d = halfBits(0.0005f + std::fabs(raw[blk * 32]) * 0.01f);
      std::memcpy(block, &d, 2);
      for (int64_t i = 0; i < 32; ++i) {
        int8_t c = int8_t(code(rng));
        block[2 + i] = uint8_t(c);
        table.values[blk * 32 + i] = fromHalfBits(d) * float(c);
      }
    }
  }
  return table;
}

class EmbeddingTest : public ::testing::TestWithParam<std::string> {};

void checkEmbedding(const std::string &target, const std::string &dtype, int64_t width,
                    uint32_t seed) {
  SCOPED_TRACE("target " + target + " dtype " + dtype + " width " + std::to_string(width));
  const int64_t vocab = 37;
  KernelSpec spec;
  spec.symbol = "embed";
  spec.family = "embedding";
  spec.ints = {{"vocab", vocab}, {"width", width}};
  spec.strings = {{"dtype", dtype}};
  std::string error;
  auto library = buildAndLoad({spec}, target, &error);
  ASSERT_TRUE(library) << error;
  tern_cpu_kernel_fn fn = library->kernel("embed");
  ASSERT_TRUE(fn);

  std::mt19937 rng(seed);
  Table table = makeTable(dtype, rng, vocab, width);
  std::uniform_int_distribution<int32_t> token(0, vocab - 1);
  for (int64_t rows : {1, 7}) {
    std::vector<int32_t> tokens(rows);
    for (int32_t &id : tokens)
      id = token(rng);
    tokens[0] = int32_t(vocab - 1); // the last row of the table
    if (rows > 1)
      tokens[1] = 0;
    std::vector<float> want(rows * width), got(rows * width);
    ref::embedding(table.values.data(), tokens.data(), rows, width, want.data());
    poison(got);
    fn(std::vector<void *>{table.bytes.data(), tokens.data(), got.data()}.data(), rows, 0, 0, 1);
    for (int64_t i = 0; i < rows * width; ++i)
      ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0)
          << "rows " << rows << " at (" << i / width << ", " << i % width << "): " << got[i]
          << " vs " << want[i];
  }
}

TEST_P(EmbeddingTest, F32RowsAreCopiedExactly) {
  uint32_t seed = 1;
  for (int64_t width : {3, 64, 172, 2560})
    checkEmbedding(GetParam(), "f32", width, seed++);
}

TEST_P(EmbeddingTest, F16RowsDecodeExactly) {
  uint32_t seed = 11;
  for (int64_t width : {5, 64, 172, 2560})
    checkEmbedding(GetParam(), "f16", width, seed++);
}

TEST_P(EmbeddingTest, BF16RowsDecodeExactly) {
  uint32_t seed = 21;
  for (int64_t width : {5, 64, 172, 2560})
    checkEmbedding(GetParam(), "bf16", width, seed++);
}

TEST_P(EmbeddingTest, Q8_0RowsDecodeExactly) {
  uint32_t seed = 31;
  for (int64_t width : {32, 64, 2560})
    checkEmbedding(GetParam(), "q8_0", width, seed++);
}

TEST_P(EmbeddingTest, Q8B32RowsDecodeExactly) {
  uint32_t seed = 41;
  for (int64_t width : {32, 64, 96, 2560})
    checkEmbedding(GetParam(), "q8_b32", width, seed++);
}

TEST_P(EmbeddingTest, Q4B32RowsDecodeExactly) {
  uint32_t seed = 51;
  for (int64_t width : {32, 64, 96, 160, 2560}) // 32, 96, 160: a final half nibble group
    checkEmbedding(GetParam(), "q4_b32", width, seed++);
}

TEST_P(EmbeddingTest, Q6B32RowsDecodeExactly) {
  uint32_t seed = 71;
  for (int64_t width : {32, 64, 96, 160, 288, 2560}) // 32, 96, 160, 288: a final half group
    checkEmbedding(GetParam(), "q6_b32", width, seed++);
}

// position_embedding: rows pos .. pos + rows - 1 of the table, for positions at the start, in
// the middle and at the end of the table.
void checkPositionEmbedding(const std::string &target, const std::string &dtype, int64_t width,
                            uint32_t seed) {
  SCOPED_TRACE("target " + target + " dtype " + dtype + " width " + std::to_string(width));
  const int64_t positions = 40;
  KernelSpec spec;
  spec.symbol = "positions";
  spec.family = "position_embedding";
  spec.ints = {{"positions", positions}, {"width", width}};
  spec.strings = {{"dtype", dtype}};
  std::string error;
  auto library = buildAndLoad({spec}, target, &error);
  ASSERT_TRUE(library) << error;
  tern_cpu_kernel_fn fn = library->kernel("positions");
  ASSERT_TRUE(fn);

  std::mt19937 rng(seed);
  Table table = makeTable(dtype, rng, positions, width);
  const std::pair<int64_t, int64_t> calls[] = {{0, 1}, {0, 7}, {13, 1}, {17, 9}, {33, 7}};
  for (auto [pos, rows] : calls) {
    std::vector<float> want(rows * width), got(rows * width);
    ref::positionEmbedding(table.values.data(), pos, rows, width, want.data());
    poison(got);
    fn(std::vector<void *>{table.bytes.data(), got.data()}.data(), rows, pos, 0, 1);
    for (int64_t i = 0; i < rows * width; ++i)
      ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0)
          << "pos " << pos << " rows " << rows << " at (" << i / width << ", " << i % width
          << "): " << got[i] << " vs " << want[i];
  }
}

TEST_P(EmbeddingTest, PositionRowsFollowThePosition) {
  uint32_t seed = 81;
  for (const char *dtype : {"f32", "f16", "bf16"})
    for (int64_t width : {5, 64, 768})
      checkPositionEmbedding(GetParam(), dtype, width, seed++);
  for (int64_t width : {32, 768})
    checkPositionEmbedding(GetParam(), "q8_0", width, seed++);
}

TEST(EmbeddingCodegen, RejectsQ8_0WidthNotMultipleOf32) {
  KernelSpec spec;
  spec.symbol = "embed";
  spec.family = "embedding";
  spec.ints = {{"vocab", 10}, {"width", 48}};
  spec.strings = {{"dtype", "q8_0"}};
  std::string error;
  EXPECT_FALSE(buildAndLoad({spec}, "generic", &error));
  EXPECT_NE(error.find("multiple of 32"), std::string::npos) << error;
}

TEST(EmbeddingCodegen, RejectsUnknownDtype) {
  KernelSpec spec;
  spec.symbol = "embed";
  spec.family = "embedding";
  spec.ints = {{"vocab", 10}, {"width", 64}};
  spec.strings = {{"dtype", "q4_k"}};
  std::string error;
  EXPECT_FALSE(buildAndLoad({spec}, "generic", &error));
  EXPECT_NE(error.find("q4_k"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Targets, EmbeddingTest, ::testing::ValuesIn(runnableTargets()));

} // namespace
} // namespace tern::cpu::test
