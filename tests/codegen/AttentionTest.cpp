// Generated causal GQA attention kernels vs the reference twin, with heads split in slices.
#include "CodegenTestUtil.h"

#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

namespace tern::cpu::test {
namespace {

struct AttentionCase {
  int64_t heads, kvHeads, headDim, qStride, context;
};

const std::vector<AttentionCase> kCases = {
    {4, 1, 8, 32, 48},              // multi-query, head_dim below a vector
    {4, 4, 16, 80, 48},             // one kv head per head, strided q
    {6, 2, 64, 6 * 64, 48},         //
    {20, 5, 128, 30 * 128, 48},     // the BitNet 2B shape, q part of a fused QKV row
    {12, 3, 36, 12 * 36 + 4, 48},   // head_dim with a short last vector
    {4, 2, 64, 256, 4160},          // a long context: no scores are stored
};

std::string symbolOf(const AttentionCase &c) {
  return "attn_" + std::to_string(c.heads) + "_" + std::to_string(c.kvHeads) + "_" +
         std::to_string(c.headDim) + "_" + std::to_string(c.qStride) + "_" +
         std::to_string(c.context);
}

class AttentionTest : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    std::vector<KernelSpec> specs;
    for (const AttentionCase &c : kCases) {
      KernelSpec spec;
      spec.symbol = symbolOf(c);
      spec.family = "attention";
      spec.ints = {{"heads", c.heads}, {"kv_heads", c.kvHeads}, {"head_dim", c.headDim},
                   {"q_stride", c.qStride}, {"context", c.context}};
      spec.floats = {{"scale", 1.0 / std::sqrt(double(c.headDim))}};
      specs.push_back(spec);
    }
    std::string error;
    library = buildAndLoad(specs, GetParam(), &error);
    ASSERT_TRUE(library) << error;
  }

  // Runs case |c| at |pos| with |rows| query rows, values of magnitude |magnitude|.
  void check(const AttentionCase &c, int64_t rows, int64_t pos, float magnitude,
             std::mt19937 &rng) {
    SCOPED_TRACE(symbolOf(c) + " rows " + std::to_string(rows) + " pos " + std::to_string(pos) +
                 " magnitude " + std::to_string(magnitude));
    const int64_t width = c.kvHeads * c.headDim, d = c.headDim;
    const float scale = float(1.0 / std::sqrt(double(d)));
    std::vector<float> q = randomFloats(rng, rows * c.qStride, magnitude);
    std::vector<float> kCache = randomFloats(rng, c.context * width, magnitude);
    std::vector<float> vCache = randomFloats(rng, c.context * width, 1.0f);
    std::vector<double> scratch(pos + rows);
    std::vector<float> want(rows * c.heads * d), got(rows * c.heads * d);
    ref::attentionHeads(kCache.data(), vCache.data(), c.kvHeads, d, c.heads, 0, c.heads, pos,
                        rows, scale, q.data(), c.qStride, scratch.data(), want.data());
    tern_cpu_kernel_fn fn = library->kernel(symbolOf(c));
    ASSERT_TRUE(fn);
    for (int64_t slices : {int64_t(1), int64_t(3), c.heads}) {
      poison(got);
      runSliced(fn, {q.data(), kCache.data(), vCache.data(), got.data()}, rows, pos, c.heads,
                slices);
      for (int64_t t = 0; t < rows; ++t)
        for (int64_t h = 0; h < c.heads; ++h) {
          const int64_t kvh = h / (c.heads / c.kvHeads);
          for (int64_t i = 0; i < d; ++i) {
            // The output is a convex combination of the attended values.
            double bound = 0;
            for (int64_t p = 0; p <= pos + t; ++p)
              bound = std::max(bound, double(std::fabs(vCache[p * width + kvh * d + i])));
            const int64_t at = (t * c.heads + h) * d + i;
            ASSERT_TRUE(closeRelative(got[at], want[at], bound, 1e-4))
                << "slices " << slices << " row " << t << " head " << h << " element " << i
                << ": " << got[at] << " vs " << want[at];
          }
        }
    }
  }

  std::unique_ptr<LoadedLibrary> library;
};

TEST_P(AttentionTest, MatchesReferenceAtStart) {
  std::mt19937 rng(17);
  for (const AttentionCase &c : kCases)
    for (int64_t rows : {1, 7})
      check(c, rows, 0, 1.0f, rng);
}

TEST_P(AttentionTest, MatchesReferenceAfterEarlierPositions) {
  std::mt19937 rng(19);
  for (const AttentionCase &c : kCases)
    for (int64_t rows : {1, 7})
      check(c, rows, std::min<int64_t>(c.context - rows, 29), 1.0f, rng);
}

TEST_P(AttentionTest, MatchesReferenceAtTheEndOfALongContext) {
  std::mt19937 rng(23);
  const AttentionCase &c = kCases.back();
  for (int64_t rows : {1, 2})
    check(c, rows, c.context - rows, 1.0f, rng);
}

TEST_P(AttentionTest, StaysAccurateWithPeakedSoftmax) {
  // Large scores: most weights underflow to zero and the running maximum changes often.
  std::mt19937 rng(29);
  for (const AttentionCase &c : kCases)
    if (c.context < 1000)
      check(c, 7, 20, 6.0f, rng);
}

// Single-thread decode over a full BitNet 2B layer cache (20 heads, 5 kv heads, head_dim 128,
// 4096 positions): reports the rate at which the kernel streams the layer's K and V caches.
TEST(AttentionPerf, DISABLED_DecodeCacheBandwidth) {
  const std::vector<std::string> targets = runnableTargets();
  ASSERT_FALSE(targets.empty());
  const int64_t heads = 20, kvHeads = 5, d = 128, context = 4096, width = kvHeads * d;
  KernelSpec spec;
  spec.symbol = "attn";
  spec.family = "attention";
  spec.ints = {{"heads", heads}, {"kv_heads", kvHeads}, {"head_dim", d},
               {"q_stride", heads * d}, {"context", context}};
  spec.floats = {{"scale", 1.0 / std::sqrt(double(d))}};
  std::string error;
  auto library = buildAndLoad({spec}, targets.front(), &error);
  ASSERT_TRUE(library) << error;
  std::mt19937 rng(1);
  std::vector<float> q = randomFloats(rng, heads * d);
  std::vector<float> kCache = randomFloats(rng, context * width);
  std::vector<float> vCache = randomFloats(rng, context * width);
  std::vector<float> out(heads * d);
  tern_cpu_kernel_fn fn = library->kernel("attn");
  std::vector<void *> bindings = {q.data(), kCache.data(), vCache.data(), out.data()};
  fn(bindings.data(), 1, context - 1, 0, heads); // warm the caches
  const int iterations = 20;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i)
    fn(bindings.data(), 1, context - 1, 0, heads);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iterations;
  double bytes = 2.0 * context * width * sizeof(float);
  std::printf("attention decode (%s, context %lld): %.3f ms per layer, %.1f GB/s of K+V\n",
              targets.front().c_str(), (long long)context, seconds * 1e3, bytes / seconds / 1e9);
  EXPECT_FALSE(std::isnan(out[0]));
}

TEST(AttentionCodegen, RejectsKvHeadsNotDividingHeads) {
  KernelSpec spec;
  spec.symbol = "attn";
  spec.family = "attention";
  spec.ints = {{"heads", 6}, {"kv_heads", 4}, {"head_dim", 16}, {"q_stride", 96},
               {"context", 8}};
  spec.floats = {{"scale", 0.25}};
  std::string error;
  EXPECT_FALSE(buildAndLoad({spec}, "generic", &error));
  EXPECT_NE(error.find("kv_heads"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Targets, AttentionTest, ::testing::ValuesIn(runnableTargets()));

} // namespace
} // namespace tern::cpu::test
