// Small helpers shared by the CPU kernel generators: ABI arguments, constants, loops, vectors.
#ifndef TERN_CODEGEN_CPU_KERNELBUILDER_H
#define TERN_CODEGEN_CPU_KERNELBUILDER_H

#include "codegen/CPU/CPUCodegen.h"
#include "codegen/Common/CodegenSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <functional>

namespace tern::cpu {

// The kernel ABI's arguments; rows/pos/begin/end converted to index for loops and memrefs.
struct KernelArgs {
  mlir::Value bindings; // !llvm.ptr
  mlir::Value rows, pos, begin, end; // index
};

// Positions |b| at the start of |fn|'s (empty) entry block and returns its arguments.
// KernelLibrary adds the func.return after the generator if the body has none.
KernelArgs beginKernel(mlir::func::FuncOp fn, mlir::ImplicitLocOpBuilder &b);

// Binding |index| as a 1-D memref<?x elementType> of |size| elements (an index value).
mlir::Value bindFlat(mlir::ImplicitLocOpBuilder &b, const KernelArgs &args, int64_t index,
                     mlir::Type elementType, mlir::Value size);
// The same with a static element count.
mlir::Value bindFlat(mlir::ImplicitLocOpBuilder &b, const KernelArgs &args, int64_t index,
                     mlir::Type elementType, int64_t size);

mlir::Value constIndex(mlir::ImplicitLocOpBuilder &b, int64_t v);
mlir::Value constInt(mlir::ImplicitLocOpBuilder &b, mlir::Type type, int64_t v); // or splat
mlir::Value constFloat(mlir::ImplicitLocOpBuilder &b, mlir::Type type, double v); // or splat
// base + offset for an index |base| and a static |offset| (|base| itself for 0).
mlir::Value addConst(mlir::ImplicitLocOpBuilder &b, mlir::Value base, int64_t offset);

// scf.for with or without loop-carried values (codegen/Common/CodegenSupport.h).
using codegen::forLoop;
using codegen::LoopBody;

// The work split of the matmul families: work item i owns output columns [i * nBlock,
// (i + 1) * nBlock) of every row. Inside it, rows go in tiles of |rowTile| and then the rows
// left over one at a time (decode: rows = 1), and for each row tile the item's columns go in
// tiles of |colTile|. |tile| emits one (first row, first column, rows in the tile) tile;
// |beforeRows|, when given, emits what a row tile's column tiles share (first row, rows in the
// tile), once per work item and row tile, before them.
using OutputTileBody =
    std::function<void(mlir::ImplicitLocOpBuilder &, mlir::Value firstRow, mlir::Value firstCol,
                       int64_t rowTile)>;
using RowTileBody =
    std::function<void(mlir::ImplicitLocOpBuilder &, mlir::Value firstRow, int64_t rowTile)>;
void forEachOutputTile(mlir::ImplicitLocOpBuilder &b, const KernelArgs &args, int64_t nBlock,
                       int64_t rowTile, int64_t colTile, const OutputTileBody &tile,
                       const RowTileBody &beforeRows = nullptr);

// The rows a call of a row-wise family (norms, quantize_act, rope, kv_cache_write) computes:
// with the spec parameter row_items (> 0) work item i is row i, so the call's slice [begin,
// end) clamped to the call's rows; without it one item, every row. [first, last) as index.
struct RowSlice {
  mlir::Value first, last;
};
RowSlice rowSlice(mlir::ImplicitLocOpBuilder &b, const KernelArgs &args, const KernelSpec &spec);

// Lanes of f32 per register for |target|: 16 (AVX-512), 8 (AVX2), 4 (SSE2).
int64_t f32Lanes(const CpuTarget &target);

// Walks [0, width) in chunks of |lanes| elements: a loop of full chunks, then (when width is
// not a multiple) one shorter chunk at the static offset width - width % lanes. |chunk|
// receives the chunk's offset and its static lane count and returns the next carried values.
using ChunkBody = std::function<llvm::SmallVector<mlir::Value>(
    mlir::ImplicitLocOpBuilder &, mlir::Value offset, int64_t lanes, mlir::ValueRange carried)>;
llvm::SmallVector<mlir::Value> forChunks(mlir::ImplicitLocOpBuilder &b, int64_t width,
                                         int64_t lanes, mlir::ValueRange init,
                                         const ChunkBody &chunk);

// vector<lanes x type> loaded from / stored to a 1-D memref at |offset|.
mlir::Value loadVector(mlir::ImplicitLocOpBuilder &b, mlir::Value memref, mlir::Value offset,
                       int64_t lanes);
void storeVector(mlir::ImplicitLocOpBuilder &b, mlir::Value value, mlir::Value memref,
                 mlir::Value offset);

// arith.extf without fast-math flags (its builder has no two-argument form).
mlir::Value extF(mlir::ImplicitLocOpBuilder &b, mlir::Type type, mlir::Value v);

// Sum / max of a vector's lanes (ordered for floats is not required: any order).
mlir::Value reduceAdd(mlir::ImplicitLocOpBuilder &b, mlir::Value vector);
mlir::Value reduceMax(mlir::ImplicitLocOpBuilder &b, mlir::Value vector);

// The 8 x 8 transpose of eight vector<8 x T> rows (T of 32 bits): result c holds element c of
// every row.
llvm::SmallVector<mlir::Value> transpose8x8(mlir::ImplicitLocOpBuilder &b,
                                            llvm::ArrayRef<mlir::Value> rows);

// f16 bits (vector of i16) to f32 without F16C or libcalls: exact for normals, subnormals,
// infinities and NaNs.
mlir::Value halfBitsToF32(mlir::ImplicitLocOpBuilder &b, mlir::Value bits);
// bf16 bits (vector of i16) to f32.
mlir::Value bf16BitsToF32(mlir::ImplicitLocOpBuilder &b, mlir::Value bits);
// Rounds f32 values with |v| < 2^22 to the nearest integer, ties to even, without roundeven
// (which needs SSE4.1 or a libm call on the baseline).
mlir::Value roundHalfEven(mlir::ImplicitLocOpBuilder &b, mlir::Value v);

// The result of the LLVM intrinsic |name| (x86 instructions no vector-dialect op expresses).
mlir::Value callIntrinsic(mlir::ImplicitLocOpBuilder &b, mlir::Type result, llvm::StringRef name,
                          mlir::ValueRange args);
// |bytes| bytes of the kernel's stack frame (an alloca; emit it at the kernel's entry), aligned
// to |alignment|: !llvm.ptr.
mlir::Value stackBuffer(mlir::ImplicitLocOpBuilder &b, int64_t bytes, int64_t alignment);
// |base| (!llvm.ptr) + |offset| bytes (an index or i64 value), as a plain GEP.
mlir::Value bytePointer(mlir::ImplicitLocOpBuilder &b, mlir::Value base, mlir::Value offset);
// Prefetches the byte at offset |at| (index or i64) of |base| (!llvm.ptr) for reading, into L1 (locality
// 3, prefetcht0) or L2 (2, prefetcht1). A plain (not inbounds) GEP: the last tiles of a call
// prefetch past the end of their weights, which a prefetch may do and an access may not.
void prefetchByte(mlir::ImplicitLocOpBuilder &b, mlir::Value base, mlir::Value at, int locality);

// An error on |fn| naming the kernel's family, for unsupported parameters.
mlir::LogicalResult kernelError(mlir::func::FuncOp fn, const KernelSpec &spec,
                                const llvm::Twine &message);

} // namespace tern::cpu

#endif
