// Kernel bodies that other kernels run with more work after them (FusedNorm.cpp): each emits
// its family's code on |bindings| (the family's, in docs/kernels.md's order) into |fn| after
// beginGpuKernel. |extraPrefetches|, if set, runs with the family's own prefetches before the
// dependent-launch wait on sm_90 (it must read nothing a dispatch writes). Every thread of
// every block leaves the body.
#ifndef TERN_CODEGEN_GPU_KERNELBODIES_H
#define TERN_CODEGEN_GPU_KERNELBODIES_H

#include "codegen/GPU/GPUKernelBuilder.h"

#include <functional>

namespace tern::gpu {

using PrefetchHook = std::function<void(mlir::ImplicitLocOpBuilder &)>;

// ternary_matmul (TernaryMatmul.cpp): q, qscale, weights, wscale, y.
mlir::LogicalResult emitTernaryMatmul(mlir::gpu::GPUFuncOp fn, mlir::ImplicitLocOpBuilder &b,
                                      const KernelSpec &spec, const GpuKernelArgs &args,
                                      mlir::ValueRange bindings, const GpuTarget &target,
                                      const PrefetchHook &extraPrefetches);
// attention (Attention.cpp): q, key cache, value cache, out. Its prefetches before the wait
// (and so |extraPrefetches|) exist only where its blocks form clusters (sm_90).
mlir::LogicalResult emitAttention(mlir::gpu::GPUFuncOp fn, mlir::ImplicitLocOpBuilder &b,
                                  const KernelSpec &spec, const GpuKernelArgs &args,
                                  mlir::ValueRange bindings, const GpuTarget &target,
                                  const PrefetchHook &extraPrefetches);

} // namespace tern::gpu

#endif
