// The AMX-INT8 part of ternary_matmul: prefill rows of i2_b128 weights on tile registers.
#ifndef TERN_CODEGEN_CPU_TERNARYMATMULAMX_H
#define TERN_CODEGEN_CPU_TERNARYMATMULAMX_H

#include "codegen/CPU/CPUCodegen.h"
#include "codegen/CPU/TernaryPrefill.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace tern::cpu {

// Activation rows the AMX path takes at a time (two 16-row tiles); rows past the last multiple
// go to the vector path.
constexpr int64_t kAmxRowStep = 32;

// Whether the AMX path takes the prefill rows of a ternary_matmul with these parameters: the
// target has AMX, k is whole 64-byte tile rows (so no tile reads past an activation row) and
// n_block whole pairs of 16-row weight tiles.
bool amxTernaryApplies(const CpuTarget &target, int64_t k, int64_t nBlock);

// What the AMX path reads and writes: the activation codes as a raw pointer (rows of k bytes,
// for the tile loads), the rest as the kernel's flat memrefs.
struct AmxTernaryOperands {
  mlir::Value qPtr;   // !llvm.ptr, (rows, k) int8
  mlir::Value qscale; // memref (rows) f32
  mlir::Value w;      // memref (n * rowBytes) i8, i2_b128
  mlir::Value wscale; // memref (n) f32
  mlir::Value y;      // memref (rows * n) f32
};

// Stack buffers of the AMX path, allocated once at the kernel's entry: the unpacked weight
// tiles of 32 weight rows over all of k (k / 32 KiB) and the four accumulators read back by
// the epilogue (4 KiB).
struct AmxScratch {
  mlir::Value weightTiles, accumulators; // !llvm.ptr
};
AmxScratch allocateAmxScratch(mlir::ImplicitLocOpBuilder &b, const TernaryPrefillShape &shape);

// Computes output rows [0, amxRows) x columns [firstCol, lastCol) (lastCol - firstCol a
// multiple of 32), with amxRows = rows rounded down to kAmxRowStep (index values); returns
// amxRows, where the vector path starts. Emits nothing that runs when amxRows is 0.
mlir::Value emitAmxTernaryRows(mlir::ImplicitLocOpBuilder &b, const TernaryPrefillShape &shape,
                               const AmxTernaryOperands &ops, const AmxScratch &scratch,
                               mlir::Value rows, mlir::Value firstCol, mlir::Value lastCol);

} // namespace tern::cpu

#endif
