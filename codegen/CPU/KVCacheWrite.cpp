// kv_cache_write: copies this call's k and v rows into one layer's caches at positions pos...
//
// The cache rows are kv_heads * head_dim floats; k and v are read with their own row strides,
// so they can be the k and v parts of one fused QKV result. The runtime checks that
// pos + rows fits the context before the call.
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/KernelGenerators.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace tern::cpu {

using namespace mlir;

LogicalResult generateKVCacheWrite(func::FuncOp fn, const KernelSpec &spec,
                                   const CpuTarget &target) {
  const int64_t kvHeads = spec.getInt("kv_heads");
  const int64_t headDim = spec.getInt("head_dim");
  const int64_t context = spec.getInt("context");
  const int64_t width = kvHeads * headDim;
  const int64_t kStride = spec.getInt("k_stride", width);
  const int64_t vStride = spec.getInt("v_stride", width);
  if (kvHeads <= 0 || headDim <= 0 || context <= 0)
    return kernelError(fn, spec, "parameters 'kv_heads', 'head_dim' and 'context' must be "
                                 "positive, got kv_heads=" +
                                     llvm::Twine(kvHeads) + " head_dim=" + llvm::Twine(headDim) +
                                     " context=" + llvm::Twine(context));
  if (kStride < width || vStride < width)
    return kernelError(fn, spec, "parameters 'k_stride' (" + llvm::Twine(kStride) +
                                     ") and 'v_stride' (" + llvm::Twine(vStride) +
                                     ") must be at least kv_heads * head_dim (" +
                                     llvm::Twine(width) + ")");
  const int64_t lanes = f32Lanes(target);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type f32 = b.getF32Type();
  Value k = bindFlat(b, args, 0, f32,
                     arith::MulIOp::create(b, args.rows, constIndex(b, kStride))); // (rows, width), stride k_stride
  Value v = bindFlat(b, args, 1, f32,
                     arith::MulIOp::create(b, args.rows, constIndex(b, vStride))); // (rows, width), stride v_stride
  Value kCache = bindFlat(b, args, 2, f32, context * width); // (context, kv_heads * head_dim)
  Value vCache = bindFlat(b, args, 3, f32, context * width); // (context, kv_heads * head_dim)

  RowSlice slice = rowSlice(b, args, spec);
  forLoop(b, slice.first, slice.last, constIndex(b, 1), [&](ImplicitLocOpBuilder &rb, Value t) {
    Value dst = arith::MulIOp::create(rb, arith::AddIOp::create(rb, args.pos, t),
                                      constIndex(rb, width));
    Value kSrc = arith::MulIOp::create(rb, t, constIndex(rb, kStride));
    Value vSrc = arith::MulIOp::create(rb, t, constIndex(rb, vStride));
    forChunks(rb, width, lanes, ValueRange{},
              [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n, ValueRange) {
                Value to = arith::AddIOp::create(nb, dst, offset);
                storeVector(nb, loadVector(nb, k, arith::AddIOp::create(nb, kSrc, offset), n),
                            kCache, to);
                storeVector(nb, loadVector(nb, v, arith::AddIOp::create(nb, vSrc, offset), n),
                            vCache, to);
                return SmallVector<Value>{};
              });
  });
  return success();
}

} // namespace tern::cpu
