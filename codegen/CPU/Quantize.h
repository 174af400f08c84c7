// Per-row int8 activation quantization, shared by quantize_act and rms_norm_quantize.
#ifndef TERN_CODEGEN_CPU_QUANTIZE_H
#define TERN_CODEGEN_CPU_QUANTIZE_H

#include "codegen/CPU/KernelBuilder.h"

namespace tern::cpu {

// Produces |lanes| f32 values of the row being quantized, starting at column |offset|.
using RowValues =
    std::function<mlir::Value(mlir::ImplicitLocOpBuilder &, mlir::Value offset, int64_t lanes)>;

// Quantizes one row of |width| values given by |values| (read twice: once for the absolute
// maximum, once to round): s = 127 / max(absmax, 1e-5), q = clamp(roundeven(x * s), -128, 127),
// written to |q| (1-D i8) at |qBase| and s to |qscale| (1-D f32) at |row|. Bit-exact with
// tern::ref::quantizeActivations for the same float inputs.
void emitQuantizeRow(mlir::ImplicitLocOpBuilder &b, const CpuTarget &target, int64_t width,
                     const RowValues &values, mlir::Value q, mlir::Value qBase,
                     mlir::Value qscale, mlir::Value row);

} // namespace tern::cpu

#endif
