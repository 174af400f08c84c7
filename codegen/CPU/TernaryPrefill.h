// What the prefill paths of ternary_matmul that take whole steps of activation rows (AMX tiles,
// lookup tables) share with the vector path that takes the rest.
#ifndef TERN_CODEGEN_CPU_TERNARYPREFILL_H
#define TERN_CODEGEN_CPU_TERNARYPREFILL_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <cstdint>
#include <functional>

namespace tern::cpu {

// The i2_b128 matrix of a ternary_matmul.
struct TernaryPrefillShape {
  int64_t n, k, rowBytes; // rowBytes: one packed row (k padded to 128, / 4)
  bool divideByScale;
};

// Emits |steps| (under an scf.if, so nothing runs for fewer rows than one step) for the call's
// first stepRows = rows rounded down to |step| rows, and returns stepRows: where the vector
// path starts.
mlir::Value emitWholeRowSteps(mlir::ImplicitLocOpBuilder &b, mlir::Value rows, int64_t step,
                              const std::function<void(mlir::ImplicitLocOpBuilder &,
                                                       mlir::Value stepRows)> &steps);

} // namespace tern::cpu

#endif
