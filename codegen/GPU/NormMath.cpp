// The arithmetic of rms_norm and activation quantization (see NormMath.h).
#include "codegen/GPU/NormMath.h"
#include "codegen/GPU/GPUKernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace tern::gpu {

using namespace mlir;

Value constF64(ImplicitLocOpBuilder &b, double v) {
  return arith::ConstantOp::create(b, b.getF64Type(), b.getF64FloatAttr(v));
}

Value quantizeScale(ImplicitLocOpBuilder &b, Value absMax) {
  return arith::DivFOp::create(b, constF32(b, 127.0), maxF(b, absMax, constF32(b, 1e-5)));
}

Value codeOf(ImplicitLocOpBuilder &b, Value v, Value s) {
  Value r = roundHalfEven(b, arith::MulFOp::create(b, v, s));
  r = minF(b, maxF(b, r, constF32(b, -128.0)), constF32(b, 127.0));
  return arith::TruncIOp::create(b, b.getI8Type(),
                                 arith::FPToSIOp::create(b, b.getI32Type(), r));
}

Value inverseRms(ImplicitLocOpBuilder &b, Value total, int64_t width, double eps) {
  Value meanSquare = arith::DivFOp::create(b, total, constF64(b, double(width)));
  Value shifted = arith::AddFOp::create(b, meanSquare, constF64(b, eps));
  Value r = arith::DivFOp::create(b, constF64(b, 1.0), sqrtRn(b, shifted));
  return arith::TruncFOp::create(b, b.getF32Type(), r);
}

Value normalized(ImplicitLocOpBuilder &b, Value x, Value mean, Value inv, Value w, Value bias) {
  Value c = x;
  if (mean)
    c = arith::TruncFOp::create(
        b, b.getF32Type(),
        arith::SubFOp::create(b, arith::ExtFOp::create(b, b.getF64Type(), c), mean));
  Value v = arith::MulFOp::create(b, arith::MulFOp::create(b, c, inv), w);
  return bias ? Value(arith::AddFOp::create(b, v, bias)) : v;
}

} // namespace tern::gpu
