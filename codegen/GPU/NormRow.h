// The row of the rms_norm family group (rms_norm, rms_norm_quantize, layer_norm,
// quantize_act): parsed parameters, bound pointers and the code that normalizes one row with a
// whole block. RmsNorm.cpp runs one row per block; the ternary matmul with a norm tail
// (TernaryMatmulNorm.cpp) runs the rows in the block that finishes last.
#ifndef TERN_CODEGEN_GPU_NORMROW_H
#define TERN_CODEGEN_GPU_NORMROW_H

#include "KernelSpec.h"
#include "codegen/GPU/GPUCodegen.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace tern::gpu {

struct NormRow {
  std::string family;
  int64_t width = 0;
  double eps = 0;          // as the reference uses it: the spec's value rounded to float
  bool layer = false, norm = false, quantize = false, hasBias = false;
  bool residual = false, gated = false;
  int64_t inStride = 0;    // row stride of gate and up (gated), else the width
  // The family's bindings (docs/kernels.md); null where the family has none.
  mlir::Value x, residualIn, up, w, bias, y, q, qscale, sum;
};

// Parses |spec|'s norm parameters; the error names the parameter.
llvm::Expected<NormRow> parseNormRow(const KernelSpec &spec);
// The number of bindings the norm takes.
int normRowBindings(const NormRow &row);
// Sets the binding pointers of |row| from |bindings|, in the family's order.
void bindNormRow(NormRow &row, mlir::ValueRange bindings);
// Threads of a block that norm kernels launch for |width| floats per row.
int64_t normThreadsFor(int64_t width);
// sm_90: thread |tid| of a block of |threads| asks its SM's L1 for its share of the weight
// vector (weights only: L1 is not coherent).
void prefetchNormWeights(mlir::ImplicitLocOpBuilder &b, const NormRow &row, mlir::Value tid,
                         int64_t threads);
// Normalizes row |row| (i64) with every thread of a block of |threads| (whole warps). Every
// thread of the block must reach it: it synchronizes the block.
void emitNormRow(mlir::gpu::GPUFuncOp fn, mlir::ImplicitLocOpBuilder &b, const NormRow &row,
                 mlir::Value rowIndex, int64_t threads);

} // namespace tern::gpu

#endif
