// Prefill attention as small matrix products (see AttentionTiles.h).
//
// The dot-product way of Attention.cpp reduces each score across the lanes of head_dim, and at
// head_dim 128 its two queries' accumulators spill: prefill ran at about 20 GFLOP/s on Zen 2,
// a fifth of what two FMA pipes allow. Here lanes run over positions instead, so nothing is
// reduced per score:
//
// - Each tile of T = 2 L positions (two vectors of L lanes: 16 positions on AVX2, 32 on AVX-512)
//   has its key rows transposed once, through 8 x 8 register transposes, into keys[d][j]; every
//   pass of the row block reuses them.
// - A pass is four queries (the four heads of a GQA group share a row; the last pass repeats
//   the last query, which stores the same values twice). Its scores are eight vectors,
//   S[i][j] += q_i[d] * keys[d][j] over d: per d two key vectors, four broadcast q elements and
//   eight multiply-adds.
// - The online softmax per query, lane-wise over the tile's positions: positions past the
//   query's own (pos + its row) are masked to weight 0, the running maximum and sum updated, the
//   weights stored for the value product.
// - Values: per pair of head_dim vectors, the four queries' accumulators (eight vectors, scaled
//   by the softmax's correction) take, per position, two value vectors times four broadcast
//   weights.
//
// Everything is f32 like the other ways, within the same tolerance of the double reference.
// Rows past the row block's last position (blockLast) are never read: tile positions past it
// load the last row again, whose weight is 0.
#include "codegen/CPU/AttentionTiles.h"
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/VectorMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cfloat>
#include <cmath>

namespace tern::cpu {

using namespace mlir;

namespace {

constexpr int64_t kPassQueries = 4;
constexpr int64_t kSquare = 8;         // the register transpose's side
constexpr int64_t kScoreUnroll = 4;    // head_dim elements per iteration of the score loop

class TilesEmitter {
public:
  TilesEmitter(const AttentionTilesShape &shape, const AttentionTilesOperands &ops,
               const AttentionTilesScratch &scratch, Value kvOffset, Value blockLast)
      : s(shape), ops(ops), scratch(scratch), kvOffset(kvOffset), blockLast(blockLast),
        L(shape.lanes), T(2 * shape.lanes) {}

  // Cache offset of tile position j's row (clamped to blockLast) for kv head kvOffset.
  Value rowAt(ImplicitLocOpBuilder &b, Value tileStart, int64_t j) const {
    Value row = arith::MinUIOp::create(b, addConst(b, tileStart, j), blockLast);
    return arith::AddIOp::create(b, arith::MulIOp::create(b, row, constIndex(b, s.width)),
                                 kvOffset);
  }

  // keys[d * T + j] = K[tileStart + j][d].
  void transposeKeys(ImplicitLocOpBuilder &b, Value tileStart) const {
    for (int64_t j0 = 0; j0 < T; j0 += kSquare) {
      SmallVector<Value> rows;
      for (int64_t r = 0; r < kSquare; ++r)
        rows.push_back(rowAt(b, tileStart, j0 + r));
      forLoop(b, constIndex(b, 0), constIndex(b, s.headDim), constIndex(b, kSquare),
              [&](ImplicitLocOpBuilder &db, Value d0) {
                SmallVector<Value> square;
                for (Value row : rows)
                  square.push_back(
                      loadVector(db, ops.kCache, arith::AddIOp::create(db, row, d0), kSquare));
                SmallVector<Value> columns = transpose8x8(db, square);
                Value at = arith::MulIOp::create(db, d0, constIndex(db, T));
                for (int64_t c = 0; c < kSquare; ++c)
                  storeVector(db, columns[c], scratch.keys, addConst(db, at, c * T + j0));
              });
    }
  }

  // The inner step of both products: acc[2 i + h] += scalarOf(i) * vector h of |source| at |at|
  // (h = 0, 1) for the pass's four queries.
  void multiplyAddPair(ImplicitLocOpBuilder &b, SmallVectorImpl<Value> &acc, Value source,
                       Value at, llvm::function_ref<Value(int64_t i)> scalarOf) const {
    auto vt = VectorType::get({L}, b.getF32Type());
    Value pair[2] = {loadVector(b, source, at, L), loadVector(b, source, addConst(b, at, L), L)};
    for (int64_t i = 0; i < kPassQueries; ++i) {
      Value splat = vector::BroadcastOp::create(b, vt, scalarOf(i));
      for (int64_t h = 0; h < 2; ++h)
        acc[2 * i + h] = mulAdd(b, splat, pair[h], acc[2 * i + h], s.fma);
    }
  }

  // The pass's scores: vector 2 i + h holds query i's raw dot products with tile positions
  // h L .. h L + L - 1.
  SmallVector<Value> scores(ImplicitLocOpBuilder &b, ArrayRef<TileQuery> queries) const {
    auto vt = VectorType::get({L}, b.getF32Type());
    SmallVector<Value> init(2 * kPassQueries, constFloat(b, vt, 0.0));
    return forLoop(
        b, constIndex(b, 0), constIndex(b, s.headDim), constIndex(b, kScoreUnroll), init,
        [&](ImplicitLocOpBuilder &db, Value d0, ValueRange carried) {
          SmallVector<Value> acc(carried);
          for (int64_t u = 0; u < kScoreUnroll; ++u) {
            Value d = addConst(db, d0, u);
            multiplyAddPair(db, acc, scratch.keys, arith::MulIOp::create(db, d, constIndex(db, T)),
                            [&](int64_t i) {
                              return memref::LoadOp::create(
                                  db, ops.q,
                                  ValueRange{arith::AddIOp::create(db, queries[i].qBase, d)});
                            });
          }
          return acc;
        });
  }

  // The online softmax of the pass's queries over the tile: stores each query's new m and l and
  // its weights (scratch.weights[i * T + j]); returns each query's correction factor alpha for
  // its accumulator. Every query's state is read before any is written, so a repeated query
  // computes and stores the same values twice.
  SmallVector<Value> softmax(ImplicitLocOpBuilder &b, ArrayRef<TileQuery> queries,
                             ArrayRef<Value> raw, Value tileStart, Value pos) const {
    Type f32 = b.getF32Type(), i32 = b.getI32Type();
    auto vt = VectorType::get({L}, f32);
    auto it = VectorType::get({L}, i32);
    SmallVector<int32_t> laneIndex;
    for (int64_t l = 0; l < L; ++l)
      laneIndex.push_back(int32_t(l));
    Value lanes = arith::ConstantOp::create(b, it, DenseElementsAttr::get(it, ArrayRef(laneIndex)));
    Value first = vector::BroadcastOp::create(b, it, arith::IndexCastOp::create(b, i32, tileStart));
    Value positions[2];
    positions[0] = arith::AddIOp::create(b, first, lanes);
    positions[1] = arith::AddIOp::create(b, positions[0], constInt(b, it, L));

    SmallVector<Value> mOld, lOld;
    for (const TileQuery &query : queries) {
      mOld.push_back(
          memref::LoadOp::create(b, ops.state, ValueRange{addConst(b, query.stateBase, s.mOffset)}));
      lOld.push_back(
          memref::LoadOp::create(b, ops.state, ValueRange{addConst(b, query.stateBase, s.lOffset)}));
    }
    SmallVector<Value> alphas, mNew, lNew;
    for (int64_t i = 0; i < kPassQueries; ++i) {
      Value last = vector::BroadcastOp::create(
          b, it,
          arith::IndexCastOp::create(b, i32, arith::AddIOp::create(b, pos, queries[i].t)));
      Value valid[2], scaled[2];
      for (int64_t h = 0; h < 2; ++h) {
        valid[h] = arith::CmpIOp::create(b, arith::CmpIPredicate::sle, positions[h], last);
        scaled[h] = arith::SelectOp::create(
            b, valid[h], arith::MulFOp::create(b, raw[2 * i + h], constFloat(b, vt, s.scale)),
            constFloat(b, vt, -INFINITY));
      }
      Value old = vector::BroadcastOp::create(b, vt, mOld[i]);
      Value m = maxOf(b, old, segmentMax(b, maxOf(b, scaled[0], scaled[1]), L));
      Value alpha = softmaxExp(b, arith::SubFOp::create(b, old, m), s.fma);
      Value sum;
      for (int64_t h = 0; h < 2; ++h) {
        Value p = arith::SelectOp::create(
            b, valid[h], softmaxExp(b, arith::SubFOp::create(b, scaled[h], m), s.fma),
            constFloat(b, vt, 0.0));
        storeVector(b, p, scratch.weights, constIndex(b, i * T + h * L));
        sum = sum ? Value(arith::AddFOp::create(b, sum, p)) : p;
      }
      Value alpha0 = vector::ExtractOp::create(b, alpha, ArrayRef<int64_t>{0});
      alphas.push_back(alpha0);
      mNew.push_back(vector::ExtractOp::create(b, m, ArrayRef<int64_t>{0}));
      lNew.push_back(mulAdd(b, lOld[i], alpha0, reduceAdd(b, sum), s.fma));
    }
    for (int64_t i = 0; i < kPassQueries; ++i) {
      memref::StoreOp::create(b, mNew[i], ops.state,
                              ValueRange{addConst(b, queries[i].stateBase, s.mOffset)});
      memref::StoreOp::create(b, lNew[i], ops.state,
                              ValueRange{addConst(b, queries[i].stateBase, s.lOffset)});
    }
    return alphas;
  }

  // acc_i = acc_i * alpha_i + sum_j weights[i][j] V[tileStart + j], a pair of head_dim vectors
  // at a time.
  void accumulateValues(ImplicitLocOpBuilder &b, ArrayRef<TileQuery> queries,
                        ArrayRef<Value> alphas, Value tileStart) const {
    auto vt = VectorType::get({L}, b.getF32Type());
    SmallVector<Value> rows;
    for (int64_t j = 0; j < T; ++j)
      rows.push_back(rowAt(b, tileStart, j));
    SmallVector<Value> alphaSplats;
    for (Value alpha : alphas)
      alphaSplats.push_back(vector::BroadcastOp::create(b, vt, alpha));
    forLoop(b, constIndex(b, 0), constIndex(b, s.headDim), constIndex(b, 2 * L),
            [&](ImplicitLocOpBuilder &cb, Value d0) {
              SmallVector<Value> acc;
              for (int64_t i = 0; i < kPassQueries; ++i)
                for (int64_t h = 0; h < 2; ++h)
                  acc.push_back(arith::MulFOp::create(
                      cb,
                      loadVector(cb, ops.state,
                                 addConst(cb, arith::AddIOp::create(cb, queries[i].stateBase, d0),
                                          h * L),
                                 L),
                      alphaSplats[i]));
              for (int64_t j = 0; j < T; ++j) {
                multiplyAddPair(cb, acc, ops.vCache, arith::AddIOp::create(cb, rows[j], d0),
                                [&](int64_t i) {
                                  return memref::LoadOp::create(
                                      cb, scratch.weights, ValueRange{constIndex(cb, i * T + j)});
                                });
              }
              for (int64_t i = 0; i < kPassQueries; ++i)
                for (int64_t h = 0; h < 2; ++h)
                  storeVector(cb, acc[2 * i + h], ops.state,
                              addConst(cb, arith::AddIOp::create(cb, queries[i].stateBase, d0),
                                       h * L));
            });
  }

private:
  const AttentionTilesShape &s;
  const AttentionTilesOperands &ops;
  const AttentionTilesScratch &scratch;
  Value kvOffset, blockLast;
  const int64_t L, T;
};

} // namespace

bool attentionTilesApply(int64_t headDim, int64_t lanes) {
  // 8 lanes measured on Zen 2 and Sapphire Rapids, 16 on Sapphire Rapids
  // (benchmarks/device-cpu-kernels.sh run attention).
  return lanes >= 8 && headDim % (2 * lanes) == 0;
}

AttentionTilesScratch allocateAttentionTilesScratch(ImplicitLocOpBuilder &b,
                                                    const AttentionTilesShape &shape) {
  const int64_t tile = 2 * shape.lanes;
  auto floatsBuffer = [&](int64_t floats) {
    return memref::AllocaOp::create(b, MemRefType::get({floats}, b.getF32Type()), ValueRange{},
                                    ValueRange{}, b.getI64IntegerAttr(64))
        .getResult();
  };
  return {floatsBuffer(tile * shape.headDim), floatsBuffer(kPassQueries * tile)};
}

void emitAttentionTiles(ImplicitLocOpBuilder &b, const AttentionTilesShape &shape,
                        const AttentionTilesOperands &ops, const AttentionTilesScratch &scratch,
                        Value count, TileQueryOf queryOf, Value pos, Value kvOffset,
                        Value blockLast) {
  TilesEmitter e(shape, ops, scratch, kvOffset, blockLast);
  Type f32 = b.getF32Type();
  auto vt = VectorType::get({shape.lanes}, f32);
  const int64_t T = 2 * shape.lanes;
  Value c0 = constIndex(b, 0), c1 = constIndex(b, 1);
  // State: acc and l start at -0.0, which adds like 0.0 but whose bytes do not repeat, so LLVM
  // does not turn the stores into a memset call the kernel library could not resolve.
  forLoop(b, c0, count, c1, [&](ImplicitLocOpBuilder &qb, Value i) {
    Value base = queryOf(qb, i).stateBase;
    for (int64_t d = 0; d < shape.headDim; d += shape.lanes)
      storeVector(qb, constFloat(qb, vt, -0.0), ops.state, addConst(qb, base, d));
    memref::StoreOp::create(qb, constFloat(qb, f32, -0.0), ops.state,
                            ValueRange{addConst(qb, base, shape.lOffset)});
    memref::StoreOp::create(qb, constFloat(qb, f32, -FLT_MAX), ops.state,
                            ValueRange{addConst(qb, base, shape.mOffset)});
  });

  Value lastQuery = arith::SubIOp::create(b, count, c1);
  Value passEnd = arith::MulIOp::create(
      b,
      arith::DivUIOp::create(b, addConst(b, count, kPassQueries - 1),
                             constIndex(b, kPassQueries)),
      constIndex(b, kPassQueries));
  Value tailEnd = addConst(b, blockLast, 1);
  forLoop(b, c0, tailEnd, constIndex(b, T), [&](ImplicitLocOpBuilder &tb, Value tileStart) {
    e.transposeKeys(tb, tileStart);
    forLoop(tb, c0, passEnd, constIndex(tb, kPassQueries),
            [&](ImplicitLocOpBuilder &qb, Value i0) {
              SmallVector<TileQuery> queries;
              for (int64_t k = 0; k < kPassQueries; ++k)
                queries.push_back(
                    queryOf(qb, arith::MinUIOp::create(qb, addConst(qb, i0, k), lastQuery)));
              SmallVector<Value> raw = e.scores(qb, queries);
              SmallVector<Value> alphas = e.softmax(qb, queries, raw, tileStart, pos);
              e.accumulateValues(qb, queries, alphas, tileStart);
            });
  });

  // out = acc / l.
  forLoop(b, c0, count, c1, [&](ImplicitLocOpBuilder &qb, Value i) {
    TileQuery query = queryOf(qb, i);
    Value l = memref::LoadOp::create(qb, ops.state,
                                     ValueRange{addConst(qb, query.stateBase, shape.lOffset)});
    Value inv = vector::BroadcastOp::create(
        qb, vt, arith::DivFOp::create(qb, constFloat(qb, f32, 1.0), l));
    for (int64_t d = 0; d < shape.headDim; d += shape.lanes)
      storeVector(qb,
                  arith::MulFOp::create(
                      qb, loadVector(qb, ops.state, addConst(qb, query.stateBase, d), shape.lanes),
                      inv),
                  ops.out, addConst(qb, query.outBase, d));
  });
}

} // namespace tern::cpu
