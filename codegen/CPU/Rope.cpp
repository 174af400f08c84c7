// rope: rotates pairs of every head of x in place by the precomputed (cos, sin) table.
//
// The table row of a position holds (cos_i, sin_i) interleaved, head_dim floats. In the
// `normal` style pair i is (2i, 2i + 1), so a vector of x lines up lane for lane with the same
// span of the table: shuffles duplicate the cosines and sines and swap the pair partners. In
// the `neox` style pair i is (i, i + head_dim / 2): the first and second halves are loaded as
// two vectors and the table span is split into cosines and sines. Products are rounded once
// each and then added, exactly as the reference does, so results match it bit for bit unless
// LLVM contracts them (it does not without fast-math flags).
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/KernelGenerators.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace tern::cpu {

using namespace mlir;

namespace {

// Shuffle mask of |n| lanes: lane j takes element f(j).
SmallVector<int64_t> mask(int64_t n, const std::function<int64_t(int64_t)> &f) {
  SmallVector<int64_t> m(n);
  for (int64_t j = 0; j < n; ++j)
    m[j] = f(j);
  return m;
}

Value shuffle(ImplicitLocOpBuilder &b, Value v, ArrayRef<int64_t> m) {
  return vector::ShuffleOp::create(b, v, v, m);
}

} // namespace

LogicalResult generateRope(func::FuncOp fn, const KernelSpec &spec, const CpuTarget &target) {
  const int64_t heads = spec.getInt("heads");
  const int64_t headDim = spec.getInt("head_dim");
  const int64_t stride = spec.getInt("stride", heads * headDim);
  const int64_t context = spec.getInt("context");
  const std::string style = spec.getString("style", "normal");
  if (heads <= 0 || headDim <= 0 || context <= 0)
    return kernelError(fn, spec, "parameters 'heads', 'head_dim' and 'context' must be positive, "
                                 "got heads=" +
                                     llvm::Twine(heads) + " head_dim=" + llvm::Twine(headDim) +
                                     " context=" + llvm::Twine(context));
  if (headDim % 2 != 0)
    return kernelError(fn, spec, "parameter 'head_dim' must be even, got " +
                                     llvm::Twine(headDim));
  if (stride < heads * headDim)
    return kernelError(fn, spec, "parameter 'stride' (" + llvm::Twine(stride) +
                                     ") must be at least heads * head_dim (" +
                                     llvm::Twine(heads * headDim) + ")");
  if (style != "normal" && style != "neox")
    return kernelError(fn, spec, "parameter 'style' is '" + style + "'; known: normal, neox");
  const bool neox = style == "neox";
  const int64_t half = headDim / 2;
  const int64_t lanes = f32Lanes(target);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type f32 = b.getF32Type();
  Value x = bindFlat(b, args, 0, f32,
                     arith::MulIOp::create(b, args.rows, constIndex(b, stride))); // (rows, heads * head_dim), stride `stride`
  Value table = bindFlat(b, args, 1, f32, context * headDim); // (context, head_dim / 2, 2)

  RowSlice slice = rowSlice(b, args, spec);
  forLoop(b, slice.first, slice.last, constIndex(b, 1), [&](ImplicitLocOpBuilder &rb, Value t) {
    Value angles = arith::MulIOp::create(rb, arith::AddIOp::create(rb, args.pos, t),
                                         constIndex(rb, headDim));
    Value row = arith::MulIOp::create(rb, t, constIndex(rb, stride));
    forLoop(rb, constIndex(rb, 0), constIndex(rb, heads), constIndex(rb, 1),
            [&](ImplicitLocOpBuilder &hb, Value h) {
              Value head = arith::AddIOp::create(
                  hb, row, arith::MulIOp::create(hb, h, constIndex(hb, headDim)));
              if (!neox) {
                forChunks(hb, headDim, lanes, ValueRange{},
                          [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n, ValueRange) {
                            Value at = arith::AddIOp::create(nb, head, offset);
                            Value v = loadVector(nb, x, at, n); // (a0, b0, a1, b1, ...)
                            Value cs = loadVector(nb, table, arith::AddIOp::create(nb, angles, offset), n);
                            Value cos = shuffle(nb, cs, mask(n, [](int64_t j) { return j & ~1; }));
                            Value sin = shuffle(nb, cs, mask(n, [](int64_t j) { return j | 1; }));
                            Value swapped = shuffle(nb, v, mask(n, [](int64_t j) { return j ^ 1; }));
                            SmallVector<float> signs(n);
                            for (int64_t j = 0; j < n; ++j)
                              signs[j] = j % 2 == 0 ? -1.0f : 1.0f;
                            auto vt = VectorType::get({n}, f32);
                            Value sign = arith::ConstantOp::create(
                                nb, vt, DenseElementsAttr::get(vt, ArrayRef<float>(signs)));
                            // lane 2i: a c - b s; lane 2i + 1: b c + a s
                            Value crossed = arith::MulFOp::create(
                                nb, arith::MulFOp::create(nb, swapped, sin), sign);
                            Value rotated =
                                arith::AddFOp::create(nb, arith::MulFOp::create(nb, v, cos), crossed);
                            storeVector(nb, rotated, x, at);
                            return SmallVector<Value>{};
                          });
                return;
              }
              forChunks(hb, half, lanes, ValueRange{},
                        [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n, ValueRange) {
                          Value atA = arith::AddIOp::create(nb, head, offset);
                          Value atB = arith::AddIOp::create(nb, atA, constIndex(nb, half));
                          Value a = loadVector(nb, x, atA, n);
                          Value bv = loadVector(nb, x, atB, n);
                          Value tableAt = arith::AddIOp::create(
                              nb, angles, arith::MulIOp::create(nb, offset, constIndex(nb, 2)));
                          Value cs = loadVector(nb, table, tableAt, 2 * n);
                          Value cos = shuffle(nb, cs, mask(n, [](int64_t j) { return 2 * j; }));
                          Value sin = shuffle(nb, cs, mask(n, [](int64_t j) { return 2 * j + 1; }));
                          Value newA = arith::SubFOp::create(nb, arith::MulFOp::create(nb, a, cos),
                                                             arith::MulFOp::create(nb, bv, sin));
                          Value newB = arith::AddFOp::create(nb, arith::MulFOp::create(nb, a, sin),
                                                             arith::MulFOp::create(nb, bv, cos));
                          storeVector(nb, newA, x, atA);
                          storeVector(nb, newB, x, atB);
                          return SmallVector<Value>{};
                        });
            });
  });
  return success();
}

} // namespace tern::cpu
