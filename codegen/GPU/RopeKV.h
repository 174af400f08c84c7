// The per-element work of the rope and kv_cache_write kernels, shared by their own generators
// and by rope_kv_cache_write, which runs both in one dispatch (RopeKVCacheWrite.cpp).
#ifndef TERN_CODEGEN_GPU_ROPEKV_H
#define TERN_CODEGEN_GPU_ROPEKV_H

#include "KernelSpec.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/Support/Error.h"

#include <functional>

namespace tern::gpu {

// rope's parameters (docs/kernels.md).
struct RopeShape {
  int64_t heads = 0, headDim = 0, stride = 0, context = 0;
  bool neox = false;
  int64_t pairs() const { return heads * (headDim / 2); } // rotated pairs per row
};
// Reads and checks them; the error names the parameter.
llvm::Expected<RopeShape> readRopeShape(const KernelSpec &spec);

// Receives a rotated pair: its head, the offsets of its two elements in the head (i64) and
// their rotated values (f32).
using RotatedPairSink = std::function<void(mlir::ImplicitLocOpBuilder &, mlir::Value head,
                                           mlir::Value offsetA, mlir::Value offsetB,
                                           mlir::Value a, mlir::Value b)>;

// Rotates pair |inRow| (0 .. pairs - 1, i64) of row |t| of |x| in place, by the table's
// (cos, sin) at |position| (i64; the caller checks it against the context), and passes the
// rotated pair to |sink| when given.
void emitRopePair(mlir::ImplicitLocOpBuilder &b, const RopeShape &shape, mlir::Value x,
                  mlir::Value table, mlir::Value t, mlir::Value position, mlir::Value inRow,
                  const RotatedPairSink &sink = nullptr);

// kv_cache_write's parameters (docs/kernels.md).
struct KVWriteShape {
  int64_t kvHeads = 0, headDim = 0, kStride = 0, vStride = 0, context = 0;
  int64_t width() const { return kvHeads * headDim; } // floats per cache row
  // Whether widths and strides allow 16-byte chunks (the pointers are checked at run time).
  bool chunkable() const { return width() % 4 == 0 && kStride % 4 == 0 && vStride % 4 == 0; }
};
llvm::Expected<KVWriteShape> readKVWriteShape(const KernelSpec &spec);

// Copies |vec| floats (1 or 4) at |element| of row |t| of |src| (row stride |srcStride|) to
// row |position| of |cache| (rows of |width| floats).
void emitCacheCopy(mlir::ImplicitLocOpBuilder &b, mlir::Value src, int64_t srcStride,
                   mlir::Value cache, int64_t width, mlir::Value t, mlir::Value position,
                   mlir::Value element, int64_t vec);

} // namespace tern::gpu

#endif
