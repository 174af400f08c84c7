// rms_norm and rms_norm_quantize: y = x / sqrt(mean(x^2) + eps) * w, then optionally int8 codes.
#include "codegen/CPU/KernelGenerators.h"
#include "codegen/CPU/Quantize.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace tern::cpu {

using namespace mlir;

LogicalResult generateRmsNorm(func::FuncOp fn, const KernelSpec &spec, const CpuTarget &target) {
  const bool quantize = spec.family == "rms_norm_quantize";
  const int64_t width = spec.getInt("width");
  if (width <= 0)
    return kernelError(fn, spec, "parameter 'width' must be positive, got " +
                                     llvm::Twine(width));
  // The reference adds the float eps to a double mean; do the same.
  const double eps = static_cast<double>(static_cast<float>(spec.getFloat("eps", 1e-6)));
  const int64_t lanes = f32Lanes(target);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  Value total = arith::MulIOp::create(b, args.rows, constIndex(b, width));
  Value x = bindFlat(b, args, 0, f32, total); // (rows, width)
  Value w = bindFlat(b, args, 1, f32, width); // (width)
  Value y, q, qscale;
  if (quantize) {
    q = bindFlat(b, args, 2, b.getI8Type(), total);  // (rows, width)
    qscale = bindFlat(b, args, 3, f32, args.rows);   // (rows)
  } else {
    y = bindFlat(b, args, 2, f32, total); // (rows, width), may alias x
  }

  forLoop(b, constIndex(b, 0), args.rows, constIndex(b, 1), [&](ImplicitLocOpBuilder &rb, Value t) {
    Value base = arith::MulIOp::create(rb, t, constIndex(rb, width));
    // Sum of squares in double, as the reference does: the codes that follow feed exact
    // integer matmuls, so the normalized values should round the same way.
    auto accType = VectorType::get({lanes}, f64);
    SmallVector<Value> sums = forChunks(
        rb, width, lanes, ValueRange{constFloat(rb, accType, 0.0), constFloat(rb, f64, 0.0)},
        [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n,
            ValueRange c) -> SmallVector<Value> {
          Value v = loadVector(nb, x, arith::AddIOp::create(nb, base, offset), n);
          Value d = extF(nb, VectorType::get({n}, f64), v);
          if (n == lanes)
            return {vector::FMAOp::create(nb, d, d, c[0]), c[1]};
          return {c[0], arith::AddFOp::create(nb, c[1],
                                              reduceAdd(nb, arith::MulFOp::create(nb, d, d)))};
        });
    Value sum = arith::AddFOp::create(rb, reduceAdd(rb, sums[0]), sums[1]);
    Value mean = arith::DivFOp::create(rb, sum, constFloat(rb, f64, double(width)));
    Value root = math::SqrtOp::create(rb, arith::AddFOp::create(rb, mean, constFloat(rb, f64, eps)));
    Value inv = arith::TruncFOp::create(
        rb, f32, arith::DivFOp::create(rb, constFloat(rb, f64, 1.0), root));

    // (x * inv) * w in this order, like the reference.
    auto normalized = [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n) -> Value {
      auto vt = VectorType::get({n}, f32);
      Value v = loadVector(nb, x, arith::AddIOp::create(nb, base, offset), n);
      Value scaled = arith::MulFOp::create(nb, v, vector::BroadcastOp::create(nb, vt, inv));
      return arith::MulFOp::create(nb, scaled, loadVector(nb, w, offset, n));
    };
    if (quantize) {
      emitQuantizeRow(rb, target, width, normalized, q, base, qscale, t);
      return;
    }
    forChunks(rb, width, lanes, ValueRange{},
              [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n, ValueRange) {
                storeVector(nb, normalized(nb, offset, n), y,
                            arith::AddIOp::create(nb, base, offset));
                return SmallVector<Value>{};
              });
  });
  return success();
}

} // namespace tern::cpu
