// The arithmetic of rms_norm and activation quantization on the GPU, shared by the norm
// kernels and the ternary matmul that quantizes its row from the norm's statistics: each
// step in the reference's order and precision, so that int8 codes match it.
#ifndef TERN_CODEGEN_GPU_NORMMATH_H
#define TERN_CODEGEN_GPU_NORMMATH_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace tern::gpu {

mlir::Value constF64(mlir::ImplicitLocOpBuilder &b, double v);
// s = 127 / max(absmax, 1e-5) in float (div.rn), as quantize_act computes it.
mlir::Value quantizeScale(mlir::ImplicitLocOpBuilder &b, mlir::Value absMax);
// The int8 code of |v| at scale |s|: clamp(round_half_even(v * s), -128, 127).
mlir::Value codeOf(mlir::ImplicitLocOpBuilder &b, mlir::Value v, mlir::Value s);
// rms_norm: inv = float(1 / sqrt(total / width + eps)) in double, total the row's sum of
// squares (f64; layer_norm: of the centered values). The order of the double additions
// differs from the reference's; its rounding error (~width * 2^-53 relative) changes the float
// inv only when the exact value lies that close to a rounding boundary of float, about once
// in 10^8 rows.
mlir::Value inverseRms(mlir::ImplicitLocOpBuilder &b, mlir::Value total, int64_t width,
                       double eps);
// One normalized value: c * inv * w (two float multiplies, in that order, then the bias's
// add when |bias| is set), with c = x or float(x - mean) in double when |mean| is set.
mlir::Value normalized(mlir::ImplicitLocOpBuilder &b, mlir::Value x, mlir::Value mean,
                       mlir::Value inv, mlir::Value w, mlir::Value bias);

} // namespace tern::gpu

#endif
