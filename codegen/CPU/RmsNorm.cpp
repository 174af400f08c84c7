// rms_norm, rms_norm_quantize and layer_norm: y = x / sqrt(mean(x^2) + eps) * w (rms), or
// y = (x - mean) / sqrt(var + eps) * w (+ b) (layer), then optionally int8 codes (rms only).
// The rms families may first add a residual (residual = 1): s = x + residual is stored and
// normalized, the f32 addition of the add family. Or they normalize a gated product
// (gated = 1, activation = relu2): relu2(gate) * up, computed as the glu family computes it
// and not stored; gate and up have the row stride in_stride.
//
// One generator: layer_norm is rms_norm of the centered row plus an optional bias, so both
// share the double accumulation and the multiply order of their reference twins.
#include "codegen/Common/CodegenSupport.h"
#include "codegen/CPU/KernelGenerators.h"
#include "codegen/CPU/Quantize.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace tern::cpu {

using namespace mlir;
using codegen::FusedNormInput;
using codegen::readFusedNormInput;

namespace {

// The f32 values of one row at a chunk's offset: x, or a gated product computed from two rows.
using RowLoader = llvm::function_ref<Value(ImplicitLocOpBuilder &, Value offset, int64_t n)>;

// Vectors a row's sums advance at once: one vector's chain of dependent adds bounded the norms
// at the add's latency per vector (rms_norm_quantize took 0.9 ns per value on Zen 2 with one).
constexpr int64_t kSumChains = 4;

// The sum over one row (|width| values, from |load|) of d^2 (|square|) or of d, where
// d = x - |center| in double (no |center|: d = x widened). Accumulated in double as the
// references do; lanes add in another order than theirs, which moves the float result only
// when the exact value lies within ~width * 2^-53 of a float rounding boundary.
Value sumRowF64(ImplicitLocOpBuilder &b, RowLoader load, int64_t width, int64_t lanes,
                Value center, bool square) {
  Type f64 = b.getF64Type();
  auto accType = VectorType::get({lanes}, f64);
  SmallVector<Value> sums = forChunks(
      b, width, lanes, ValueRange{constFloat(b, accType, 0.0), constFloat(b, f64, 0.0)},
      [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n, ValueRange c) -> SmallVector<Value> {
        auto vt = VectorType::get({n}, f64);
        Value d = extF(nb, vt, load(nb, offset, n));
        if (center)
          d = arith::SubFOp::create(nb, d, vector::BroadcastOp::create(nb, vt, center));
        if (n == lanes)
          return {square ? Value(vector::FMAOp::create(nb, d, d, c[0]))
                         : Value(arith::AddFOp::create(nb, d, c[0])),
                  c[1]};
        Value terms = square ? Value(arith::MulFOp::create(nb, d, d)) : d;
        return {c[0], arith::AddFOp::create(nb, c[1], reduceAdd(nb, terms))};
      });
  return arith::AddFOp::create(b, reduceAdd(b, sums[0]), sums[1]);
}

} // namespace

LogicalResult generateRmsNorm(func::FuncOp fn, const KernelSpec &spec, const CpuTarget &target) {
  const bool quantize = spec.family == "rms_norm_quantize";
  const bool layer = spec.family == "layer_norm";
  const int64_t width = spec.getInt("width");
  if (width <= 0)
    return kernelError(fn, spec, "parameter 'width' must be positive, got " +
                                     llvm::Twine(width));
  const int64_t biasParam = layer ? spec.getInt("bias", 0) : 0;
  if (biasParam != 0 && biasParam != 1)
    return kernelError(fn, spec, "parameter 'bias' must be 0 or 1, got " +
                                     llvm::Twine(biasParam));
  const bool hasBias = biasParam == 1;
  llvm::Expected<FusedNormInput> fused = readFusedNormInput(spec, width, !layer);
  if (!fused)
    return kernelError(fn, spec, llvm::toString(fused.takeError()));
  const bool gated = fused->gated;
  const int64_t inStride = fused->inStride;
  const int r = fused->bindingShift();
  // The reference adds the float eps to a double mean; do the same.
  const double eps = static_cast<double>(static_cast<float>(spec.getFloat("eps", 1e-6)));
  const int64_t lanes = f32Lanes(target);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  Value total = arith::MulIOp::create(b, args.rows, constIndex(b, width));
  // The last row of a strided gate or up may end right after its width.
  Value inSize = total;
  if (gated) {
    Value lastRow = arith::SubIOp::create(b, args.rows, constIndex(b, 1));
    inSize = arith::AddIOp::create(
        b, arith::MulIOp::create(b, lastRow, constIndex(b, inStride)), constIndex(b, width));
  }
  Value x = bindFlat(b, args, 0, f32, inSize); // (rows, width), gated: row stride in_stride
  Value residual = fused->residual ? bindFlat(b, args, 1, f32, total) : Value(); // (rows, width)
  Value up = gated ? bindFlat(b, args, 1, f32, inSize) : Value(); // (rows, width), in_stride
  Value w = bindFlat(b, args, 1 + r, f32, width); // (width)
  Value bias = hasBias ? bindFlat(b, args, 2, f32, width) : Value(); // (width)
  Value y, q, qscale, sum;
  if (quantize) {
    q = bindFlat(b, args, 2 + r, b.getI8Type(), total); // (rows, width)
    qscale = bindFlat(b, args, 3 + r, f32, args.rows);  // (rows)
  } else {
    y = bindFlat(b, args, hasBias ? 3 : 2 + r, f32, total); // (rows, width), may alias x
  }
  if (residual) // (rows, width), may alias x or the residual
    sum = bindFlat(b, args, quantize ? 5 : 4, f32, total);
  // The row the norm reads: the stored sum with a residual.
  Value src = residual ? sum : x;

  RowSlice slice = rowSlice(b, args, spec);
  forLoop(b, slice.first, slice.last, constIndex(b, 1), [&](ImplicitLocOpBuilder &rb, Value t) {
    Value base = arith::MulIOp::create(rb, t, constIndex(rb, width));
    Value inBase = gated ? Value(arith::MulIOp::create(rb, t, constIndex(rb, inStride))) : base;
    // The row's values at |offset|: x (or the sum), or with a gate relu2(gate) * up, the
    // glu family's arithmetic (maxnum, then two float multiplies), recomputed in each pass.
    auto load = [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n) -> Value {
      Value at = arith::AddIOp::create(nb, inBase, offset);
      Value v = loadVector(nb, src, at, n);
      if (!gated)
        return v;
      Value g = arith::MaxNumFOp::create(nb, v, constFloat(nb, v.getType(), 0.0));
      return arith::MulFOp::create(nb, arith::MulFOp::create(nb, g, g),
                                   loadVector(nb, up, at, n));
    };
    if (residual)
      forChunks(rb, width, lanes, ValueRange{},
                [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n, ValueRange) {
                  Value at = arith::AddIOp::create(nb, base, offset);
                  Value s = arith::AddFOp::create(nb, loadVector(nb, x, at, n),
                                                  loadVector(nb, residual, at, n));
                  storeVector(nb, s, sum, at);
                  return SmallVector<Value>{};
                });
    // layer_norm: the mean first, then the centered sum of squares (two passes, like the
    // reference: one pass of x and x^2 loses the spread when |mean| dominates it).
    Value mean;
    if (layer)
      mean = arith::DivFOp::create(
          rb, sumRowF64(rb, load, width, kSumChains * lanes, Value(), /*square=*/false),
          constFloat(rb, f64, double(width)));
    // In double, as the reference does: the codes of rms_norm_quantize feed exact integer
    // matmuls, so the normalized values should round the same way.
    Value squares = sumRowF64(rb, load, width, kSumChains * lanes, mean, /*square=*/true);
    Value meanSquare = arith::DivFOp::create(rb, squares, constFloat(rb, f64, double(width)));
    Value root =
        math::SqrtOp::create(rb, arith::AddFOp::create(rb, meanSquare, constFloat(rb, f64, eps)));
    Value inv = arith::TruncFOp::create(
        rb, f32, arith::DivFOp::create(rb, constFloat(rb, f64, 1.0), root));

    // (c * inv) * w (+ b) in this order, like the reference; c is x, or x - mean computed in
    // double and rounded once.
    auto normalized = [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n) -> Value {
      auto vt = VectorType::get({n}, f32);
      Value v = load(nb, offset, n);
      if (mean) {
        auto dt = VectorType::get({n}, f64);
        Value centered = arith::SubFOp::create(nb, extF(nb, dt, v),
                                               vector::BroadcastOp::create(nb, dt, mean));
        v = arith::TruncFOp::create(nb, vt, centered);
      }
      Value scaled = arith::MulFOp::create(nb, v, vector::BroadcastOp::create(nb, vt, inv));
      Value r = arith::MulFOp::create(nb, scaled, loadVector(nb, w, offset, n));
      return bias ? Value(arith::AddFOp::create(nb, r, loadVector(nb, bias, offset, n))) : r;
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
