// Generated rope kernels (normal and neox pairs, strided rows) vs the reference twin.
#include "CodegenTestUtil.h"

#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tern::cpu::test {
namespace {

struct RopeCase {
  int64_t heads, headDim, stride;
};

const std::vector<RopeCase> kCases = {
    {4, 8, 32}, {6, 16, 100}, {5, 64, 320}, {20, 128, 2560 + 2 * 640}, {3, 6, 18}, {2, 36, 80},
};
constexpr int64_t kContext = 40;

std::string symbolOf(const RopeCase &c, bool neox) {
  return "rope_" + std::to_string(c.heads) + "_" + std::to_string(c.headDim) + "_" +
         std::to_string(c.stride) + (neox ? "_neox" : "_normal");
}

// A (context, head_dim / 2, 2) table of (cos, sin) of LLaMA-style angles.
std::vector<float> makeTable(int64_t headDim) {
  const int64_t half = headDim / 2;
  std::vector<float> table(kContext * half * 2);
  for (int64_t p = 0; p < kContext; ++p)
    for (int64_t i = 0; i < half; ++i) {
      double angle = double(p) * std::pow(10000.0, -2.0 * double(i) / double(headDim));
      table[(p * half + i) * 2] = float(std::cos(angle));
      table[(p * half + i) * 2 + 1] = float(std::sin(angle));
    }
  return table;
}

class RopeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RopeTest, MatchesReference) {
  std::vector<KernelSpec> specs;
  for (const RopeCase &c : kCases)
    for (bool neox : {false, true}) {
      KernelSpec spec;
      spec.symbol = symbolOf(c, neox);
      spec.family = "rope";
      spec.ints = {{"heads", c.heads}, {"head_dim", c.headDim}, {"stride", c.stride},
                   {"context", kContext}};
      spec.strings = {{"style", neox ? "neox" : "normal"}};
      specs.push_back(spec);
    }
  std::string error;
  auto library = buildAndLoad(specs, GetParam(), &error);
  ASSERT_TRUE(library) << error;

  std::mt19937 rng(5);
  for (const RopeCase &c : kCases) {
    std::vector<float> table = makeTable(c.headDim);
    for (bool neox : {false, true})
      for (int64_t rows : {1, 7})
        for (int64_t pos : {int64_t(0), int64_t(9), kContext - rows}) {
          SCOPED_TRACE(symbolOf(c, neox) + " rows " + std::to_string(rows) + " pos " +
                       std::to_string(pos));
          std::vector<float> x = randomFloats(rng, rows * c.stride, 3.0f);
          std::vector<float> want = x;
          ref::ropeFromTable(want.data(), rows, c.heads, c.headDim, c.stride, pos, table.data(),
                             neox);
          tern_cpu_kernel_fn fn = library->kernel(symbolOf(c, neox));
          ASSERT_TRUE(fn);
          fn(std::vector<void *>{x.data(), table.data()}.data(), rows, pos, 0, 1);
          for (int64_t i = 0; i < rows * c.stride; ++i) {
            const int64_t col = i % c.stride;
            if (col >= c.heads * c.headDim) {
              // Between rows' heads and the next row: other data, left alone.
              ASSERT_EQ(std::memcmp(&x[i], &want[i], 4), 0) << "padding at " << i;
              continue;
            }
            // Products are rounded before they are added, as in the reference.
            ASSERT_EQ(x[i], want[i]) << "at row " << i / c.stride << " column " << col;
          }
        }
  }
}

TEST(RopeCodegen, RejectsOddHeadDim) {
  KernelSpec spec;
  spec.symbol = "rope";
  spec.family = "rope";
  spec.ints = {{"heads", 2}, {"head_dim", 7}, {"stride", 14}, {"context", 8}};
  spec.strings = {{"style", "normal"}};
  std::string error;
  EXPECT_FALSE(buildAndLoad({spec}, "generic", &error));
  EXPECT_NE(error.find("head_dim"), std::string::npos) << error;
}

TEST(RopeCodegen, RejectsUnknownStyle) {
  KernelSpec spec;
  spec.symbol = "rope";
  spec.family = "rope";
  spec.ints = {{"heads", 2}, {"head_dim", 8}, {"stride", 16}, {"context", 8}};
  spec.strings = {{"style", "glm"}};
  std::string error;
  EXPECT_FALSE(buildAndLoad({spec}, "generic", &error));
  EXPECT_NE(error.find("glm"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Targets, RopeTest, ::testing::ValuesIn(runnableTargets()));

} // namespace
} // namespace tern::cpu::test
