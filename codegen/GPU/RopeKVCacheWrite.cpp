// rope_kv_cache_write: the rope of q and k and the KV-cache write of k and v in one dispatch
// (tern-fuse-gpu-dispatches), which saves a decode step one launch per layer.
//
// Bindings x, table, v, key cache, value cache (docs/kernels.md): k is the last kv_heads heads
// of x, so the thread that rotates a pair of a k head stores the rotated values to the key
// cache as well, from its registers: no second pass over k and no barrier. One flat grid over
// rows x (pairs + v chunks): a 2B-4T decode row is 1600 pairs and 160 16-byte chunks of v,
// seven blocks. Each part is the rope's and kv_cache_write's own code (RopeKV.h), so results
// are theirs bit for bit.
#include "codegen/GPU/GPUKernelBuilder.h"
#include "codegen/GPU/GPUKernelGenerators.h"
#include "codegen/GPU/RopeKV.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <algorithm>
#include <utility>

namespace tern::gpu {

using namespace mlir;

namespace {

constexpr int64_t kThreads = 256;

struct Shapes {
  RopeShape rope;
  KVWriteShape write; // k's stride is x's
};

llvm::Expected<Shapes> readShapes(const KernelSpec &spec) {
  Shapes shapes;
  llvm::Expected<RopeShape> rope = readRopeShape(spec);
  if (!rope)
    return rope.takeError();
  shapes.rope = *rope;
  KernelSpec write = spec;
  write.ints["k_stride"] = rope->stride;
  llvm::Expected<KVWriteShape> kv = readKVWriteShape(write);
  if (!kv)
    return kv.takeError();
  shapes.write = *kv;
  if (kv->kvHeads > rope->heads)
    return llvm::createStringError("parameter 'kv_heads' (%lld) must be at most 'heads' (%lld)",
                                   static_cast<long long>(kv->kvHeads),
                                   static_cast<long long>(rope->heads));
  return shapes;
}

// v's 16-byte chunks per row, or its floats when v's layout does not allow chunks.
int64_t vItems(const KVWriteShape &write, bool chunks) {
  return chunks ? write.width() / 4 : write.width();
}

} // namespace

llvm::Expected<LaunchShape> launchRopeKVCacheWrite(const KernelSpec &spec, int64_t maxRows,
                                                   const GpuTarget &) {
  llvm::Expected<Shapes> shapes = readShapes(spec);
  if (!shapes)
    return llvm::createStringError("%s: %s", spec.symbol.c_str(),
                                   llvm::toString(shapes.takeError()).c_str());
  // The scalar fallback needs the most threads per row.
  const int64_t perRow = shapes->rope.pairs() + vItems(shapes->write, false);
  const int64_t total = perRow * std::max<int64_t>(1, maxRows);
  LaunchShape shape;
  shape.block = {uint32_t(kThreads), 1, 1};
  shape.grid = {uint32_t((total + kThreads - 1) / kThreads), 1, 1};
  return shape;
}

LogicalResult generateRopeKVCacheWrite(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                       const GpuTarget &target) {
  llvm::Expected<Shapes> shapes = readShapes(spec);
  if (!shapes)
    return gpuKernelError(fn, spec, llvm::toString(shapes.takeError()));
  const RopeShape &rope = shapes->rope;
  const KVWriteShape &write = shapes->write;
  const int64_t firstKHead = rope.heads - write.kvHeads;

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Type f32 = b.getF32Type();
  Value x = args.bindings[0], table = args.bindings[1], v = args.bindings[2];
  Value kCache = args.bindings[3], vCache = args.bindings[4];
  if (target.computeCapability >= 90) {
    // Decode on sm_90: the position's row of the table (never written by a dispatch) is
    // asked into L1 before waiting for the previous dispatch, which may still run.
    const int64_t tableRowBytes = rope.headDim * 4, lines = (tableRowBytes + 127) / 128;
    Value tid = toI64(b, threadIdX(b));
    Value go = arith::AndIOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, args.rows, constI64(b, 1)),
        arith::AndIOp::create(
            b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, tid, constI64(b, lines)),
            arith::CmpIOp::create(b, arith::CmpIPredicate::slt, args.pos,
                                  constI64(b, rope.context))));
    emitPrefetchesBeforeWait(fn, b, [&](ImplicitLocOpBuilder &b) {
      ifThen(b, go, [&](ImplicitLocOpBuilder &b) {
        Value offset = arith::AddIOp::create(
            b, arith::MulIOp::create(b, args.pos, constI64(b, tableRowBytes)),
            arith::MulIOp::create(b, tid, constI64(b, 128)));
        prefetchToL1(b, byteAddress(b, table, offset));
      });
    });
  }
  Value index = toI64(b, arith::AddIOp::create(
                             b, arith::MulIOp::create(b, blockIdX(b), constI32(b, kThreads)),
                             threadIdX(b)));

  // |vec| floats per v item: items of a row are its pairs, then its v chunks.
  auto body = [&](ImplicitLocOpBuilder &b, int64_t vec) {
    const int64_t perRow = rope.pairs() + vItems(write, vec == 4);
    Value t = arith::DivUIOp::create(b, index, constI64(b, perRow));
    Value item = arith::RemUIOp::create(b, index, constI64(b, perRow));
    Value position = arith::AddIOp::create(b, args.pos, t);
    // Rows past the call's, and positions past the table and the cache (the reference refuses
    // those), do nothing.
    Value active = arith::AndIOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::slt, t, args.rows),
        arith::CmpIOp::create(b, arith::CmpIPredicate::slt, position,
                              constI64(b, rope.context)));
    ifThen(b, active, [&](ImplicitLocOpBuilder &b) {
      Value isPair = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, item,
                                           constI64(b, rope.pairs()));
      // A rotated pair of a k head goes to the key cache too.
      Value cacheRow = elementAddress(
          b, kCache, f32, arith::MulIOp::create(b, position, constI64(b, write.width())));
      auto toKeyCache = [&](ImplicitLocOpBuilder &b, Value head, Value offsetA, Value offsetB,
                            Value ra, Value rb) {
        Value kHead = arith::SubIOp::create(b, head, constI64(b, firstKHead));
        ifThen(b, arith::CmpIOp::create(b, arith::CmpIPredicate::sge, kHead, constI64(b, 0)),
               [&](ImplicitLocOpBuilder &b) {
                 Value start = arith::MulIOp::create(b, kHead, constI64(b, write.headDim));
                 for (auto [offset, value] : {std::pair{offsetA, ra}, std::pair{offsetB, rb}})
                   store(b, value,
                         elementAddress(b, cacheRow, f32, arith::AddIOp::create(b, start, offset)),
                         4);
               });
      };
      ifThenElse(
          b, isPair, TypeRange{},
          [&](ImplicitLocOpBuilder &b) {
            emitRopePair(b, rope, x, table, t, position, item, toKeyCache);
            return SmallVector<Value>{};
          },
          [&](ImplicitLocOpBuilder &b) {
            Value element = arith::MulIOp::create(
                b, arith::SubIOp::create(b, item, constI64(b, rope.pairs())), constI64(b, vec));
            emitCacheCopy(b, v, write.vStride, vCache, write.width(), t, position, element, vec);
            return SmallVector<Value>{};
          });
    });
    return SmallVector<Value>{};
  };
  if (!write.chunkable()) {
    body(b, 1);
    return success();
  }
  // v is usually a column slice of the fused QKV output: 16-byte chunks only when its pointer
  // allows (a uniform branch).
  ifThenElse(
      b, pointersAligned(b, {v, vCache}, 16), TypeRange{},
      [&](ImplicitLocOpBuilder &b) { return body(b, 4); },
      [&](ImplicitLocOpBuilder &b) { return body(b, 1); });
  return success();
}

} // namespace tern::gpu
