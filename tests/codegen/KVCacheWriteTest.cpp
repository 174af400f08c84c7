// Generated kv_cache_write kernels (strided k and v rows) vs the reference twin.
#include "CodegenTestUtil.h"

#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tern::cpu::test {
namespace {

struct CacheCase {
  int64_t kvHeads, headDim, kStride, vStride;
};

const std::vector<CacheCase> kCases = {
    {1, 8, 8, 8}, {2, 16, 96, 96}, {5, 128, 3840, 3840}, {4, 64, 300, 257}, {3, 6, 18, 20},
};
constexpr int64_t kContext = 24;

std::string symbolOf(const CacheCase &c) {
  return "kv_" + std::to_string(c.kvHeads) + "_" + std::to_string(c.headDim) + "_" +
         std::to_string(c.kStride) + "_" + std::to_string(c.vStride);
}

class KVCacheWriteTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KVCacheWriteTest, CopiesRowsToTheirPositions) {
  std::vector<KernelSpec> specs;
  for (const CacheCase &c : kCases) {
    KernelSpec spec;
    spec.symbol = symbolOf(c);
    spec.family = "kv_cache_write";
    spec.ints = {{"kv_heads", c.kvHeads}, {"head_dim", c.headDim}, {"k_stride", c.kStride},
                 {"v_stride", c.vStride}, {"context", kContext}};
    specs.push_back(spec);
  }
  std::string error;
  auto library = buildAndLoad(specs, GetParam(), &error);
  ASSERT_TRUE(library) << error;

  std::mt19937 rng(3);
  for (const CacheCase &c : kCases)
    for (int64_t rows : {1, 7})
      for (int64_t pos : {int64_t(0), int64_t(5), kContext - rows}) {
        SCOPED_TRACE(symbolOf(c) + " rows " + std::to_string(rows) + " pos " +
                     std::to_string(pos));
        const int64_t width = c.kvHeads * c.headDim;
        ref::KVCacheLayout layout{1, kContext, c.kvHeads, c.headDim};
        std::vector<float> k = randomFloats(rng, rows * c.kStride); // (rows, width), stride kStride
        std::vector<float> v = randomFloats(rng, rows * c.vStride); // (rows, width), stride vStride
        std::vector<float> kRows(rows * width), vRows(rows * width);
        for (int64_t t = 0; t < rows; ++t) {
          std::memcpy(&kRows[t * width], &k[t * c.kStride], width * 4);
          std::memcpy(&vRows[t * width], &v[t * c.vStride], width * 4);
        }
        // Earlier contents must survive outside the written rows.
        std::vector<float> kCache = randomFloats(rng, kContext * width);
        std::vector<float> vCache = randomFloats(rng, kContext * width);
        std::vector<float> kWant = kCache, vWant = vCache;
        ref::kvCacheWrite(layout, kWant.data(), vWant.data(), 0, pos, rows, kRows.data(),
                          vRows.data());
        tern_cpu_kernel_fn fn = library->kernel(symbolOf(c));
        ASSERT_TRUE(fn);
        fn(std::vector<void *>{k.data(), v.data(), kCache.data(), vCache.data()}.data(), rows,
           pos, 0, 1);
        ASSERT_EQ(std::memcmp(kCache.data(), kWant.data(), kCache.size() * 4), 0);
        ASSERT_EQ(std::memcmp(vCache.data(), vWant.data(), vCache.size() * 4), 0);
      }
}

TEST(KVCacheWriteCodegen, RejectsStrideBelowRowWidth) {
  KernelSpec spec;
  spec.symbol = "kv";
  spec.family = "kv_cache_write";
  spec.ints = {{"kv_heads", 2}, {"head_dim", 8}, {"k_stride", 15}, {"v_stride", 16},
               {"context", 4}};
  std::string error;
  EXPECT_FALSE(buildAndLoad({spec}, "generic", &error));
  EXPECT_NE(error.find("k_stride"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Targets, KVCacheWriteTest, ::testing::ValuesIn(runnableTargets()));

} // namespace
} // namespace tern::cpu::test
