// Helpers for differential tests of generated CPU kernels: build, load, run in slices.
#ifndef TERN_TESTS_CODEGEN_CODEGENTESTUTIL_H
#define TERN_TESTS_CODEGEN_CODEGENTESTUTIL_H

#include "codegen/CPU/CPUCodegen.h"
#include "tern/kernel_abi.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace tern::cpu::test {

// Targets whose code this host can run (x86-64-v4, x86-64-v3, generic), best first.
std::vector<std::string> runnableTargets();
// Whether |target| is one of runnableTargets().
bool hostRuns(const std::string &target);

// A generated kernel library loaded into this process.
class LoadedLibrary {
public:
  ~LoadedLibrary();
  tern_cpu_kernel_fn kernel(const std::string &symbol) const; // null if absent
  const void *symbol(const std::string &name) const;

private:
  friend std::unique_ptr<LoadedLibrary> buildAndLoad(const std::vector<KernelSpec> &,
                                                     const std::string &, std::string *);
  void *handle = nullptr;
};

// Whether this host runs the tl2_t64 kernels (AVX-512 with VNNI and VBMI).
bool hostRunsLookupTableKernels();

// Whether this host runs x86-64-v4 kernels with AMX-INT8 tiles (ternc --amx=on); asks the OS
// for the tile state, as the runtime does.
bool hostRunsAmxKernels();

// |name| resolved as ternc would: a CPU target name, or "<name>+tl2" for that target with the
// tl2_t64 kernels' VBMI (ternc --ternary-packing=tl2), "<name>+amx" with AMX (--amx=on), or
// "<name>+lut" with the lookup-table prefill kernels (--lut-prefill=on).
llvm::Expected<CpuTarget> resolveTestTarget(const std::string &name);

// Generates |kernels| for |target|, loads the shared object; null with |error| set on failure.
// "x86-64-v4+tl2" is x86-64-v4 with the tl2_t64 kernels' VBMI (ternc --ternary-packing=tl2).
std::unique_ptr<LoadedLibrary> buildAndLoad(const std::vector<KernelSpec> &kernels,
                                            const std::string &target, std::string *error);

// Runs |fn| over work items [0, grid) split into |slices| consecutive calls.
void runSliced(tern_cpu_kernel_fn fn, const std::vector<void *> &bindings, int64_t rows,
               int64_t pos, int64_t grid, int64_t slices);

// Fills with NaN so that any output the kernel fails to write shows up.
inline void poison(std::vector<float> &v) {
  std::fill(v.begin(), v.end(), std::numeric_limits<float>::quiet_NaN());
}

// Random floats in [-scale, scale].
std::vector<float> randomFloats(std::mt19937 &rng, size_t count, float scale = 1.0f);

// Relative error of |got| vs |want| measured against |magnitude| (e.g. sum |x_i w_i|), so
// float summation order differences in cancelling sums do not count as errors.
inline bool closeRelative(float got, double want, double magnitude, double tolerance) {
  if (std::isnan(got))
    return false;
  return std::fabs(double(got) - want) <= tolerance * std::max(magnitude, 1e-30);
}

} // namespace tern::cpu::test

#endif
