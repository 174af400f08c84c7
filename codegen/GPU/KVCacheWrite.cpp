// kv_cache_write: copies the call's k and v rows to cache positions pos .. pos + rows - 1.
//
// One thread per 16-byte chunk of a row, k and v together (a 2B-4T row is 640 floats, 160
// chunks: one block for decode). k and v are usually column slices of the fused QKV output,
// so the 16-byte path is taken only when strides and pointers allow it (a uniform branch);
// otherwise the same grid copies single floats in a grid-stride loop.
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

llvm::Expected<KVWriteShape> readKVWriteShape(const KernelSpec &spec) {
  KVWriteShape shape;
  shape.kvHeads = spec.getInt("kv_heads");
  shape.headDim = spec.getInt("head_dim");
  shape.kStride = spec.getInt("k_stride", shape.width());
  shape.vStride = spec.getInt("v_stride", shape.width());
  shape.context = spec.getInt("context");
  if (shape.kvHeads <= 0 || shape.headDim <= 0 || shape.context <= 0)
    return llvm::createStringError("parameters 'kv_heads', 'head_dim' and 'context' must be "
                                   "positive");
  if (shape.kStride < shape.width() || shape.vStride < shape.width())
    return llvm::createStringError("parameters 'k_stride' and 'v_stride' must be at least "
                                   "kv_heads * head_dim (%lld)",
                                   static_cast<long long>(shape.width()));
  return shape;
}

void emitCacheCopy(ImplicitLocOpBuilder &b, Value src, int64_t srcStride, Value cache,
                   int64_t width, Value t, Value position, Value element, int64_t vec) {
  Type f32 = b.getF32Type();
  Type type = vec == 1 ? f32 : Type(VectorType::get({vec}, f32));
  Value from =
      arith::AddIOp::create(b, arith::MulIOp::create(b, t, constI64(b, srcStride)), element);
  Value to =
      arith::AddIOp::create(b, arith::MulIOp::create(b, position, constI64(b, width)), element);
  store(b, load(b, type, elementAddress(b, src, f32, from), unsigned(4 * vec)),
        elementAddress(b, cache, f32, to), unsigned(4 * vec));
}

llvm::Expected<LaunchShape> launchKVCacheWrite(const KernelSpec &spec, int64_t maxRows,
                                               const GpuTarget &) {
  const int64_t width = spec.getInt("kv_heads") * spec.getInt("head_dim");
  if (width <= 0)
    return llvm::createStringError("%s: parameters 'kv_heads' and 'head_dim' must be positive",
                                   spec.symbol.c_str());
  const int64_t chunks = (width + 3) / 4 * std::max<int64_t>(1, maxRows);
  LaunchShape shape;
  shape.block = {uint32_t(kThreads), 1, 1};
  shape.grid = {uint32_t((chunks + kThreads - 1) / kThreads), 1, 1};
  return shape;
}

LogicalResult generateKVCacheWrite(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                   const GpuTarget &) {
  llvm::Expected<KVWriteShape> shape = readKVWriteShape(spec);
  if (!shape)
    return gpuKernelError(fn, spec, llvm::toString(shape.takeError()));

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Value k = args.bindings[0], v = args.bindings[1];
  Value kCache = args.bindings[2], vCache = args.bindings[3];

  // Rows whose position lies past the cache (the reference refuses the call) are not written.
  Value rows = arith::MinSIOp::create(
      b, args.rows,
      arith::MaxSIOp::create(b, arith::SubIOp::create(b, constI64(b, shape->context), args.pos),
                             constI64(b, 0)));
  Value first = toI64(b, arith::AddIOp::create(
                             b, arith::MulIOp::create(b, blockIdX(b), constI32(b, kThreads)),
                             threadIdX(b)));
  Value step = toI64(b, arith::MulIOp::create(b, gridDimX(b), constI32(b, kThreads)));

  auto copy = [&](ImplicitLocOpBuilder &b, int64_t vec) {
    const int64_t chunks = shape->width() / vec;
    Value total = arith::MulIOp::create(b, rows, constI64(b, chunks));
    forLoop(b, first, total, step, [&](ImplicitLocOpBuilder &b, Value index) {
      Value t = arith::DivUIOp::create(b, index, constI64(b, chunks));
      Value element = arith::MulIOp::create(
          b, arith::RemUIOp::create(b, index, constI64(b, chunks)), constI64(b, vec));
      Value position = arith::AddIOp::create(b, args.pos, t);
      emitCacheCopy(b, k, shape->kStride, kCache, shape->width(), t, position, element, vec);
      emitCacheCopy(b, v, shape->vStride, vCache, shape->width(), t, position, element, vec);
    });
    return SmallVector<Value>{};
  };
  if (!shape->chunkable()) {
    copy(b, 1);
    return success();
  }
  ifThenElse(
      b, pointersAligned(b, {k, v, kCache, vCache}, 16), TypeRange{},
      [&](ImplicitLocOpBuilder &b) { return copy(b, 4); },
      [&](ImplicitLocOpBuilder &b) { return copy(b, 1); });
  return success();
}

} // namespace tern::gpu
