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
#include "mlir/Dialect/Vector/IR/VectorOps.h"

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

// max(a, b) as compare and select, which x86 does in one instruction (maxnum's NaN rules take
// several, and vector.reduction <maxnumf> becomes a serial chain of them).
inline mlir::Value maxOf(mlir::ImplicitLocOpBuilder &b, mlir::Value x, mlir::Value y) {
  using namespace mlir;
  return arith::SelectOp::create(b, arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, x, y), x,
                                 y);
}

// Each lane gets the maximum of its aligned segment of |segment| lanes (a power of two), by a
// butterfly of shuffles: the segment maxima come out already broadcast.
inline mlir::Value segmentMax(mlir::ImplicitLocOpBuilder &b, mlir::Value v, int64_t segment) {
  using namespace mlir;
  const int64_t n = cast<VectorType>(v.getType()).getNumElements();
  for (int64_t step = segment / 2; step >= 1; step /= 2) {
    SmallVector<int64_t> mask;
    for (int64_t i = 0; i < n; ++i)
      mask.push_back(i ^ step);
    v = maxOf(b, v, vector::ShuffleOp::create(b, v, v, mask));
  }
  return v;
}

// exp(x) for softmax weights, x = score - running maximum <= 0 (or -inf), to about 2e-7
// relative: Cody-Waite reduction to r in [-ln2/2, ln2/2], a degree-6 Taylor polynomial, and 2^n
// added to the exponent bits. x is clamped at -86 so 2^n never leaves the normal range (the
// weight of such a position, < 3e-38 against at least one weight of 1, is lost in rounding);
// masked lanes select 0 themselves. Half the operations of the general expF32.
inline mlir::Value softmaxExp(mlir::ImplicitLocOpBuilder &b, mlir::Value x, bool fma) {
  using namespace mlir;
  Type type = x.getType();
  auto f = [&](double v) { return constFloat(b, type, v); };
  Type i32 = b.getI32Type();
  if (auto vec = dyn_cast<VectorType>(type))
    i32 = VectorType::get(vec.getShape(), i32);
  x = maxOf(b, x, f(-86.0));
  // t = 1.5 * 2^23 + n: the low mantissa bits of t hold n = round(x / ln 2) in two's complement.
  Value magic = f(12582912.0);
  Value t = mulAdd(b, x, f(1.4426950408889634), magic, fma);
  Value n = arith::SubFOp::create(b, t, magic);
  Value r = mulAdd(b, n, f(-0.693359375), x, fma); // n * ln2Hi is exact (9 bits)
  r = mulAdd(b, n, f(2.12194440054690583e-4), r, fma);
  Value p = f(1.0 / 720.0);
  for (double c : {1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0})
    p = mulAdd(b, p, r, f(c), fma);
  Value scaleBits =
      arith::ShLIOp::create(b, arith::BitcastOp::create(b, i32, t), constInt(b, i32, 23));
  return arith::BitcastOp::create(
      b, type, arith::AddIOp::create(b, arith::BitcastOp::create(b, i32, p), scaleBits));
}

} // namespace tern::cpu

#endif
