// Random test cases for the GPU kernels: a kernel spec, its bindings' initial bytes and which
// bindings it writes. The GPU differential test (tests/cuda) runs each case on the GPU and on
// the runtime's reference twin (runReferenceKernel) from the same bytes and compares the
// outputs; the PTX tests here compile the same specs. One cases function per family group,
// in its own file (e.g. ElementwiseCases.cpp), listed in kernelCaseGroups().
#ifndef TERN_TESTS_GPU_KERNELCASES_H
#define TERN_TESTS_GPU_KERNELCASES_H

#include "KernelSpec.h"

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace tern::gpu::test {

// How an output binding is compared with the reference's.
enum class Compare {
  Float32,  // f32 elements: ||gpu - ref|| / ||ref|| <= tolerance (L2 norms), no NaN anywhere
  Exact,    // every byte equal (int8 codes, copied rows)
};

struct OutputCheck {
  int binding = 0;          // index into KernelCase::bindings
  Compare compare = Compare::Float32;
  double tolerance = 1e-5;  // Float32 only
};

struct KernelCase {
  std::string name;         // for messages: family and shape, e.g. "ternary_matmul 3840x2560 rows 7"
  KernelSpec spec;          // symbol set, unique within its group
  int64_t rows = 1;         // the call's rows
  int64_t pos = 0;          // the call's position
  int64_t maxRows = 1;      // the entry point's max_rows the launch shape is computed for (>= rows)
  // Initial bytes of every binding in the family's order (docs/kernels.md). Inputs hold random
  // valid data (fresh on each run of the generator); outputs are poisoned (0xFF bytes: NaN for
  // f32) so that anything the kernel fails to write shows. Buffers the kernel updates in place
  // (rope's x, the KV caches) hold data and are outputs too.
  std::vector<std::vector<uint8_t>> bindings;
  std::vector<OutputCheck> outputs;
};

// A family group's case generator: a few cases with random shapes (include the real 2B-4T
// shapes where they are the ones that matter) and random data from |rng|.
using CaseGenerator = std::function<std::vector<KernelCase>(std::mt19937 &rng)>;

struct CaseGroup {
  const char *name;         // e.g. "elementwise"
  CaseGenerator generate;
};

// Every group that has a cases file (KernelCases.cpp lists them).
std::vector<CaseGroup> kernelCaseGroups();

// Helpers for writing cases.
std::vector<uint8_t> randomF32Bytes(std::mt19937 &rng, size_t count, float scale = 1.0f);
std::vector<uint8_t> poisonedBytes(size_t bytes);
template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &values) {
  const auto *p = reinterpret_cast<const uint8_t *>(values.data());
  return std::vector<uint8_t>(p, p + values.size() * sizeof(T));
}

} // namespace tern::gpu::test

#endif
