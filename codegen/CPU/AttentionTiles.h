// Prefill attention as small matrix products: the row block's queries, four at a time, against
// tiles of two vectors' worth of key rows (16 on AVX2, 32 on AVX-512) transposed position-major,
// then the tiles' value rows, with the online softmax between the two. Used by the attention
// kernel (Attention.cpp) for row blocks of enough queries on AVX2 and AVX-512 targets.
#ifndef TERN_CODEGEN_CPU_ATTENTIONTILES_H
#define TERN_CODEGEN_CPU_ATTENTIONTILES_H

#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <cstdint>

namespace tern::cpu {

// Whether the tiles take a head_dim at |lanes| f32 lanes per vector: 8 or 16 lanes (AVX2,
// AVX-512) and a head_dim of whole pairs of vectors.
bool attentionTilesApply(int64_t headDim, int64_t lanes);

struct AttentionTilesShape {
  int64_t headDim, width, lanes; // width: floats per cache row (kv_heads * head_dim)
  double scale;
  bool fma;
  // A query's state at its base in |state|: acc (head_dim floats), l at lOffset, m at mOffset.
  int64_t lOffset, mOffset;
};

// Scratch the tiles need beside the queries' state, allocated once at the kernel's entry.
struct AttentionTilesScratch {
  mlir::Value keys;    // memref<tile positions * head_dim x f32>: a tile's keys, transposed
  mlir::Value weights; // memref<4 * tile positions x f32>: a pass's softmax weights for a tile
};
AttentionTilesScratch allocateAttentionTilesScratch(mlir::ImplicitLocOpBuilder &b,
                                                    const AttentionTilesShape &shape);

struct AttentionTilesOperands {
  mlir::Value q, kCache, vCache, out, state; // flat f32 memrefs
};

// One query of the row block: its row t (the call's row index), where its q row starts, where its
// state starts in |state| and where its output row starts.
struct TileQuery {
  mlir::Value t, qBase, stateBase, outBase;
};
using TileQueryOf = llvm::function_ref<TileQuery(mlir::ImplicitLocOpBuilder &, mlir::Value i)>;

// The attention of queries [0, count) of one row block over positions [0, blockLast] of the kv
// head at float offset |kvOffset| of each cache row; query i attends positions up to pos + its
// row. Writes each query's output row.
void emitAttentionTiles(mlir::ImplicitLocOpBuilder &b, const AttentionTilesShape &shape,
                        const AttentionTilesOperands &ops, const AttentionTilesScratch &scratch,
                        mlir::Value count, TileQueryOf queryOf, mlir::Value pos,
                        mlir::Value kvOffset, mlir::Value blockLast);

} // namespace tern::cpu

#endif
