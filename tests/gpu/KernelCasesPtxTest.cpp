// Every case group's kernels compile to PTX with the ABI's parameters and assemble for sm_80
// and sm_90a; every case's launch shape is valid.
#include "tests/gpu/KernelCases.h"
#include "tests/gpu/PtxTestUtil.h"

#include "codegen/GPU/GPUCodegen.h"

#include <gtest/gtest.h>

namespace tern::gpu::test {
namespace {

TEST(KernelCasesPtx, EveryGroupCompilesAndAssembles) {
  std::mt19937 rng(7);
  for (const CaseGroup &group : kernelCaseGroups()) {
    SCOPED_TRACE(group.name);
    std::vector<KernelCase> cases = group.generate(rng);
    ASSERT_FALSE(cases.empty());
    std::vector<KernelSpec> specs;
    for (const KernelCase &c : cases) {
      specs.push_back(c.spec);
      for (const char *target : {"sm_80", "sm_90"}) {
        auto shape = launchShape(c.spec, c.maxRows, *resolveGpuTarget(target));
        ASSERT_TRUE(bool(shape)) << c.name << ": " << llvm::toString(shape.takeError());
        const uint64_t threads = uint64_t(shape->block[0]) * shape->block[1] * shape->block[2];
        EXPECT_GE(threads, 1u) << c.name;
        EXPECT_LE(threads, 1024u) << c.name;
        for (uint32_t g : shape->grid)
          EXPECT_GE(g, 1u) << c.name;
      }
    }
    for (const char *target : {"sm_80", "sm_90"}) {
      const std::string ptx = generatePtx(specs, target);
      ASSERT_FALSE(ptx.empty()) << group.name << " " << target;
      for (const KernelCase &c : cases)
        EXPECT_EQ(entryParamCount(ptx, c.spec.symbol), int(c.bindings.size()) + 1) << c.name;
      if (!findPtxas().empty())
        EXPECT_EQ(assemblePtx(ptx, target == std::string("sm_90") ? "sm_90a" : target), "")
            << group.name << " " << target;
    }
  }
}

} // namespace
} // namespace tern::gpu::test
