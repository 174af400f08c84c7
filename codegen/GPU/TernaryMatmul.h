// The ternary_matmul kernel body (TernaryMatmul.cpp), for kernels that run it with more work
// after it (TernaryMatmulNorm.cpp).
#ifndef TERN_CODEGEN_GPU_TERNARYMATMUL_H
#define TERN_CODEGEN_GPU_TERNARYMATMUL_H

#include "codegen/GPU/GPUKernelBuilder.h"

#include <functional>

namespace tern::gpu {

// Emits ternary_matmul of |spec| (its parameters) on |bindings| (q, qscale, weights, wscale,
// y) into |fn| after beginGpuKernel; |extraPrefetches|, if set, runs with the weight prefetch
// before the dependent-launch wait. Every thread of every block leaves it.
mlir::LogicalResult emitTernaryMatmul(mlir::gpu::GPUFuncOp fn, mlir::ImplicitLocOpBuilder &b,
                                      const KernelSpec &spec, const GpuKernelArgs &args,
                                      mlir::ValueRange bindings, const GpuTarget &target,
                                      const std::function<void(mlir::ImplicitLocOpBuilder &)>
                                          &extraPrefetches);

} // namespace tern::gpu

#endif
