// The PTX backend's entry points: GPU targets, launch shapes and PTX for a list of kernels.
#ifndef TERN_CODEGEN_GPU_GPUCODEGEN_H
#define TERN_CODEGEN_GPU_GPUCODEGEN_H

#include "KernelSpec.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace tern::gpu {

// An NVIDIA GPU the kernels are generated for.
struct GpuTarget {
  std::string name;     // as the user wrote it: sm_80, sm_90, sm_90a
  std::string chip;     // LLVM NVPTX CPU name: sm_80, sm_90, sm_90a
  std::string features; // LLVM feature string: the PTX ISA version, e.g. +ptx80
  int computeCapability = 0; // 80, 90: what the kernels may use
};

// Whether |name| names a GPU target (sm_NN...), known or not: the driver picks the backend.
bool isGpuTargetName(llvm::StringRef name);

// Resolves `sm_80`, `sm_90` or `sm_90a`; other names give an error listing these.
llvm::Expected<GpuTarget> resolveGpuTarget(llvm::StringRef name);

// How one dispatch of a kernel is launched: grid (x, y, z) blocks of block (x, y, z) threads,
// written to KernelDispatch.grid in that order (runtime/include/tern/kernel_abi.h).
struct LaunchShape {
  std::array<uint32_t, 3> grid{1, 1, 1};
  std::array<uint32_t, 3> block{1, 1, 1};
};

// The launch shape of |spec|'s kernel for |target| in an entry point whose calls take up to
// |maxRows| rows. Kernels read the call's actual rows and leave the rest of the grid idle.
llvm::Expected<LaunchShape> launchShape(const KernelSpec &spec, int64_t maxRows,
                                        const GpuTarget &target);

// The variant of |spec|'s kernel for dispatches that always run one activation row (the
// decode entry point, and the last-row dispatches of prefill): |spec| with parameter
// one_row = 1 and its own symbol (`tern_k4_ternary_matmul` -> `tern_k4_one_row_ternary_matmul`).
// The row-dot matmul families have one (ternary_matmul, matmul, quantized_matmul: decode's
// tile alone fits fewer registers, so more blocks run at once); other families give nothing.
std::optional<KernelSpec> oneRowVariant(const KernelSpec &spec);

// The rope_kv_attention kernel that runs |ropeKV| (rope_kv_cache_write) and then |attention|
// as one dispatch of one query row (the decode entry point), when the two agree on the layout
// (the rope's heads are attention's query heads followed by its kv heads, read with attention's
// q stride) and each rotated pair lies in one lane's chunks of the attention kernel; its symbol
// is the attention's with the family renamed (`tern_k5_attention` -> `tern_k5_rope_kv_attention`).
std::optional<KernelSpec> ropeKVAttentionVariant(const KernelSpec &ropeKV,
                                                 const KernelSpec &attention);

// Generates every kernel of |kernels| in one gpu.module (gpu, nvvm, scf, arith, llvm
// dialects), lowers it with convert-gpu-to-nvvm, translates it to LLVM IR and compiles that
// with LLVM's NVPTX backend in process. Returns the PTX text of the module: one `.entry` per
// KernelSpec::symbol with the kernel ABI's parameters.
llvm::Expected<std::string> buildPtxLibrary(llvm::ArrayRef<KernelSpec> kernels,
                                            const GpuTarget &target);

// The same kernels as text for reading and lit tests: |stage| is "mlir" (generated kernel
// IR), "llvm" (optimized LLVM IR) or "ptx".
llvm::Expected<std::string> emitGpuKernels(llvm::ArrayRef<KernelSpec> kernels,
                                           const GpuTarget &target, llvm::StringRef stage);

} // namespace tern::gpu

#endif
