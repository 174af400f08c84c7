// gpu::ropeKVAttentionVariant: which rope_kv_cache_write and attention kernels decode may run
// as one rope_kv_attention kernel, the variant's parameters and symbol, and its launch rule.
#include "codegen/GPU/GPUCodegen.h"
#include "tests/gpu/PtxTestUtil.h"

#include <gtest/gtest.h>

namespace tern::gpu::test {
namespace {

KernelSpec ropeKV(int64_t heads, int64_t kvHeads, int64_t headDim, int64_t stride,
                  const char *style) {
  KernelSpec s;
  s.symbol = "tern_k3_rope_kv_cache_write";
  s.family = "rope_kv_cache_write";
  s.ints = {{"heads", heads + kvHeads}, {"head_dim", headDim}, {"stride", stride},
            {"context", 4096},          {"kv_heads", kvHeads}, {"v_stride", stride}};
  s.strings["style"] = style;
  return s;
}

KernelSpec attention(int64_t heads, int64_t kvHeads, int64_t headDim, int64_t qStride) {
  KernelSpec s;
  s.symbol = "tern_k5_attention";
  s.family = "attention";
  s.ints = {{"heads", heads},
            {"kv_heads", kvHeads},
            {"head_dim", headDim},
            {"q_stride", qStride},
            {"context", 4096}};
  s.floats["scale"] = 0.125;
  return s;
}

TEST(RopeKVAttention, VariantOfThe2B4TDecodeKernels) {
  auto fused =
      ropeKVAttentionVariant(ropeKV(20, 5, 128, 3840, "neox"), attention(20, 5, 128, 3840));
  ASSERT_TRUE(fused.has_value());
  EXPECT_EQ(fused->family, "rope_kv_attention");
  EXPECT_EQ(fused->symbol, "tern_k5_rope_kv_attention");
  EXPECT_EQ(fused->getInt("heads"), 20);
  EXPECT_EQ(fused->getInt("kv_heads"), 5);
  EXPECT_EQ(fused->getInt("stride"), 3840);
  EXPECT_EQ(fused->getInt("v_stride"), 3840);
  EXPECT_EQ(fused->getString("style"), "neox");
  EXPECT_EQ(fused->getFloat("scale"), 0.125);

  auto target = resolveGpuTarget("sm_90");
  ASSERT_TRUE(bool(target)) << llvm::toString(target.takeError());
  auto one = launchShape(*fused, 1, *target);
  ASSERT_TRUE(bool(one)) << llvm::toString(one.takeError());
  auto plain = launchShape(attention(20, 5, 128, 3840), 1, *target);
  ASSERT_TRUE(bool(plain)) << llvm::toString(plain.takeError());
  EXPECT_EQ(one->grid, plain->grid);
  EXPECT_EQ(one->block, plain->block);
  // One query row only: prefill's rows read cache rows other rows of the call write.
  auto more = launchShape(*fused, 2, *target);
  ASSERT_FALSE(bool(more));
  EXPECT_NE(llvm::toString(more.takeError()).find("one query row"), std::string::npos);

  const std::string ptx = generatePtx({*fused}, "sm_90");
  EXPECT_EQ(entryParamCount(ptx, "tern_k5_rope_kv_attention"), 7);
  if (findPtxas().empty())
    GTEST_SKIP() << "ptxas is not installed: PTX generated but not assembled";
  EXPECT_EQ(assemblePtx(ptx, "sm_90a"), "");
}

TEST(RopeKVAttention, NoVariantWhereTheKernelsDisagreeOrPairsSpanLanes) {
  // The rope must rotate attention's query heads followed by its kv heads, read alike.
  EXPECT_FALSE(
      ropeKVAttentionVariant(ropeKV(20, 5, 128, 3840, "neox"), attention(16, 4, 128, 3840)));
  EXPECT_FALSE(
      ropeKVAttentionVariant(ropeKV(20, 5, 128, 3840, "neox"), attention(20, 5, 128, 2560)));
  EXPECT_FALSE(
      ropeKVAttentionVariant(attention(20, 5, 128, 3840), ropeKV(20, 5, 128, 3840, "neox")));
  // head_dim 6 is read one float per chunk: a normal pair (2i, 2i + 1) spans two lanes' chunks.
  EXPECT_FALSE(ropeKVAttentionVariant(ropeKV(4, 2, 6, 36, "normal"), attention(4, 2, 6, 36)));
  EXPECT_TRUE(ropeKVAttentionVariant(ropeKV(4, 2, 6, 36, "neox"), attention(4, 2, 6, 36)));
  // head_dim 100: 25 chunks over 8 lanes of 4 leave lanes without a partner chunk.
  EXPECT_FALSE(ropeKVAttentionVariant(ropeKV(4, 2, 100, 600, "neox"), attention(4, 2, 100, 600)));
}

} // namespace
} // namespace tern::gpu::test
