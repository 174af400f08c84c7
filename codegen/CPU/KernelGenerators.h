// One generator per kernel family (docs/kernels.md): each fills the body of a kernel function.
#ifndef TERN_CODEGEN_CPU_KERNELGENERATORS_H
#define TERN_CODEGEN_CPU_KERNELGENERATORS_H

#include "KernelSpec.h"
#include "codegen/CPU/CPUCodegen.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/LogicalResult.h"

namespace tern::cpu {

// Every generator receives |fn| with the kernel ABI's signature
//   (%bindings: !llvm.ptr, %rows: i64, %pos: i64, %begin: i64, %end: i64) -> ()
// and an empty entry block, and emits code specialized on |spec|'s parameters for |target|.
// Unsupported parameters give an error on |fn| naming the family and the parameter.
mlir::LogicalResult generateTernaryMatmul(mlir::func::FuncOp fn, const KernelSpec &spec,
                                          const CpuTarget &target);
// The same on tl2_t64 weights (lookup tables, AVX-512 VBMI); generateTernaryMatmul calls it.
mlir::LogicalResult generateTernaryMatmulTl2(mlir::func::FuncOp fn, const KernelSpec &spec,
                                             const CpuTarget &target);
mlir::LogicalResult generateMatmul(mlir::func::FuncOp fn, const KernelSpec &spec,
                                   const CpuTarget &target);
// int8 activations x block-quantized (q8_b32, q6_b32, q4_b32) weights: the quantized lm_head.
mlir::LogicalResult generateQuantizedMatmul(mlir::func::FuncOp fn, const KernelSpec &spec,
                                            const CpuTarget &target);
// rms_norm, rms_norm_quantize, layer_norm.
mlir::LogicalResult generateRmsNorm(mlir::func::FuncOp fn, const KernelSpec &spec,
                                    const CpuTarget &target);
mlir::LogicalResult generateQuantizeAct(mlir::func::FuncOp fn, const KernelSpec &spec,
                                        const CpuTarget &target);
// embedding (rows by token id) and position_embedding (rows pos, pos + 1, ...).
mlir::LogicalResult generateEmbedding(mlir::func::FuncOp fn, const KernelSpec &spec,
                                      const CpuTarget &target);
mlir::LogicalResult generateRope(mlir::func::FuncOp fn, const KernelSpec &spec,
                                 const CpuTarget &target);
mlir::LogicalResult generateKVCacheWrite(mlir::func::FuncOp fn, const KernelSpec &spec,
                                         const CpuTarget &target);
mlir::LogicalResult generateAttention(mlir::func::FuncOp fn, const KernelSpec &spec,
                                      const CpuTarget &target);
// add, mul, bias_add, relu, relu2, silu, gelu, glu.
mlir::LogicalResult generateElementwise(mlir::func::FuncOp fn, const KernelSpec &spec,
                                        const CpuTarget &target);

} // namespace tern::cpu

#endif
