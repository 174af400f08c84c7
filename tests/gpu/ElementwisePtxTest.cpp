// The elementwise families compile to PTX with the kernel ABI's parameters and assemble.
#include "tests/gpu/PtxTestUtil.h"

#include <gtest/gtest.h>

namespace tern::gpu::test {
namespace {

KernelSpec spec(const std::string &family, int64_t width) {
  KernelSpec s;
  s.symbol = "k_" + family;
  s.family = family;
  s.ints["width"] = width;
  return s;
}

TEST(ElementwisePtx, EveryFamilyAssembles) {
  std::vector<KernelSpec> kernels = {spec("add", 2560), spec("mul", 2560), spec("relu2", 6912),
                                     spec("silu", 100), spec("gelu", 33), spec("relu", 3072)};
  KernelSpec biasAdd = spec("bias_add", 768);
  biasAdd.ints["x_stride"] = 2304;
  kernels.push_back(biasAdd);
  KernelSpec glu = spec("glu", 6912);
  glu.ints["in_stride"] = 13824;
  glu.strings["activation"] = "relu2";
  kernels.push_back(glu);
  for (const char *target : {"sm_80", "sm_90"}) {
    const std::string ptx = generatePtx(kernels, target);
    ASSERT_FALSE(ptx.empty());
    EXPECT_NE(ptx.find(".target " + std::string(target)), std::string::npos) << ptx.substr(0, 400);
    EXPECT_EQ(entryParamCount(ptx, "k_add"), 4);
    EXPECT_EQ(entryParamCount(ptx, "k_relu2"), 3);
    EXPECT_EQ(entryParamCount(ptx, "k_relu"), 3);
    EXPECT_EQ(entryParamCount(ptx, "k_bias_add"), 4);
    EXPECT_EQ(entryParamCount(ptx, "k_glu"), 4);
    EXPECT_NE(ptx.find("ex2.approx"), std::string::npos) << "silu/gelu use ex2.approx";
    if (findPtxas().empty())
      GTEST_SKIP() << "ptxas is not installed: PTX generated but not assembled";
    EXPECT_EQ(assemblePtx(ptx, target == std::string("sm_90") ? "sm_90a" : target), "");
  }
}

} // namespace
} // namespace tern::gpu::test
