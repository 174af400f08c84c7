// The row-dot skeleton's plan and the shape of its PTX: which one-row matmul kernels read
// their activations unstaged (no shared memory, no barrier) and which still stage them.
#include "codegen/GPU/GPURowDot.h"
#include "tests/gpu/PtxTestUtil.h"

#include <gtest/gtest.h>

namespace tern::gpu::test {
namespace {

KernelSpec ternary(int64_t n, int64_t k, bool oneRow) {
  KernelSpec s;
  s.symbol = "tmm";
  s.family = "ternary_matmul";
  s.ints = {{"n", n}, {"k", k}, {"n_block", 1}, {"one_row", oneRow ? 1 : 0}};
  s.strings["packing"] = "i2_b128";
  return s;
}

KernelSpec quantized(const std::string &format, int64_t n, int64_t k, bool oneRow) {
  KernelSpec s;
  s.symbol = "qmm";
  s.family = "quantized_matmul";
  s.ints = {{"n", n}, {"k", k}, {"n_block", 1}, {"one_row", oneRow ? 1 : 0}};
  s.strings["format"] = format;
  return s;
}

bool has(const std::string &ptx, const std::string &what) {
  return ptx.find(what) != std::string::npos;
}

TEST(RowDotPlan, UnstagedOneRowKernelsReserveNoSharedMemory) {
  // The 2B-4T gate/up projection: 40 chunks of 64 weights per row, 4 planes of 16 bytes.
  RowDotShape shape;
  shape.n = 13824;
  shape.chunks = 40;
  shape.planes = 4;
  shape.planeBytes = 16;
  shape.directActivations = true;
  const RowDotPlan general = planRowDot(shape); // directActivations needs oneRow
  EXPECT_GT(general.smemBytes, 0);
  shape.oneRow = true;
  const RowDotPlan unstaged = planRowDot(shape);
  EXPECT_EQ(unstaged.smemBytes, 0);
  EXPECT_EQ(unstaged.decodeSlice, shape.chunks);
  EXPECT_EQ(unstaged.decodeBlocks, general.decodeBlocks);
  shape.directActivations = false;
  const RowDotPlan staged = planRowDot(shape);
  EXPECT_EQ(staged.smemBytes, staged.decodeSlice * shape.planes * shape.planeBytes);
  EXPECT_EQ(staged.decodeBlocks, general.decodeBlocks);
}

TEST(RowDotPtx, OneRowKernelsOfAlignedInt8ActivationsStageNothing) {
  struct Case {
    KernelSpec spec;
    bool staged;
  };
  const std::vector<Case> cases = {
      {ternary(3840, 2560, true), false},
      {ternary(2560, 6912, true), false},
      {ternary(75, 1360, true), false},   // k % 128 != 0, still 16-byte pieces
      {ternary(37, 100, true), true},     // k % 16 != 0: bytes staged one by one
      {ternary(3840, 2560, false), true}, // the general kernel keeps its tiles
      {quantized("q6_b32", 1000, 2560, true), false},
      {quantized("q8_b32", 1000, 2560, true), false},
      {quantized("q4_b32", 1000, 2560, false), true},
  };
  for (const Case &c : cases) {
    for (const char *target : {"sm_80", "sm_90"}) {
      SCOPED_TRACE(c.spec.family + " n " + std::to_string(c.spec.getInt("n")) + " k " +
                   std::to_string(c.spec.getInt("k")) + " one_row " +
                   std::to_string(c.spec.getInt("one_row")) + " " + target);
      const std::string ptx = generatePtx({c.spec}, target);
      ASSERT_FALSE(ptx.empty());
      EXPECT_EQ(has(ptx, ".shared"), c.staged);
      EXPECT_EQ(has(ptx, "bar.sync"), c.staged);
      EXPECT_TRUE(has(ptx, "dp4a"));
    }
  }
}

} // namespace
} // namespace tern::gpu::test
