// quantize_act: float rows to int8 codes and a per-row scale (docs/kernels.md).
#include "codegen/CPU/KernelGenerators.h"
#include "codegen/CPU/Quantize.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace tern::cpu {

using namespace mlir;

void emitQuantizeRow(ImplicitLocOpBuilder &b, const CpuTarget &target, int64_t width,
                     const RowValues &values, Value q, Value qBase, Value qscale, Value row) {
  const int64_t lanes = f32Lanes(target);
  Type f32 = b.getF32Type();

  // Absolute maximum: full chunks in a vector, a short tail chunk in a scalar. A chunk is four
  // machine vectors, four independent chains of maxima (one chain waited on each maximum's
  // latency).
  const int64_t chunk = 4 * lanes;
  auto chunkType = VectorType::get({chunk}, f32);
  SmallVector<Value> maxima = forChunks(
      b, width, chunk, ValueRange{constFloat(b, chunkType, 0.0), constFloat(b, f32, 0.0)},
      [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n, ValueRange c) -> SmallVector<Value> {
        Value a = math::AbsFOp::create(nb, values(nb, offset, n));
        if (n == chunk)
          return {arith::MaxNumFOp::create(nb, c[0], a), c[1]};
        return {c[0], arith::MaxNumFOp::create(nb, c[1], reduceMax(nb, a))};
      });
  Value absMax = arith::MaxNumFOp::create(b, reduceMax(b, maxima[0]), maxima[1]);
  Value floor = constFloat(b, f32, 1e-5f);
  Value s = arith::DivFOp::create(b, constFloat(b, f32, 127.0),
                                  arith::MaxNumFOp::create(b, absMax, floor));
  memref::StoreOp::create(b, s, qscale, ValueRange{row});

  forChunks(b, width, lanes, ValueRange{},
            [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n, ValueRange) {
              auto vt = VectorType::get({n}, f32);
              Value scaled = arith::MulFOp::create(
                  nb, values(nb, offset, n), vector::BroadcastOp::create(nb, vt, s));
              Value r = roundHalfEven(nb, scaled);
              r = arith::MaxNumFOp::create(nb, r, constFloat(nb, vt, -128.0));
              r = arith::MinNumFOp::create(nb, r, constFloat(nb, vt, 127.0));
              Value codes = arith::FPToSIOp::create(nb, VectorType::get({n}, nb.getI8Type()), r);
              storeVector(nb, codes, q, arith::AddIOp::create(nb, qBase, offset));
              return SmallVector<Value>{};
            });
}

LogicalResult generateQuantizeAct(func::FuncOp fn, const KernelSpec &spec,
                                  const CpuTarget &target) {
  const int64_t width = spec.getInt("width");
  if (width <= 0)
    return kernelError(fn, spec, "parameter 'width' must be positive, got " +
                                     llvm::Twine(width));
  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Value total = arith::MulIOp::create(b, args.rows, constIndex(b, width));
  Value x = bindFlat(b, args, 0, b.getF32Type(), total);      // (rows, width)
  Value q = bindFlat(b, args, 1, b.getI8Type(), total);       // (rows, width)
  Value qscale = bindFlat(b, args, 2, b.getF32Type(), args.rows); // (rows)
  RowSlice slice = rowSlice(b, args, spec);
  forLoop(b, slice.first, slice.last, constIndex(b, 1), [&](ImplicitLocOpBuilder &rb, Value t) {
    Value base = arith::MulIOp::create(rb, t, constIndex(rb, width));
    RowValues row = [&](ImplicitLocOpBuilder &vb, Value offset, int64_t n) {
      return loadVector(vb, x, arith::AddIOp::create(vb, base, offset), n);
    };
    emitQuantizeRow(rb, target, width, row, q, base, qscale, t);
  });
  return success();
}

} // namespace tern::cpu
