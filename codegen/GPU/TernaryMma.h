// The prefill (rows > 1) of ternary_matmul on int8 tensor cores: mma.sync m16n8k32 (sm_80 and
// later), for i2_b128 rows whose width is a multiple of 128.
#ifndef TERN_CODEGEN_GPU_TERNARYMMA_H
#define TERN_CODEGEN_GPU_TERNARYMMA_H

#include "codegen/GPU/GPUKernelBuilder.h"

#include <functional>

namespace tern::gpu {

struct TernaryMmaShape {
  int64_t n = 0, k = 0; // weight rows, and weights per row
  int64_t rowBytes = 0; // bytes of an i2_b128 weight row
};

// Whether the tensor-core path takes the prefill of |shape| (whole 128-weight blocks).
bool ternaryMmaApplies(const TernaryMmaShape &shape);
// Blocks of 4 warps that cover |maxRows| activation rows: tiles of 64 rows x 32 weight rows.
int64_t ternaryMmaBlocks(const TernaryMmaShape &shape, int64_t maxRows);

// y[t][j] from the exact dot (i32) of activation row |t| and weight row |j| (i32 indices).
using MmaFinish =
    std::function<mlir::Value(mlir::ImplicitLocOpBuilder &, mlir::Value dot, mlir::Value t,
                              mlir::Value j)>;

// Emits block |bid|'s tile (blocks of 128 threads): int8 activations |q| (rows, k) against the
// i2_b128 |weights|, written to |out| (rows, n) through |finish|.
void emitTernaryMmaPrefill(mlir::ImplicitLocOpBuilder &b, const TernaryMmaShape &shape,
                           mlir::Value bid, mlir::Value rows, mlir::Value q, mlir::Value weights,
                           mlir::Value out, const MmaFinish &finish);

} // namespace tern::gpu

#endif
