// Generated ternary_matmul kernels vs the reference twin: exact int32 dots, every target.
#include "CodegenTestUtil.h"
#include "codegen/CPU/TernaryMatmulLut.h"

#include "packing/TernaryPacking.h"
#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace tern::cpu::test {
namespace {

struct TernaryCase {
  int64_t n, k, nBlock;
  bool divide;
};

class TernaryMatmulTest : public ::testing::TestWithParam<std::string> {};

void checkTernary(const std::string &target, const TernaryCase &c,
                  const std::vector<int64_t> &rowCounts, uint32_t seed,
                  packing::TernaryLayout layout = packing::TernaryLayout::I2B128) {
  SCOPED_TRACE("target " + target + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
               " n_block=" + std::to_string(c.nBlock) + " " +
               packing::ternaryLayoutName(layout));
  KernelSpec spec;
  spec.symbol = "tmm";
  spec.family = "ternary_matmul";
  spec.ints = {{"n", c.n}, {"k", c.k}, {"n_block", c.nBlock}, {"divide_by_scale", c.divide}};
  spec.strings = {{"packing", packing::ternaryLayoutName(layout)}};
  std::string error;
  auto library = buildAndLoad({spec}, target, &error);
  ASSERT_TRUE(library) << error;
  tern_cpu_kernel_fn fn = library->kernel("tmm");
  ASSERT_NE(fn, nullptr);

  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> weight(-1, 1), act(-128, 127);
  std::vector<int8_t> w(c.n * c.k);
  for (int8_t &v : w)
    v = int8_t(weight(rng));
  // 64-byte aligned like the artifact's weight sections.
  size_t packedSize = packing::packedBytes(layout, c.n, c.k);
  std::vector<uint8_t, std::allocator<uint8_t>> packedStorage(packedSize + 64);
  uint8_t *packed = reinterpret_cast<uint8_t *>(
      (reinterpret_cast<uintptr_t>(packedStorage.data()) + 63) & ~uintptr_t(63));
  ASSERT_TRUE(packing::packTernary(layout, w.data(), c.n, c.k, packed));
  // The reference reads the unpacked weights back, so both sides see the same layout.
  std::vector<int8_t> unpacked(c.n * c.k);
  packing::unpackTernary(layout, packed, c.k, 0, c.n, unpacked.data());
  ASSERT_EQ(unpacked, w);
  std::vector<float> wscale = randomFloats(rng, c.n, 2.0f);
  for (float &s : wscale)
    s = std::fabs(s) + 0.1f;

  for (int64_t rows : rowCounts) {
    std::vector<int8_t> q(rows * c.k);
    for (int8_t &v : q)
      v = int8_t(act(rng));
    if (!q.empty()) {
      q[0] = -128; // extremes of the code range
      q.back() = 127;
    }
    std::vector<float> qscale(rows);
    for (float &s : qscale)
      s = 1.0f + float(act(rng) + 128);
    std::vector<float> want(rows * c.n), got(rows * c.n);
    ref::ternaryMatmul(q.data(), qscale.data(), w.data(), wscale.data(), c.k, c.divide, rows, c.n,
                       c.k, want.data());
    for (int64_t slices : {1, 3}) {
      poison(got);
      std::vector<void *> bindings = {q.data(), qscale.data(), packed, wscale.data(), got.data()};
      runSliced(fn, bindings, rows, 0, c.n / c.nBlock, slices);
      for (int64_t i = 0; i < rows * c.n; ++i)
        // Integer dots are exact and both sides scale in double then round once.
        ASSERT_EQ(got[i], want[i]) << "rows=" << rows << " slices=" << slices << " at row "
                                   << i / c.n << " col " << i % c.n;
    }
  }
}

TEST_P(TernaryMatmulTest, MatchesReferenceOnOddShapes) {
  const std::vector<TernaryCase> cases = {
      {32, 64, 8, false},  {172, 200, 43, false}, {256, 2560, 32, false},
      {32, 6912, 16, true}, {40, 130, 10, true},   {16, 384, 2, false},
  };
  uint32_t seed = 1;
  for (const TernaryCase &c : cases)
    checkTernary(GetParam(), c, {1, 2, 3, 5, 8}, seed++);
}

TEST_P(TernaryMatmulTest, MatchesReferenceAtTileEdges) {
  // k: no full block (7, 32, 100), one weight past a block (129), the last slot partial or
  // whole (255, 383, 2597), whole groups of the 8 blocks v3 prefill sums in i16 with and
  // without a tail (1024, 901 = 7 blocks + tail); n_block 1, 2, 4, 8 and 12 give decode tiles
  // of 1, 2 and 4 weight rows and every prefill tile width; rows cover 0..3 leftover rows
  // after the 4- (v4) and 2-row (v3) tiles and several tiles.
  const std::vector<TernaryCase> cases = {
      {12, 7, 12, false},  {8, 32, 4, true},    {6, 100, 2, false},  {5, 129, 1, false},
      {24, 255, 12, true}, {20, 383, 4, false}, {16, 2597, 8, false}, {8, 1024, 8, false},
      {12, 901, 4, true},
  };
  uint32_t seed = 100;
  for (const TernaryCase &c : cases)
    checkTernary(GetParam(), c, {1, 2, 3, 4, 6, 7, 9, 13}, seed++);
}

TEST_P(TernaryMatmulTest, MatchesReferenceAtModelShape) {
  // The BitNet b1.58 2B FFN down projection (2560 x 6912), decode and a prefill row tile.
  checkTernary(GetParam(), {2560, 6912, 64, false}, {1, 4}, 99);
  // The fused QKV projection (3840 x 2560): decode, a v4 tile plus a leftover row.
  checkTernary(GetParam(), {3840, 2560, 64, true}, {1, 5}, 98);
}

TEST_P(TernaryMatmulTest, MatchesReferenceWithVeryLongRows) {
  // Past ~2.8M weights per row the v4 decode tile's per-slot sums (codes kept in place, so
  // scaled by up to 64) could leave i32, and it falls back to shifting the codes down.
  checkTernary(GetParam(), {4, 2800037, 4, false}, {1, 5}, 7);
}

// tl2_t64: 64-row tiles, so n and n_block are multiples of 64. k covers no quad at all (5, 11),
// quads only (12, 2556 = 213 quads), every leftover count (1..11 weights: 2 and 3 chunks, a
// partial last chunk) and the 2B model's shapes; rows cover decode, the prefill pairs and an
// odd row after them; 3 slices split the tiles between calls. The VBMI kernels
// (x86-64-v4+tl2) run where the host has VBMI; every runnable target also builds the portable
// form of the same kernel (gathers for vpermb), so the layout and the kernel's logic are
// checked on any host.
std::vector<std::string> lookupTableTargets() {
  std::vector<std::string> targets = runnableTargets();
  if (hostRunsLookupTableKernels())
    targets.insert(targets.begin(), "x86-64-v4+tl2");
  return targets;
}

TEST(TernaryMatmulTl2Test, MatchesReference) {
  const auto tl2 = packing::TernaryLayout::TL2T64;
  const std::vector<TernaryCase> cases = {
      {64, 5, 64, false},    {128, 11, 64, true},   {64, 12, 64, false},  {192, 13, 64, false},
      {128, 2556, 64, true}, {64, 2557, 64, false}, {128, 2563, 128, false}, {64, 130, 64, true},
      {256, 6912, 64, false}, {64, 383, 64, true},
  };
  for (const std::string &target : lookupTableTargets()) {
    uint32_t seed = 300;
    for (const TernaryCase &c : cases)
      checkTernary(target, c, {1, 2, 3, 5}, seed++, tl2);
  }
}

TEST(TernaryMatmulTl2Test, MatchesReferenceAtModelShape) {
  const auto tl2 = packing::TernaryLayout::TL2T64;
  for (const std::string &target : lookupTableTargets()) {
    checkTernary(target, {3840, 2560, 64, true}, {1, 4}, 301, tl2);
    checkTernary(target, {2560, 6912, 64, false}, {1, 3}, 302, tl2);
  }
}

TEST(TernaryMatmulTl2Test, RejectsShapesTheLayoutCannotHold) {
  KernelSpec spec;
  spec.symbol = "tmm";
  spec.family = "ternary_matmul";
  spec.strings = {{"packing", "tl2_t64"}};
  std::string error;
  spec.ints = {{"n", 96}, {"k", 256}, {"n_block", 32}, {"divide_by_scale", 0}};
  EXPECT_EQ(buildAndLoad({spec}, "x86-64-v4+tl2", &error), nullptr);
  EXPECT_NE(error.find("n a positive multiple of 64"), std::string::npos) << error;
  spec.ints = {{"n", 128}, {"k", 256}, {"n_block", 32}, {"divide_by_scale", 0}};
  EXPECT_EQ(buildAndLoad({spec}, "x86-64-v4+tl2", &error), nullptr);
  EXPECT_NE(error.find("'n_block' (32) must be a multiple of 64"), std::string::npos) << error;
  spec.ints = {{"n", 64}, {"k", 30000}, {"n_block", 64}, {"divide_by_scale", 0}};
  EXPECT_EQ(buildAndLoad({spec}, "x86-64-v4+tl2", &error), nullptr);
  EXPECT_NE(error.find("k up to 24576"), std::string::npos) << error;
}

TEST(TernaryPackingTl2Test, RoundTripsAndSizes) {
  const auto tl2 = packing::TernaryLayout::TL2T64;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> weight(-1, 1);
  for (int64_t k : {1, 3, 12, 25, 2560, 6912}) {
    const int64_t n = 128;
    std::vector<int8_t> w(n * k);
    for (int8_t &v : w)
      v = int8_t(weight(rng));
    std::vector<uint8_t> packed(packing::packedBytes(tl2, n, k));
    ASSERT_TRUE(packing::packTernary(tl2, w.data(), n, k, packed.data()));
    std::vector<int8_t> back(n * k);
    packing::unpackTernary(tl2, packed.data(), k, 0, n, back.data());
    EXPECT_EQ(back, w) << "k=" << k;
    // Rows 70..99 alone, as the reference twin asks for a work item's rows.
    std::vector<int8_t> part(30 * k);
    packing::unpackTernary(tl2, packed.data(), k, 70, 100, part.data());
    EXPECT_TRUE(std::equal(part.begin(), part.end(), w.begin() + 70 * k)) << "k=" << k;
  }
  // 2560 weights: 213 quads of 160 bytes and one chunk for the 4 left over, plus the sign sums:
  // 1.67 bits per weight against i2_b128's 2; tiles padded to 64 bytes.
  EXPECT_EQ(packing::packedBytes(tl2, 64, 2560), 34304); // 128 + 213 * 160 + 64 = 34272
  EXPECT_EQ(packing::packedBytes(packing::TernaryLayout::I2B128, 64, 2560), 40960);
  std::vector<int8_t> w(96 * 12, 0);
  std::vector<uint8_t> out(packing::packedBytes(tl2, 128, 12));
  EXPECT_FALSE(packing::packTernary(tl2, w.data(), 96, 12, out.data())); // n not a multiple of 64
  std::vector<int8_t> bad(64 * 12, 0);
  bad[7] = 2;
  EXPECT_FALSE(packing::packTernary(tl2, bad.data(), 64, 12, out.data()));
}

// AMX (x86-64-v4+amx, ternc --amx=on): rows in steps of 32 on tile registers, the rest on the
// vector path. k is whole blocks (128, 2560), half a block past them (64, 192, 2624) or the
// FFN's 6912; n_block 32 (one pair of weight tiles per item) or 64 (two); rows below one step
// (1, 31: vector path only), one step, a step and vector rows (33, 37, 63), several steps (96,
// 101). Runs where the host has AMX-INT8 and lets this process use it.
TEST(TernaryMatmulAmxTest, MatchesReference) {
  if (!hostRunsAmxKernels())
    GTEST_SKIP() << "this host has no usable AMX-INT8";
  const std::vector<TernaryCase> cases = {
      {32, 128, 32, false}, {64, 192, 32, true}, {128, 2624, 64, false}, {96, 64, 32, true},
  };
  uint32_t seed = 400;
  for (const TernaryCase &c : cases)
    checkTernary("x86-64-v4+amx", c, {1, 31, 32, 33, 37, 63, 64, 96, 101}, seed++);
}

TEST(TernaryMatmulAmxTest, MatchesReferenceAtModelShape) {
  if (!hostRunsAmxKernels())
    GTEST_SKIP() << "this host has no usable AMX-INT8";
  checkTernary("x86-64-v4+amx", {3840, 2560, 64, true}, {128, 1}, 401);
  checkTernary("x86-64-v4+amx", {2560, 6912, 64, false}, {35}, 402);
}

// The tile code is generated on any host (the kernels are only run where AMX is): prefill rows
// go to tdpbssd on tiles configured once per call; shapes the tiles cannot take (k not a
// multiple of 64, n_block not of 32) build the vector path alone.
TEST(TernaryMatmulAmxTest, EmitsTileInstructionsWhereTheShapeAllows) {
  auto target = resolveTestTarget("x86-64-v4+amx");
  ASSERT_TRUE(bool(target)) << llvm::toString(target.takeError());
  auto assembly = [&](int64_t k, int64_t nBlock) {
    KernelSpec spec;
    spec.symbol = "tmm";
    spec.family = "ternary_matmul";
    spec.ints = {{"n", 64}, {"k", k}, {"n_block", nBlock}, {"divide_by_scale", 0}};
    auto text = emitKernels({spec}, *target, "asm");
    EXPECT_TRUE(bool(text)) << llvm::toString(text.takeError());
    return text ? *text : std::string();
  };
  const std::string tiles = assembly(2560, 32);
  EXPECT_NE(tiles.find("ldtilecfg"), std::string::npos);
  EXPECT_NE(tiles.find("tdpbssd"), std::string::npos);
  EXPECT_NE(tiles.find("tilerelease"), std::string::npos);
  EXPECT_EQ(assembly(2600, 32).find("tdpbssd"), std::string::npos);
  EXPECT_EQ(assembly(2560, 16).find("tdpbssd"), std::string::npos);
}

// Lookup tables (x86-64-v3+lut, ternc --lut-prefill=on): rows in steps of 32 summed from tables
// over the call's whole column slice, the rest on the vector path. k whole blocks (128, 256,
// 2560), partial blocks (100, 200: padding weights meet zeroed activations) or the FFN's 6912;
// n_block 4 to 64, and n = 300 with 3 slices, so a slice starts inside a 256-column block;
// rows below one step (1, 31: vector path only), one step, a step and vector rows (33, 37, 63),
// several steps (96, 101). Activations include -128 and 127.
TEST(TernaryMatmulLutTest, MatchesReference) {
  if (!hostRuns("x86-64-v3"))
    GTEST_SKIP() << "this host does not run x86-64-v3 kernels";
  const std::vector<TernaryCase> cases = {
      {32, 128, 32, false}, {64, 200, 8, true}, {96, 100, 32, false}, {300, 256, 4, true},
  };
  uint32_t seed = 500;
  for (const TernaryCase &c : cases)
    checkTernary("x86-64-v3+lut", c, {1, 31, 32, 33, 37, 63, 64, 96, 101}, seed++);
}

TEST(TernaryMatmulLutTest, MatchesReferenceAtModelShape) {
  if (!hostRuns("x86-64-v3"))
    GTEST_SKIP() << "this host does not run x86-64-v3 kernels";
  checkTernary("x86-64-v3+lut", {3840, 2560, 64, true}, {128, 1}, 501);
  checkTernary("x86-64-v3+lut", {2560, 6912, 64, false}, {35}, 502);
}

// The lookups are a rotate (rorx) and two vpaddw from the tables per nibble; without
// --lut-prefill the kernel has none of them.
TEST(TernaryMatmulLutTest, EmitsTableLookupsOnlyWhenAsked) {
  auto assembly = [&](const std::string &targetName, int64_t k) {
    auto target = resolveTestTarget(targetName);
    EXPECT_TRUE(bool(target)) << llvm::toString(target.takeError());
    if (!target)
      return std::string();
    KernelSpec spec;
    spec.symbol = "tmm";
    spec.family = "ternary_matmul";
    spec.ints = {{"n", 64}, {"k", k}, {"n_block", 64}, {"divide_by_scale", 0}};
    auto text = emitKernels({spec}, *target, "asm");
    EXPECT_TRUE(bool(text)) << llvm::toString(text.takeError());
    return text ? *text : std::string();
  };
  const std::string tables = assembly("x86-64-v3+lut", 2560);
  EXPECT_NE(tables.find("rorx"), std::string::npos);
  EXPECT_NE(tables.find("vpmovsxwd"), std::string::npos);
  EXPECT_EQ(assembly("x86-64-v3", 2560).find("rorx"), std::string::npos);
  // Rows past kLutMaxK keep the vector path (the transposed activations are k x 32 bytes of
  // stack).
  EXPECT_NE(assembly("x86-64-v3+lut", kLutMaxK).find("rorx"), std::string::npos);
  EXPECT_EQ(assembly("x86-64-v3+lut", kLutMaxK + 128).find("rorx"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Targets, TernaryMatmulTest, ::testing::ValuesIn(runnableTargets()));

} // namespace
} // namespace tern::cpu::test
