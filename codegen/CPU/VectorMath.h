// f32 math for generated kernels that needs no libm and no SSE4.1 (exp for softmax and sigmoids).
//
// The math dialect's polynomial exp uses math.floor and math.fma, which on the x86-64 baseline
// become calls to floorf and fmaf that a kernel library cannot resolve. This exp rounds with
// the add-and-subtract trick instead and uses FMA only where the target has it.
#ifndef TERN_CODEGEN_CPU_VECTORMATH_H
#define TERN_CODEGEN_CPU_VECTORMATH_H

#include "codegen/CPU/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

namespace tern::cpu {

// Whether |target| has fused multiply-add instructions.
inline bool hasFMA(const CpuTarget &target) { return target.hasAVX2 || target.hasAVX512; }

// a * b + c: fused where the target has FMA, otherwise rounded twice.
inline mlir::Value mulAdd(mlir::ImplicitLocOpBuilder &b, mlir::Value a, mlir::Value x,
                          mlir::Value c, bool fma) {
  if (fma)
    return mlir::math::FmaOp::create(b, a, x, c);
  return mlir::arith::AddFOp::create(b, mlir::arith::MulFOp::create(b, a, x), c);
}

// exp(x) for an f32 scalar or vector, within about 2 ulp. Overflows to +inf above ~88.7 and
// goes smoothly through subnormals to +0 below ~-103.
inline mlir::Value expF32(mlir::ImplicitLocOpBuilder &b, mlir::Value x, bool fma) {
  using namespace mlir;
  Type type = x.getType();
  Type i32 = b.getI32Type();
  if (auto vec = dyn_cast<VectorType>(type))
    i32 = VectorType::get(vec.getShape(), i32);
  auto f = [&](double v) { return constFloat(b, type, v); };
  auto i = [&](int64_t v) { return constInt(b, i32, v); };

  // Past these bounds the result is already inf / 0; clamping keeps 2^n in range of the
  // two-step scaling below. Compare-and-select (no libm fminf/fmaxf) lets NaN through.
  Value low = f(-104.0), high = f(89.0);
  Value clamped = arith::SelectOp::create(
      b, arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, x, low), low, x);
  clamped = arith::SelectOp::create(
      b, arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, clamped, high), high, clamped);
  // n = round(x / ln 2); |x / ln 2| < 2^22, so adding 1.5 * 2^23 leaves an integer.
  Value magic = f(12582912.0);
  Value n = arith::SubFOp::create(
      b, mulAdd(b, clamped, f(1.4426950408889634), magic, /*fma=*/false), magic);
  // r = x - n ln 2 in two steps (Cody-Waite): n * ln2Hi is exact, ln2Hi having 9 bits.
  const double ln2Hi = 0.693359375, ln2Lo = -2.12194440054690583e-4;
  Value r = mulAdd(b, n, f(-ln2Hi), clamped, fma);
  r = mulAdd(b, n, f(-ln2Lo), r, fma);
  // exp(r) for |r| <= ln 2 / 2 by its Taylor series to r^7 (truncation below 2^-27).
  Value p = f(1.0 / 5040.0);
  for (double c : {1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0})
    p = mulAdd(b, p, r, f(c), fma);
  // 2^n as two powers of two of at most 2^65 each, so neither overflows nor is subnormal; the
  // last multiplication rounds once into the subnormal or infinite result.
  Value ni = arith::FPToSIOp::create(b, i32, n);
  Value n1 = arith::ShRSIOp::create(b, ni, i(1));
  Value n2 = arith::SubIOp::create(b, ni, n1);
  auto pow2 = [&](Value e) -> Value {
    return arith::BitcastOp::create(
        b, type, arith::ShLIOp::create(b, arith::AddIOp::create(b, e, i(127)), i(23)));
  };
  return arith::MulFOp::create(b, arith::MulFOp::create(b, p, pow2(n1)), pow2(n2));
}

} // namespace tern::cpu

#endif
