// Generated causal GQA attention kernels vs the reference twin, with heads split in slices, each
// shape generated as the compiler does and forced onto each of the kernel's three block
// strategies (dot products, queries in lanes, tiles; see codegen/CPU/Attention.cpp and
// AttentionTiles.cpp).
#include "CodegenTestUtil.h"

#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <cctype>

namespace tern::cpu::test {
namespace {

struct AttentionCase {
  int64_t heads, kvHeads, headDim, qStride, context;
  bool asCompiled; // also check the kernel as the compiler generates it (both strategies in one)
};

const std::vector<AttentionCase> kCases = {
    {4, 1, 8, 32, 48, false},              // multi-query, head_dim below a vector
    {4, 4, 16, 80, 48, false},             // one kv head per head, strided q
    {6, 2, 64, 6 * 64, 48, true},          //
    {20, 5, 128, 30 * 128, 48, true},      // the BitNet 2B shape, q part of a fused QKV row
    {12, 3, 36, 12 * 36 + 4, 48, false},   // head_dim with a short last vector
    {8, 4, 8, 8 * 8, 600, true},           // stories260K
    {4, 2, 64, 256, 4160, false},          // a long context: no scores are stored
};

// Which way each variant forces: tiles whenever head_dim allows (tiles_min_queries 1), queries in
// lanes whenever head_dim allows (lanes_min_queries 1, no tiles), dot products (neither), and
// the kernel as compiled (the defaults). Building every variant of every case would double the
// tests' time, mostly spent compiling.
struct Variant {
  std::string name;
  int64_t tilesMinQueries, lanesMinQueries; // -1: the default
};
const std::vector<Variant> kVariants = {
    {"tiles", 1, 0}, {"lanes", 0, 1}, {"dots", 0, 0}, {"default", -1, -1}};

bool hasVariant(const AttentionCase &c, const Variant &v) {
  return v.lanesMinQueries >= 0 || c.asCompiled;
}

std::string symbolOf(const AttentionCase &c, const std::string &variant) {
  return "attn_" + std::to_string(c.heads) + "_" + std::to_string(c.kvHeads) + "_" +
         std::to_string(c.headDim) + "_" + std::to_string(c.qStride) + "_" +
         std::to_string(c.context) + "_" + variant;
}

struct AttentionParam {
  std::string target;
  AttentionCase shape;
};

std::string paramName(const ::testing::TestParamInfo<AttentionParam> &info) {
  const AttentionCase &c = info.param.shape;
  std::string name = info.param.target + "_h" + std::to_string(c.heads) + "_kv" +
                     std::to_string(c.kvHeads) + "_d" + std::to_string(c.headDim) + "_ctx" +
                     std::to_string(c.context);
  for (char &ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)))
      ch = '_';
  return name;
}

std::vector<AttentionParam> allParams() {
  std::vector<AttentionParam> params;
  for (const std::string &target : runnableTargets())
    for (const AttentionCase &c : kCases)
      params.push_back({target, c});
  return params;
}

// One shape on one target: its kernels are built once (compiling dominates the test's time) and
// checked in every scenario.
class AttentionTest : public ::testing::TestWithParam<AttentionParam> {
protected:
  void SetUp() override {
    const AttentionCase &c = GetParam().shape;
    std::vector<KernelSpec> specs;
    for (const Variant &v : kVariants) {
      if (!hasVariant(c, v))
        continue;
      KernelSpec spec;
      spec.symbol = symbolOf(c, v.name);
      spec.family = "attention";
      spec.ints = {{"heads", c.heads}, {"kv_heads", c.kvHeads}, {"head_dim", c.headDim},
                   {"q_stride", c.qStride}, {"context", c.context}};
      if (v.lanesMinQueries >= 0)
        spec.ints["lanes_min_queries"] = v.lanesMinQueries;
      if (v.tilesMinQueries >= 0)
        spec.ints["tiles_min_queries"] = v.tilesMinQueries;
      spec.floats = {{"scale", 1.0 / std::sqrt(double(c.headDim))}};
      specs.push_back(spec);
    }
    std::string error;
    library = buildAndLoad(specs, GetParam().target, &error);
    ASSERT_TRUE(library) << error;
  }

  // Runs at |pos| with |rows| query rows, values of magnitude |magnitude|.
  void check(int64_t rows, int64_t pos, float magnitude, std::mt19937 &rng) {
    const AttentionCase &c = GetParam().shape;
    SCOPED_TRACE("rows " + std::to_string(rows) + " pos " + std::to_string(pos) + " magnitude " +
                 std::to_string(magnitude));
    const int64_t width = c.kvHeads * c.headDim, d = c.headDim;
    const float scale = float(1.0 / std::sqrt(double(d)));
    std::vector<float> q = randomFloats(rng, rows * c.qStride, magnitude);
    std::vector<float> kCache = randomFloats(rng, c.context * width, magnitude);
    std::vector<float> vCache = randomFloats(rng, c.context * width, 1.0f);
    std::vector<double> scratch(pos + rows);
    std::vector<float> want(rows * c.heads * d), got(rows * c.heads * d);
    ref::attentionHeads(kCache.data(), vCache.data(), c.kvHeads, d, c.heads, 0, c.heads, pos,
                        rows, scale, q.data(), c.qStride, scratch.data(), want.data());
    // The output is a convex combination of the attended values: errors are relative to the
    // largest of them.
    std::vector<double> bound(rows * c.heads * d, 0.0);
    for (int64_t t = 0; t < rows; ++t)
      for (int64_t h = 0; h < c.heads; ++h)
        for (int64_t i = 0; i < d; ++i)
          for (int64_t p = 0; p <= pos + t; ++p) {
            const int64_t kvh = h / (c.heads / c.kvHeads);
            double &b = bound[(t * c.heads + h) * d + i];
            b = std::max(b, double(std::fabs(vCache[p * width + kvh * d + i])));
          }
    for (const Variant &v : kVariants) {
      if (!hasVariant(c, v))
        continue;
      const std::string &variant = v.name;
      tern_cpu_kernel_fn fn = library->kernel(symbolOf(c, variant));
      ASSERT_TRUE(fn);
      for (int64_t slices : {int64_t(1), int64_t(3), c.heads}) {
        poison(got);
        runSliced(fn, {q.data(), kCache.data(), vCache.data(), got.data()}, rows, pos, c.heads,
                  slices);
        for (int64_t at = 0; at < int64_t(got.size()); ++at)
          ASSERT_TRUE(closeRelative(got[at], want[at], bound[at], 1e-4))
              << variant << ", slices " << slices << ", row " << at / (c.heads * d) << " head "
              << at / d % c.heads << " element " << at % d << ": " << got[at] << " vs "
              << want[at];
      }
    }
  }

  std::unique_ptr<LoadedLibrary> library;
};

TEST_P(AttentionTest, MatchesReference) {
  const AttentionCase &c = GetParam().shape;
  std::mt19937 rng(17);
  {
    SCOPED_TRACE("at the start");
    for (int64_t rows : {1, 7})
      check(rows, 0, 1.0f, rng);
  }
  {
    SCOPED_TRACE("after earlier positions");
    for (int64_t rows : {1, 7})
      check(rows, std::min<int64_t>(c.context - rows, 29), 1.0f, rng);
  }
  {
    // 64 rows: several row blocks for the wide heads (whose state fills the stack budget
    // first), a causal tail longer than a block, and passes of queries that end part-way.
    SCOPED_TRACE("prefill chunks");
    for (int64_t pos : {0, 37})
      check(std::min<int64_t>(64, c.context - pos), pos, 1.0f, rng);
  }
  {
    SCOPED_TRACE("at the end of the context");
    for (int64_t rows : {1, 2})
      check(rows, c.context - rows, 1.0f, rng);
  }
  {
    // Large scores: most weights underflow to zero and the running maximum changes often.
    SCOPED_TRACE("with a peaked softmax");
    check(7, std::min<int64_t>(20, c.context - 7), 6.0f, rng);
  }
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

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionTest, ::testing::ValuesIn(allParams()), paramName);

} // namespace
} // namespace tern::cpu::test
