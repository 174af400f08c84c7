// Every case of every group runs on its reference twin without a GPU: the bindings are the
// ones the family takes, large enough, and every output is written. A broken case then fails
// in CI rather than on the GPU machine, where the differential test runs it.
#include "tests/gpu/KernelCases.h"

#include "reference/ReferenceDispatch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace tern::gpu::test {
namespace {

std::string takeMessage(tern_status_t status) {
  std::string message = tern_status_message(status);
  tern_status_free(status);
  return message;
}

TEST(KernelCasesReference, EveryCaseRunsAndWritesItsOutputs) {
  std::mt19937 rng(11);
  for (const CaseGroup &group : kernelCaseGroups()) {
    SCOPED_TRACE(group.name);
    for (KernelCase &c : group.generate(rng)) {
      SCOPED_TRACE(c.name);
      ReferenceKernelShape shape;
      if (tern_status_t status = describeReferenceKernel(c.spec, c.rows, &shape))
        FAIL() << takeMessage(status);
      ASSERT_EQ(c.bindings.size(), shape.bindingBytes.size());
      std::vector<void *> pointers;
      for (size_t b = 0; b < c.bindings.size(); ++b) {
        EXPECT_GE(c.bindings[b].size(), shape.bindingBytes[b]) << "binding " << b;
        pointers.push_back(c.bindings[b].data());
      }
      if (tern_status_t status =
              runReferenceKernel(c.spec, pointers.data(), c.rows, c.pos, 0, shape.gridItems))
        FAIL() << takeMessage(status);
      for (const OutputCheck &check : c.outputs) {
        // Outputs start as 0xFF bytes (NaN floats): the call's rows must all be written.
        const std::vector<uint8_t> &out = c.bindings[size_t(check.binding)];
        if (check.compare != Compare::Float32)
          continue;
        const size_t floats =
            std::min<size_t>(out.size(), shape.bindingBytes[size_t(check.binding)]) / 4;
        for (size_t i = 0; i < floats; ++i) {
          float v;
          std::memcpy(&v, out.data() + 4 * i, 4);
          ASSERT_FALSE(std::isnan(v)) << "binding " << check.binding << " float " << i;
        }
      }
    }
  }
}

} // namespace
} // namespace tern::gpu::test
