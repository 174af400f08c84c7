// rope: one thread per rotated pair over rows x heads x head_dim / 2, in place, from the
// compiler's table of (cos, sin) per position and pair.
//
// A 2B-4T decode row has 20 x 64 query pairs (five blocks); the pair's (cos, sin) is one
// 8-byte load, and a `normal` pair (2i, 2i + 1) is one 8-byte load and store when the row
// allows it. The rotation is the reference's: four float multiplies, a subtract and an add,
// each rounded (LLVM does not contract them into FMAs), so results match bit for bit.
#include "codegen/GPU/GPUKernelBuilder.h"
#include "codegen/GPU/GPUKernelGenerators.h"
#include "codegen/GPU/RopeKV.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <algorithm>

namespace tern::gpu {

using namespace mlir;

namespace {
constexpr int64_t kThreads = 256;
} // namespace

llvm::Expected<RopeShape> readRopeShape(const KernelSpec &spec) {
  RopeShape shape;
  shape.heads = spec.getInt("heads");
  shape.headDim = spec.getInt("head_dim");
  shape.stride = spec.getInt("stride", shape.heads * shape.headDim);
  shape.context = spec.getInt("context");
  const std::string style = spec.getString("style", "normal");
  if (shape.heads <= 0 || shape.headDim <= 0 || shape.headDim % 2 != 0)
    return llvm::createStringError("parameters 'heads' and 'head_dim' must be positive and "
                                   "'head_dim' even, got %lld and %lld",
                                   static_cast<long long>(shape.heads),
                                   static_cast<long long>(shape.headDim));
  if (shape.stride < shape.heads * shape.headDim || shape.context <= 0)
    return llvm::createStringError("parameter 'stride' must be at least heads * head_dim and "
                                   "'context' positive");
  if (style != "normal" && style != "neox")
    return llvm::createStringError("parameter 'style' is '%s'; expected normal or neox",
                                   style.c_str());
  shape.neox = style == "neox";
  return shape;
}

void emitRopePair(ImplicitLocOpBuilder &b, const RopeShape &shape, Value x, Value table, Value t,
                  Value position, Value inRow, const RotatedPairSink &sink) {
  Type f32 = b.getF32Type();
  auto pairType = VectorType::get({2}, f32);
  const int64_t half = shape.headDim / 2;
  Value h = arith::DivUIOp::create(b, inRow, constI64(b, half));
  Value i = arith::RemUIOp::create(b, inRow, constI64(b, half));
  Value angle = loadReadOnly(b, pairType,
                     elementAddress(b, table, f32,
                                    arith::MulIOp::create(
                                        b, arith::AddIOp::create(
                                               b, arith::MulIOp::create(b, position, constI64(b, half)), i),
                                        constI64(b, 2))),
                     8);
  Value c = extractLane(b, angle, 0), s = extractLane(b, angle, 1);
  Value head = arith::AddIOp::create(b, arith::MulIOp::create(b, t, constI64(b, shape.stride)),
                                     arith::MulIOp::create(b, h, constI64(b, shape.headDim)));
  // Offsets of the pair's elements in their head.
  Value inHeadA = shape.neox ? i : Value(arith::MulIOp::create(b, i, constI64(b, 2)));
  Value inHeadB = arith::AddIOp::create(b, inHeadA, constI64(b, shape.neox ? half : 1));
  Value a = arith::AddIOp::create(b, head, inHeadA);
  Value bIndex = arith::AddIOp::create(b, head, inHeadB);
  Value aAddress = elementAddress(b, x, f32, a), bAddress = elementAddress(b, x, f32, bIndex);
  auto rotate = [&](ImplicitLocOpBuilder &b, Value va, Value vb) {
    Value ra = arith::SubFOp::create(b, arith::MulFOp::create(b, va, c),
                                     arith::MulFOp::create(b, vb, s));
    Value rb = arith::AddFOp::create(b, arith::MulFOp::create(b, va, s),
                                     arith::MulFOp::create(b, vb, c));
    return std::make_pair(ra, rb);
  };
  auto scalar = [&](ImplicitLocOpBuilder &b) {
    auto [ra, rb] = rotate(b, load(b, f32, aAddress, 4), load(b, f32, bAddress, 4));
    store(b, ra, aAddress, 4);
    store(b, rb, bAddress, 4);
    if (sink)
      sink(b, h, inHeadA, inHeadB, ra, rb);
    return SmallVector<Value>{};
  };
  if (shape.neox || shape.stride % 2 != 0) {
    scalar(b);
    return;
  }
  // x may be a column slice of a fused result: the pair is one 8-byte access only when x is
  // 8-byte aligned (a uniform branch).
  ifThenElse(
      b, pointersAligned(b, {x}, 8), TypeRange{},
      [&](ImplicitLocOpBuilder &b) {
        Value v = load(b, pairType, aAddress, 8);
        auto [ra, rb] = rotate(b, extractLane(b, v, 0), extractLane(b, v, 1));
        store(b, buildVector(b, {ra, rb}), aAddress, 8);
        if (sink)
          sink(b, h, inHeadA, inHeadB, ra, rb);
        return SmallVector<Value>{};
      },
      scalar);
}

llvm::Expected<LaunchShape> launchRope(const KernelSpec &spec, int64_t maxRows, const GpuTarget &) {
  const int64_t pairs = spec.getInt("heads") * (spec.getInt("head_dim") / 2);
  if (pairs <= 0)
    return llvm::createStringError("%s: parameters 'heads' and 'head_dim' must be positive",
                                   spec.symbol.c_str());
  const int64_t total = pairs * std::max<int64_t>(1, maxRows);
  LaunchShape shape;
  shape.block = {uint32_t(kThreads), 1, 1};
  shape.grid = {uint32_t((total + kThreads - 1) / kThreads), 1, 1};
  return shape;
}

LogicalResult generateRope(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec, const GpuTarget &) {
  llvm::Expected<RopeShape> shape = readRopeShape(spec);
  if (!shape)
    return gpuKernelError(fn, spec, llvm::toString(shape.takeError()));
  const int64_t pairs = shape->pairs();

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Value x = args.bindings[0], table = args.bindings[1];

  Value index = toI64(b, arith::AddIOp::create(
                             b, arith::MulIOp::create(b, blockIdX(b), constI32(b, kThreads)),
                             threadIdX(b)));
  Value t = arith::DivUIOp::create(b, index, constI64(b, pairs));
  Value position = arith::AddIOp::create(b, args.pos, t);
  // Rows past the call's, and positions past the table (the reference refuses those), do
  // nothing.
  Value active = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::slt, t, args.rows),
      arith::CmpIOp::create(b, arith::CmpIPredicate::slt, position, constI64(b, shape->context)));
  ifThen(b, active, [&](ImplicitLocOpBuilder &b) {
    emitRopePair(b, *shape, x, table, t, position,
                 arith::RemUIOp::create(b, index, constI64(b, pairs)));
  });
  return success();
}

} // namespace tern::gpu
