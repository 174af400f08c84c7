// Helpers for tests of the PTX backend that need no GPU: generate PTX for kernel specs and,
// where the CUDA toolkit's ptxas is installed, assemble it for a real chip.
#ifndef TERN_TESTS_GPU_PTXTESTUTIL_H
#define TERN_TESTS_GPU_PTXTESTUTIL_H

#include "KernelSpec.h"

#include <string>
#include <vector>

namespace tern::gpu::test {

// PTX of |kernels| for |target| (sm_80, sm_90, sm_90a); fails the test on an error.
std::string generatePtx(const std::vector<KernelSpec> &kernels, const std::string &target);

// The ptxas to use: $PTXAS, else /usr/local/cuda/bin/ptxas, else ptxas on PATH; "" if none.
std::string findPtxas();

// Assembles |ptx| with ptxas for |arch| (sm_80, sm_90a, ...). Returns "" on success, else
// ptxas's messages.
std::string assemblePtx(const std::string &ptx, const std::string &arch);

// Number of `.param` entries of the `.entry` named |symbol| in |ptx|, or -1 if absent.
int entryParamCount(const std::string &ptx, const std::string &symbol);

} // namespace tern::gpu::test

#endif
