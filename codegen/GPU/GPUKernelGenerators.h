// One generator and one launch rule per kernel family (docs/kernels.md) for the PTX backend.
#ifndef TERN_CODEGEN_GPU_GPUKERNELGENERATORS_H
#define TERN_CODEGEN_GPU_GPUKERNELGENERATORS_H

#include "KernelSpec.h"
#include "codegen/GPU/GPUCodegen.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Support/LogicalResult.h"

namespace tern::gpu {

// Every generator receives |fn|, a kernel with the ABI's arguments (one !llvm.ptr per binding
// of the family, in docs/kernels.md's order, then the call record) and an empty entry block,
// and emits code specialized on |spec| for |target|. It must agree with its family's launch
// rule, which sees the same |spec| and the entry point's largest row count; the kernel itself
// reads the call's rows (GpuKernelArgs::rows) and must be correct for any rows from 1 to
// that maximum. Unsupported parameters give an error (gpuKernelError) naming the parameter.
using GpuGenerator = mlir::LogicalResult (*)(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                             const GpuTarget &target);
using GpuLaunchRule = llvm::Expected<LaunchShape> (*)(const KernelSpec &spec, int64_t maxRows,
                                                      const GpuTarget &target);

// The symbol of a variant of |spec|'s kernel: |infix| before the family's name that ends the
// symbol (`tern_k4_ternary_matmul`, "_one_row" -> `tern_k4_one_row_ternary_matmul`), or
// appended when the symbol does not end with it.
std::string variantSymbol(const KernelSpec &spec, llvm::StringRef infix);

#define TERN_GPU_FAMILY(Name)                                                                  \
  mlir::LogicalResult generate##Name(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,          \
                                     const GpuTarget &target);                                 \
  llvm::Expected<LaunchShape> launch##Name(const KernelSpec &spec, int64_t maxRows,            \
                                          const GpuTarget &target);

TERN_GPU_FAMILY(Elementwise)     // add, mul, bias_add, relu, relu2, silu, gelu, glu
TERN_GPU_FAMILY(RmsNorm)         // rms_norm, rms_norm_quantize, layer_norm, quantize_act
TERN_GPU_FAMILY(Embedding)       // embedding, position_embedding (Embedding.cpp)
TERN_GPU_FAMILY(Rope)            // Rope.cpp
TERN_GPU_FAMILY(KVCacheWrite)    // KVCacheWrite.cpp
TERN_GPU_FAMILY(RopeKVCacheWrite) // RopeKVCacheWrite.cpp
TERN_GPU_FAMILY(Attention)       // Attention.cpp
TERN_GPU_FAMILY(TernaryMatmul)   // TernaryMatmul.cpp
TERN_GPU_FAMILY(Matmul)          // Matmul.cpp (f32, f16, bf16, q8_0 weights)
TERN_GPU_FAMILY(QuantizedMatmul) // QuantizedMatmul.cpp (q8_b32, q6_b32, q4_b32)

#undef TERN_GPU_FAMILY

// Bindings of |family| (docs/kernels.md), or -1 for a family this backend does not know.
// Optional bindings (layer_norm's bias) are not counted.
int bindingCount(llvm::StringRef family);

} // namespace tern::gpu

#endif
