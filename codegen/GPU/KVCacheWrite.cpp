// kv_cache_write: copies the call's k and v rows to cache positions pos .. pos + rows - 1.
//
// One thread per 16-byte chunk of a row, k and v together (a 2B-4T row is 640 floats, 160
// chunks: one block for decode). k and v are usually column slices of the fused QKV output,
// so the 16-byte path is taken only when strides and pointers allow it (a uniform branch);
// otherwise the same grid copies single floats in a grid-stride loop.
#include "codegen/GPU/GPUKernelBuilder.h"
#include "codegen/GPU/GPUKernelGenerators.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <algorithm>
#include <tuple>

namespace tern::gpu {

using namespace mlir;

namespace {
constexpr int64_t kThreads = 256;
} // namespace

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
  const int64_t kvHeads = spec.getInt("kv_heads"), headDim = spec.getInt("head_dim");
  const int64_t width = kvHeads * headDim;
  const int64_t kStride = spec.getInt("k_stride", width), vStride = spec.getInt("v_stride", width);
  const int64_t context = spec.getInt("context");
  if (kvHeads <= 0 || headDim <= 0 || context <= 0)
    return gpuKernelError(fn, spec, "parameters 'kv_heads', 'head_dim' and 'context' must be "
                                    "positive");
  if (kStride < width || vStride < width)
    return gpuKernelError(fn, spec, "parameters 'k_stride' and 'v_stride' must be at least "
                                    "kv_heads * head_dim (" + llvm::Twine(width) + ")");

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Type f32 = b.getF32Type();
  Value k = args.bindings[0], v = args.bindings[1];
  Value kCache = args.bindings[2], vCache = args.bindings[3];

  // Rows whose position lies past the cache (the reference refuses the call) are not written.
  Value rows = arith::MinSIOp::create(
      b, args.rows,
      arith::MaxSIOp::create(b, arith::SubIOp::create(b, constI64(b, context), args.pos),
                             constI64(b, 0)));
  Value first = toI64(b, arith::AddIOp::create(
                             b, arith::MulIOp::create(b, blockIdX(b), constI32(b, kThreads)),
                             threadIdX(b)));
  Value step = toI64(b, arith::MulIOp::create(b, gridDimX(b), constI32(b, kThreads)));

  auto copy = [&](ImplicitLocOpBuilder &b, int64_t vec) {
    const int64_t chunks = width / vec;
    Type type = vec == 1 ? f32 : Type(VectorType::get({vec}, f32));
    Value total = arith::MulIOp::create(b, rows, constI64(b, chunks));
    forLoop(b, first, total, step, [&](ImplicitLocOpBuilder &b, Value index) {
      Value t = arith::DivUIOp::create(b, index, constI64(b, chunks));
      Value element = arith::MulIOp::create(
          b, arith::RemUIOp::create(b, index, constI64(b, chunks)), constI64(b, vec));
      Value position = arith::AddIOp::create(b, args.pos, t);
      Value cacheAt = arith::AddIOp::create(
          b, arith::MulIOp::create(b, position, constI64(b, width)), element);
      for (auto [src, srcStride, dst] : {std::tuple{k, kStride, kCache}, std::tuple{v, vStride, vCache}}) {
        Value from = arith::AddIOp::create(
            b, arith::MulIOp::create(b, t, constI64(b, srcStride)), element);
        Value value = load(b, type, elementAddress(b, src, f32, from), unsigned(4 * vec));
        store(b, value, elementAddress(b, dst, f32, cacheAt), unsigned(4 * vec));
      }
    });
    return SmallVector<Value>{};
  };
  if (width % 4 != 0 || kStride % 4 != 0 || vStride % 4 != 0) {
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
