// The lookup-table part of ternary_matmul on AVX2 without AVX-512: prefill rows of i2_b128
// weights summed from tables of activation triples, read through the load ports.
#ifndef TERN_CODEGEN_CPU_TERNARYMATMULLUT_H
#define TERN_CODEGEN_CPU_TERNARYMATMULLUT_H

#include "codegen/CPU/CPUCodegen.h"
#include "codegen/CPU/TernaryPrefill.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace tern::cpu {

// Activation rows the table path takes at a time (one int16 lane each in two ymm registers);
// rows past the last multiple go to the vector path.
constexpr int64_t kLutRowStep = 32;

// The longest rows the table path takes: its transposed activations are k x 32 bytes of stack
// (512 KiB here); longer rows keep the vector path.
constexpr int64_t kLutMaxK = 16384;

// Whether the table path takes the prefill rows of a ternary_matmul with rows of k weights.
bool lutTernaryApplies(const CpuTarget &target, int64_t k);

struct LutTernaryOperands {
  mlir::Value q;      // memref (rows * k) i8, the activation codes
  mlir::Value qscale; // memref (rows) f32
  mlir::Value wPtr;   // !llvm.ptr, (n, rowBytes) i2_b128
  mlir::Value wscale; // memref (n) f32
  mlir::Value y;      // memref (rows * n) f32
};

// Stack buffers of the table path, allocated once at the kernel's entry: 32 activation rows
// transposed to (k padded, 32) int8 (k KiB / 32: 216 KiB for k = 6912), the tables of one
// 32-weight step (29 KiB), and for one block of 1024 weight rows the int16 sums of the current
// 128 weights (64 KiB) and the int32 dots (128 KiB).
struct LutScratch {
  mlir::Value activations, tables, partials, dots; // !llvm.ptr
};
LutScratch allocateLutScratch(mlir::ImplicitLocOpBuilder &b, const TernaryPrefillShape &shape);

// Computes output rows [0, lutRows) x columns [firstCol, lastCol) (index values), with
// lutRows = rows rounded down to kLutRowStep; returns lutRows, where the vector path starts.
// Emits nothing that runs when lutRows is 0.
mlir::Value emitLutTernaryRows(mlir::ImplicitLocOpBuilder &b, const TernaryPrefillShape &shape,
                               const LutTernaryOperands &ops, const LutScratch &scratch,
                               mlir::Value rows, mlir::Value firstCol, mlir::Value lastCol);

} // namespace tern::cpu

#endif
