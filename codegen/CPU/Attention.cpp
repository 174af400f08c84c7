// attention: causal grouped-query attention over one layer's KV cache, one work item per head.
//
// The ABI gives a kernel no scratch memory and the context can be thousands of positions, so
// scores are never stored: an online softmax keeps, per query (one row of one head), a running
// maximum m, the running sum l of exp(score - m) and the weighted sum acc of value rows, and
// rescales them once per block of positions when the maximum grows. Everything is f32; the
// reference computes in double, and the difference stays far below the tests' 1e-4.
//
// A call's heads are taken kv head by kv head: the queries of the slice's heads that share one
// (a GQA group) and of a block of rows share every key and value row, so each is read from
// memory once per row block. Positions below pos + t0 + 1 (t0 the row block's first row) are
// attended by every row of the block; they go in tiles of about 16 KiB of key and value rows,
// and each pass of queries takes a whole tile with its state in registers while the tile stays
// in L1 for the next pass. Between tiles the state waits in a fixed stack array (at most
// kStateBytes, which bounds the rows of a row block). The last few blocks (up to the row
// block's last row's position) mask scores per query and clamp the rows they load, so nothing
// past the written cache is read. Two ways to do a block:
//
// - Dot products (any head_dim; decode): a pass is 1, 2 or 4 queries, which share each key and
//   value vector loaded. Each query's P dot products are P vectors of partial sums, folded into
//   one vector of P scores by a transposing add tree (no horizontal reduction per position).
//   Then per block: a butterfly maximum, one vector exp for the weights, P broadcast
//   multiply-adds of value rows. Software-pipelined: block b + 1's dot products are issued
//   between block b's softmax and its value multiply-adds, and block b + 2's rows are
//   prefetched.
// - Queries in lanes (head_dim up to 64, 16 on SSE2; a row block of at least lanes_min_queries
//   queries, i.e. prefill): a pass is a vector's worth of queries, one per lane, q transposed. A
//   position's scores for all of them are head_dim multiply-adds by broadcast key elements, and
//   nothing reduces across lanes: the block maximum is lane-wise, one exp per position, and
//   acc[i] takes head_dim multiply-adds by broadcast value elements.
//
// Spec parameters beyond the family's: lanes_min_queries (default 4; 0 = never) moves the
// switch between the two ways (tests use it to run each on every shape).
#include "codegen/CPU/AttentionTiles.h"
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/KernelGenerators.h"
#include "codegen/CPU/VectorMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cfloat>
#include <cmath>

namespace tern::cpu {

using namespace mlir;

namespace {

// A static span of head_dim held in one vector.
struct Chunk {
  int64_t offset, lanes;
};

// Bytes of per-query state a row block keeps on the stack between tiles. More rows per block
// means fewer passes over the cache: 32 KiB measured up to 20% faster than 16 KiB in prefill,
// 64 KiB little more.
constexpr int64_t kStateBytes = 32 * 1024;

// Bytes of key and value rows a tile of positions spans.
constexpr int64_t kTileBytes = 16 * 1024;

// How many blocks ahead the dot-product path prefetches key and value rows: in decode each row
// is used once, straight from memory (up to 13% faster at 2048 positions).
constexpr int64_t kPrefetchBlocks = 2;

// |value|, through an empty inline asm that also takes |dependsOn|: LLVM can no longer see that
// the result is |value| or that it does not change with |dependsOn|. Cache offsets pass through
// it once per query, so LLVM does not hoist the loads of a block shared by all queries out of
// the query loop, which would copy the block's rows to the stack (there are more of them than
// registers) and read them from there.
Value opaque(ImplicitLocOpBuilder &b, Value value, Value dependsOn) {
  Type i64 = b.getI64Type();
  auto toI64 = [&](Value v) { return arith::IndexCastOp::create(b, i64, v).getResult(); };
  Value result = LLVM::InlineAsmOp::create(b, i64, ValueRange{toI64(value), toI64(dependsOn)}, "",
                                           "=r,0,r", /*has_side_effects=*/false,
                                           /*is_align_stack=*/false, LLVM::TailCallKind::None,
                                           LLVM::AsmDialectAttr(), ArrayAttr())
                     .getRes();
  return arith::IndexCastOp::create(b, b.getIndexType(), result);
}

bool isPowerOfTwo(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

// Lane i of the result is the sum of the lanes of parts[i]; all parts are vector<W x f32> with
// W = parts.size() a power of two. Each level adds the lower and upper halves of every segment
// of two vectors into one vector of twice the segments: W - 1 adds and 2 (W - 1) shuffles
// instead of W horizontal reductions. The tree leaves lanes in a scrambled order, which is
// computed first on labels so the parts can be fed in the order that comes out right.
Value transposeReduce(ImplicitLocOpBuilder &b, ArrayRef<Value> parts) {
  const int64_t w = int64_t(parts.size());
  auto masks = [&](int64_t segment, bool upper) {
    SmallVector<int64_t> mask;
    for (int64_t s = 0; s < w; s += segment) {
      for (int64_t i = 0; i < segment / 2; ++i)
        mask.push_back(s + i + (upper ? segment / 2 : 0));
      for (int64_t i = 0; i < segment / 2; ++i)
        mask.push_back(w + s + i + (upper ? segment / 2 : 0));
    }
    return mask;
  };
  // Which input each lane of the final vector sums.
  std::vector<std::vector<int64_t>> labels(w, std::vector<int64_t>(w));
  for (int64_t i = 0; i < w; ++i)
    labels[i].assign(w, i);
  for (int64_t segment = w; segment > 1; segment /= 2) {
    std::vector<std::vector<int64_t>> next;
    for (size_t k = 0; k + 1 < labels.size(); k += 2) {
      std::vector<int64_t> lane;
      for (int64_t m : masks(segment, false))
        lane.push_back(m < w ? labels[k][m] : labels[k + 1][m - w]);
      next.push_back(lane);
    }
    labels = std::move(next);
  }
  SmallVector<Value> vecs(w);
  for (int64_t lane = 0; lane < w; ++lane)
    vecs[labels[0][lane]] = parts[lane];
  for (int64_t segment = w; segment > 1; segment /= 2) {
    SmallVector<Value> next;
    for (size_t k = 0; k + 1 < vecs.size(); k += 2) {
      Value lo = vector::ShuffleOp::create(b, vecs[k], vecs[k + 1], masks(segment, false));
      Value hi = vector::ShuffleOp::create(b, vecs[k], vecs[k + 1], masks(segment, true));
      next.push_back(arith::AddFOp::create(b, lo, hi));
    }
    vecs = std::move(next);
  }
  return vecs.front();
}

// Concatenation of equally wide vectors (a power-of-two count of them).
Value concat(ImplicitLocOpBuilder &b, SmallVector<Value> parts) {
  while (parts.size() > 1) {
    SmallVector<Value> next;
    for (size_t k = 0; k < parts.size(); k += 2) {
      const int64_t n = cast<VectorType>(parts[k].getType()).getNumElements();
      SmallVector<int64_t> mask;
      for (int64_t i = 0; i < 2 * n; ++i)
        mask.push_back(i);
      next.push_back(vector::ShuffleOp::create(b, parts[k], parts[k + 1], mask));
    }
    parts = std::move(next);
  }
  return parts.front();
}

// Lanes [first, first + count) of |v|.
Value lanesOf(ImplicitLocOpBuilder &b, Value v, int64_t first, int64_t count) {
  if (first == 0 && count == cast<VectorType>(v.getType()).getNumElements())
    return v;
  SmallVector<int64_t> mask;
  for (int64_t i = 0; i < count; ++i)
    mask.push_back(first + i);
  return vector::ShuffleOp::create(b, v, v, mask);
}

// A vector of scalars.size() segments of |segment| lanes, segment i holding scalars[i].
Value segmentSplat(ImplicitLocOpBuilder &b, ArrayRef<Value> scalars, int64_t segment) {
  SmallVector<Value> parts;
  for (Value s : scalars)
    parts.push_back(vector::BroadcastOp::create(b, VectorType::get({segment}, s.getType()), s));
  return concat(b, parts);
}

// Generates the kernel's block updates for a pass of one or more queries over the same key and
// value rows (see the file comment). A pass's state is {m, l, acc...}: m and l are vectors of
// one P-lane segment per query (m broadcast over its segment, l the per-lane sums of
// exp(score - m)), then each query's head_dim accumulator, one vector per chunk.
class AttentionEmitter {
public:
  int64_t headDim, width, context, positions; // positions per block (P)
  bool fma;
  SmallVector<Chunk> chunks;
  Value q, kCache, vCache, out, state;
  double scale;
  // Layout of one query's state in |state|: acc (head_dim), l (P), m.
  int64_t lOffset, mOffset, stateStride;

  int64_t numChunks() const { return int64_t(chunks.size()); }

  // The P positions' dot products of each query, folded to a vector of queries * P scores.
  Value scores(ImplicitLocOpBuilder &b, ArrayRef<Value> qBase, ArrayRef<Value> rowBase) const {
    const int64_t w = chunks.front().lanes, queries = int64_t(qBase.size());
    const int64_t n = queries * positions;
    Type f32 = b.getF32Type();
    auto wideType = VectorType::get({w}, f32);
    SmallVector<Value> partial(n); // [query * P + position]
    // Chunk-outer: a chunk of each query is live at a time beside the partial sums, and each
    // key chunk is loaded once for all queries.
    for (const Chunk &c : chunks) {
      SmallVector<Value> qc;
      for (Value base : qBase)
        qc.push_back(loadVector(b, q, addConst(b, base, c.offset), c.lanes));
      for (int64_t j = 0; j < positions; ++j) {
        Value k = loadVector(b, kCache, addConst(b, rowBase[j], c.offset), c.lanes);
        for (int64_t i = 0; i < queries; ++i) {
          Value &acc = partial[i * positions + j];
          if (c.lanes != w) { // a short last chunk: widen its product with zeros
            Value wide = vector::InsertStridedSliceOp::create(
                b, arith::MulFOp::create(b, qc[i], k), constFloat(b, wideType, 0.0),
                ArrayRef<int64_t>{0}, ArrayRef<int64_t>{1});
            acc = arith::AddFOp::create(b, acc, wide);
          } else {
            acc = acc ? mulAdd(b, qc[i], k, acc, fma) : Value(arith::MulFOp::create(b, qc[i], k));
          }
        }
      }
    }
    if (!isPowerOfTwo(w)) {
      SmallVector<Value> sums;
      for (Value p : partial)
        sums.push_back(reduceAdd(b, p));
      return vector::FromElementsOp::create(b, VectorType::get({n}, f32), sums);
    }
    const int64_t padded = std::max(n, w);
    while (int64_t(partial.size()) < padded)
      partial.push_back(constFloat(b, wideType, 0.0));
    SmallVector<Value> groups;
    for (int64_t g = 0; g < padded; g += w)
      groups.push_back(transposeReduce(b, ArrayRef<Value>(partial).slice(g, w)));
    return lanesOf(b, concat(b, groups), 0, n);
  }

  // Scaled scores; lanes not in |valid| (tail blocks) are -inf.
  Value maskedScores(ImplicitLocOpBuilder &b, ArrayRef<Value> qBase, ArrayRef<Value> rowBase,
                     Value valid) const {
    Value raw = scores(b, qBase, rowBase);
    Value s = arith::MulFOp::create(b, raw, constFloat(b, raw.getType(), scale));
    if (valid)
      s = arith::SelectOp::create(b, valid, s, constFloat(b, raw.getType(), -INFINITY));
    return s;
  }

  // The softmax half of a block's update: the new maxima, the factors alpha that rescale the old
  // state, the block's weights p = exp(s - m) and the new l, all vectors of P-lane segments.
  struct Weights {
    Value m, alpha, p, l;
  };
  Weights softmax(ImplicitLocOpBuilder &b, Value s, Value valid, ValueRange st) const {
    Weights w;
    w.m = maxOf(b, st[0], segmentMax(b, s, positions));
    w.alpha = softmaxExp(b, arith::SubFOp::create(b, st[0], w.m), fma);
    w.p = softmaxExp(b, arith::SubFOp::create(b, s, w.m), fma);
    if (valid)
      w.p = arith::SelectOp::create(b, valid, w.p, constFloat(b, s.getType(), 0.0));
    w.l = mulAdd(b, st[1], w.alpha, w.p, fma);
    return w;
  }

  // The value half: acc = acc * alpha + sum_j p_j v_j, in several interleaved partial sums when
  // there are few accumulators, so the multiply-adds of consecutive positions do not wait on
  // each other. Returns the new state.
  SmallVector<Value> accumulate(ImplicitLocOpBuilder &b, const Weights &w, ArrayRef<Value> rowBase,
                                ValueRange st) const {
    const int64_t queries = cast<VectorType>(w.p.getType()).getNumElements() / positions;
    const int64_t nc = numChunks(), accs = queries * nc;
    const int64_t sets = accs >= 8 ? 1 : accs >= 4 ? 2 : 4;
    std::vector<SmallVector<Value>> sum(sets, SmallVector<Value>(accs)); // [set][query * nc + c]
    for (int64_t j = 0; j < positions; ++j) {
      SmallVector<Value> v;
      for (const Chunk &c : chunks)
        v.push_back(loadVector(b, vCache, addConst(b, rowBase[j], c.offset), c.lanes));
      auto &acc = sum[j % sets];
      for (int64_t i = 0; i < queries; ++i) {
        Value pj = vector::ExtractOp::create(b, w.p, ArrayRef<int64_t>{i * positions + j});
        for (int64_t c = 0; c < nc; ++c) {
          Value splat = vector::BroadcastOp::create(b, v[c].getType(), pj);
          Value &a = acc[i * nc + c];
          a = a ? mulAdd(b, splat, v[c], a, fma) : Value(arith::MulFOp::create(b, splat, v[c]));
        }
      }
    }
    SmallVector<Value> next{w.m, w.l};
    for (int64_t i = 0; i < queries; ++i) {
      Value alpha = vector::ExtractOp::create(b, w.alpha, ArrayRef<int64_t>{i * positions});
      for (int64_t c = 0; c < nc; ++c) {
        Value total = sum[0][i * nc + c];
        for (int64_t k = 1; k < sets && sum[k][i * nc + c]; ++k)
          total = arith::AddFOp::create(b, total, sum[k][i * nc + c]);
        Value acc = st[2 + i * nc + c];
        next.push_back(
            mulAdd(b, acc, vector::BroadcastOp::create(b, acc.getType(), alpha), total, fma));
      }
    }
    return next;
  }

  // One block's whole update.
  SmallVector<Value> update(ImplicitLocOpBuilder &b, ArrayRef<Value> qBase, ArrayRef<Value> rowBase,
                            Value valid, ValueRange st) const {
    Weights w = softmax(b, maskedScores(b, qBase, rowBase, valid), valid, st);
    return accumulate(b, w, rowBase, st);
  }

  SmallVector<Value> loadState(ImplicitLocOpBuilder &b, ArrayRef<Value> at) const {
    SmallVector<Value> m, l, acc;
    for (Value base : at) {
      m.push_back(memref::LoadOp::create(b, state, ValueRange{addConst(b, base, mOffset)}));
      l.push_back(loadVector(b, state, addConst(b, base, lOffset), positions));
      for (const Chunk &c : chunks)
        acc.push_back(loadVector(b, state, addConst(b, base, c.offset), c.lanes));
    }
    SmallVector<Value> st{segmentSplat(b, m, positions), concat(b, l)};
    st.append(acc);
    return st;
  }

  void storeState(ImplicitLocOpBuilder &b, ArrayRef<Value> at, ValueRange st) const {
    for (int64_t i = 0; i < int64_t(at.size()); ++i) {
      Value m = vector::ExtractOp::create(b, st[0], ArrayRef<int64_t>{i * positions});
      memref::StoreOp::create(b, m, state, ValueRange{addConst(b, at[i], mOffset)});
      storeVector(b, lanesOf(b, st[1], i * positions, positions), state,
                  addConst(b, at[i], lOffset));
      for (int64_t c = 0; c < numChunks(); ++c)
        storeVector(b, st[2 + i * numChunks() + c], state, addConst(b, at[i], chunks[c].offset));
    }
  }

  // out = acc / sum(l) for each query of the pass.
  void finish(ImplicitLocOpBuilder &b, ArrayRef<Value> outBase, ValueRange st) const {
    Type f32 = b.getF32Type();
    for (int64_t i = 0; i < int64_t(outBase.size()); ++i) {
      Value l = reduceAdd(b, lanesOf(b, st[1], i * positions, positions));
      Value inv = arith::DivFOp::create(b, constFloat(b, f32, 1.0), l);
      for (int64_t c = 0; c < numChunks(); ++c) {
        Value acc = st[2 + i * numChunks() + c];
        Value splat = vector::BroadcastOp::create(b, acc.getType(), inv);
        storeVector(b, arith::MulFOp::create(b, acc, splat), out,
                    addConst(b, outBase[i], chunks[c].offset));
      }
    }
  }

  // ---- Queries in lanes (small head_dim) ----
  // A lanes pass holds |lanes| queries, one per vector lane: q transposed (qt[i] = element i of
  // every query, pre-scaled), m, l and acc[i] are vectors over the queries. A position's scores
  // are head_dim multiply-adds of qt[i] by a broadcast key element, and no step reduces across
  // lanes: per block of positions, a lane-wise maximum, one exp per position and head_dim
  // multiply-adds per position into acc. State in |state| at a pass's base: m, l, acc (head_dim
  // vectors), qt (head_dim vectors). Up to kLanesUnrolled elements the element loops are
  // unrolled and acc stays in registers between blocks; beyond, they loop over groups of
  // kLanesGroup elements with acc in |state| (code size and compile time stay bounded).
  static constexpr int64_t kLanesUnrolled = 8, kLanesGroup = 8;
  int64_t lanes = 0, lanesPositions = 0;
  int64_t lanesStateFloats() const { return (2 + 2 * headDim) * lanes; }
  bool accInRegisters() const { return headDim <= kLanesUnrolled; }

  // Runs |body| for every element i (an index) of head_dim, threading |carried| through.
  using ElementBody = std::function<SmallVector<Value>(ImplicitLocOpBuilder &, Value i,
                                                       ValueRange carried)>;
  SmallVector<Value> forElements(ImplicitLocOpBuilder &b, ValueRange init,
                                 const ElementBody &body) const {
    SmallVector<Value> carried(init);
    const int64_t looped = accInRegisters() ? 0 : headDim / kLanesGroup * kLanesGroup;
    if (looped > 0)
      carried = forLoop(b, constIndex(b, 0), constIndex(b, looped), constIndex(b, kLanesGroup),
                        carried, [&](ImplicitLocOpBuilder &lb, Value i0, ValueRange c) {
                          SmallVector<Value> next(c);
                          for (int64_t k = 0; k < kLanesGroup; ++k)
                            next = body(lb, addConst(lb, i0, k), next);
                          return next;
                        });
    for (int64_t i = looped; i < headDim; ++i)
      carried = body(b, constIndex(b, i), carried);
    return carried;
  }
  // base + (first + i) * lanes: vector |first| + i of a pass's state.
  Value lanesAt(ImplicitLocOpBuilder &b, Value base, int64_t first, Value i) const {
    return arith::AddIOp::create(
        b, addConst(b, base, first * lanes), arith::MulIOp::create(b, i, constIndex(b, lanes)));
  }

  // Stores the pass's transposed, scaled queries and its initial state.
  void lanesInit(ImplicitLocOpBuilder &b, Value base, ArrayRef<Value> qBase) const {
    Type f32 = b.getF32Type();
    auto vecType = VectorType::get({lanes}, f32);
    storeVector(b, constFloat(b, vecType, -FLT_MAX), state, base);
    // See the -0.0 note at the other state's initialisation.
    storeVector(b, constFloat(b, vecType, -0.0), state, addConst(b, base, lanes));
    forElements(b, {}, [&](ImplicitLocOpBuilder &eb, Value i, ValueRange) {
      SmallVector<Value> elements;
      for (Value qb : qBase)
        elements.push_back(
            memref::LoadOp::create(eb, q, ValueRange{arith::AddIOp::create(eb, qb, i)}));
      Value qt = arith::MulFOp::create(eb, vector::FromElementsOp::create(eb, vecType, elements),
                                       constFloat(eb, vecType, scale));
      storeVector(eb, qt, state, lanesAt(eb, base, 2 + headDim, i));
      storeVector(eb, constFloat(eb, vecType, -0.0), state, lanesAt(eb, base, 2, i));
      return SmallVector<Value>{};
    });
  }

  // {m, l} and, with accInRegisters(), acc.
  SmallVector<Value> lanesLoad(ImplicitLocOpBuilder &b, Value base) const {
    const int64_t n = accInRegisters() ? 2 + headDim : 2;
    SmallVector<Value> st;
    for (int64_t i = 0; i < n; ++i)
      st.push_back(loadVector(b, state, addConst(b, base, i * lanes), lanes));
    return st;
  }
  void lanesStore(ImplicitLocOpBuilder &b, Value base, ValueRange st) const {
    for (int64_t i = 0; i < int64_t(st.size()); ++i)
      storeVector(b, st[i], state, addConst(b, base, i * lanes));
  }

  // One block of lanesPositions positions at |rowBase|; in tail blocks |start| is the block's
  // first position and |last| (vector of i32) each lane's last attended position.
  SmallVector<Value> lanesUpdate(ImplicitLocOpBuilder &b, Value base, ArrayRef<Value> rowBase,
                                 Value start, Value last, ValueRange st) const {
    Type f32 = b.getF32Type();
    auto vecType = VectorType::get({lanes}, f32);
    const int64_t np = lanesPositions;
    auto broadcastAt = [&](ImplicitLocOpBuilder &eb, Value cache, Value row, Value i) -> Value {
      return vector::BroadcastOp::create(
          eb, vecType,
          memref::LoadOp::create(eb, cache, ValueRange{arith::AddIOp::create(eb, row, i)}));
    };
    SmallVector<Value> zeros(np, constFloat(b, vecType, 0.0));
    SmallVector<Value> s = forElements(
        b, zeros, [&](ImplicitLocOpBuilder &eb, Value i, ValueRange c) {
          Value qt = loadVector(eb, state, lanesAt(eb, base, 2 + headDim, i), lanes);
          SmallVector<Value> next;
          for (int64_t j = 0; j < np; ++j)
            next.push_back(mulAdd(eb, qt, broadcastAt(eb, kCache, rowBase[j], i), c[j], fma));
          return next;
        });
    SmallVector<Value> valid(np);
    if (last) {
      Type i32 = b.getI32Type();
      auto maskType = VectorType::get({lanes}, i32);
      Value start32 = arith::IndexCastOp::create(b, i32, start);
      for (int64_t j = 0; j < np; ++j) {
        Value position = vector::BroadcastOp::create(
            b, maskType, arith::AddIOp::create(b, start32, constInt(b, i32, j)));
        valid[j] = arith::CmpIOp::create(b, arith::CmpIPredicate::sle, position, last);
        s[j] = arith::SelectOp::create(b, valid[j], s[j], constFloat(b, vecType, -INFINITY));
      }
    }
    // Lane-wise block maximum by a tree.
    SmallVector<Value> level(s);
    while (level.size() > 1) {
      SmallVector<Value> next;
      for (size_t k = 0; k + 1 < level.size(); k += 2)
        next.push_back(maxOf(b, level[k], level[k + 1]));
      if (level.size() % 2)
        next.push_back(level.back());
      level = std::move(next);
    }
    Value m = maxOf(b, st[0], level.front());
    Value alpha = softmaxExp(b, arith::SubFOp::create(b, st[0], m), fma);
    SmallVector<Value> p(np);
    for (int64_t j = 0; j < np; ++j) {
      p[j] = softmaxExp(b, arith::SubFOp::create(b, s[j], m), fma);
      if (last)
        p[j] = arith::SelectOp::create(b, valid[j], p[j], constFloat(b, vecType, 0.0));
    }
    Value psum;
    for (Value pj : p)
      psum = psum ? Value(arith::AddFOp::create(b, psum, pj)) : pj;
    SmallVector<Value> next{m, mulAdd(b, st[1], alpha, psum, fma)};
    // acc[i] = acc[i] * alpha + sum_j p_j v_j[i], two interleaved chains per element.
    auto accumulate = [&](ImplicitLocOpBuilder &eb, Value i, Value acc) -> Value {
      Value sum[2];
      for (int64_t j = 0; j < np; ++j) {
        Value v = broadcastAt(eb, vCache, rowBase[j], i);
        Value &part = sum[j % 2];
        part = part ? mulAdd(eb, p[j], v, part, fma) : Value(arith::MulFOp::create(eb, p[j], v));
      }
      Value total = sum[1] ? Value(arith::AddFOp::create(eb, sum[0], sum[1])) : sum[0];
      return mulAdd(eb, acc, alpha, total, fma);
    };
    if (accInRegisters()) {
      for (int64_t i = 0; i < headDim; ++i)
        next.push_back(accumulate(b, constIndex(b, i), st[2 + i]));
      return next;
    }
    forElements(b, {}, [&](ImplicitLocOpBuilder &eb, Value i, ValueRange) {
      Value at = lanesAt(eb, base, 2, i);
      storeVector(eb, accumulate(eb, i, loadVector(eb, state, at, lanes)), state, at);
      return SmallVector<Value>{};
    });
    return next;
  }

  // out = acc / l, lane by lane.
  void lanesFinish(ImplicitLocOpBuilder &b, Value base, ArrayRef<Value> outBase,
                   ValueRange st) const {
    Value inv = arith::DivFOp::create(b, constFloat(b, st[1].getType(), 1.0), st[1]);
    forElements(b, {}, [&](ImplicitLocOpBuilder &eb, Value i, ValueRange) {
      Value acc;
      if (accInRegisters())
        acc = st[2 + cast<arith::ConstantIndexOp>(i.getDefiningOp()).value()];
      else
        acc = loadVector(eb, state, lanesAt(eb, base, 2, i), lanes);
      Value o = arith::MulFOp::create(eb, acc, inv);
      for (int64_t lane = 0; lane < lanes; ++lane)
        memref::StoreOp::create(eb, vector::ExtractOp::create(eb, o, ArrayRef<int64_t>{lane}),
                                out, ValueRange{arith::AddIOp::create(eb, outBase[lane], i)});
      return SmallVector<Value>{};
    });
  }

  // Prefetches every cache line of the key and value rows of the block at |start| (clamped to
  // the cache), for decode, where nothing else has brought them in yet.
  void prefetchBlock(ImplicitLocOpBuilder &b, Value start, Value kvOffset) const {
    if (context < positions)
      return;
    Value first = arith::MinUIOp::create(b, start, constIndex(b, context - positions));
    for (Value row : blockRows(b, first, kvOffset, Value()))
      for (int64_t o = 0; o < headDim; o += 64 / int64_t(sizeof(float)))
        for (Value cache : {kCache, vCache})
          memref::PrefetchOp::create(b, cache, ValueRange{addConst(b, row, o)},
                                     /*isWrite=*/false, /*localityHint=*/3,
                                     /*isDataCache=*/true);
  }

  // The cache offsets of the P rows of the block starting at position |start| (kv head at
  // |kvOffset|); with |clampTo| rows past it repeat that row.
  SmallVector<Value> blockRows(ImplicitLocOpBuilder &b, Value start, Value kvOffset,
                               Value clampTo, int64_t count = 0) const {
    if (count == 0)
      count = positions;
    SmallVector<Value> rowBase;
    if (!clampTo) {
      Value base = arith::AddIOp::create(
          b, arith::MulIOp::create(b, start, constIndex(b, width)), kvOffset);
      for (int64_t j = 0; j < count; ++j)
        rowBase.push_back(addConst(b, base, j * width));
      return rowBase;
    }
    for (int64_t j = 0; j < count; ++j) {
      Value row = arith::MinUIOp::create(b, addConst(b, start, j), clampTo);
      rowBase.push_back(arith::AddIOp::create(
          b, arith::MulIOp::create(b, row, constIndex(b, width)), kvOffset));
    }
    return rowBase;
  }
};

} // namespace

LogicalResult generateAttention(func::FuncOp fn, const KernelSpec &spec, const CpuTarget &target) {
  const int64_t heads = spec.getInt("heads");
  const int64_t kvHeads = spec.getInt("kv_heads", heads);
  const int64_t headDim = spec.getInt("head_dim");
  const int64_t context = spec.getInt("context");
  const int64_t qStride = spec.getInt("q_stride", heads * headDim);
  const double scale = spec.getFloat("scale", 1.0 / std::sqrt(double(headDim > 0 ? headDim : 1)));
  if (heads <= 0 || kvHeads <= 0 || headDim <= 0 || context <= 0)
    return kernelError(fn, spec, "parameters 'heads', 'kv_heads', 'head_dim' and 'context' must "
                                 "be positive, got heads=" +
                                     llvm::Twine(heads) + " kv_heads=" + llvm::Twine(kvHeads) +
                                     " head_dim=" + llvm::Twine(headDim) +
                                     " context=" + llvm::Twine(context));
  if (heads % kvHeads != 0)
    return kernelError(fn, spec, "parameter 'kv_heads' (" + llvm::Twine(kvHeads) +
                                     ") must divide 'heads' (" + llvm::Twine(heads) + ")");
  if (qStride < heads * headDim)
    return kernelError(fn, spec, "parameter 'q_stride' (" + llvm::Twine(qStride) +
                                     ") must be at least heads * head_dim (" +
                                     llvm::Twine(heads * headDim) + ")");
  const int64_t group = heads / kvHeads;
  const int64_t width = kvHeads * headDim; // floats per cache row
  const int64_t lanes = f32Lanes(target);

  AttentionEmitter e;
  e.headDim = headDim;
  e.width = width;
  e.context = context;
  e.fma = hasFMA(target);
  e.scale = scale;
  for (int64_t o = 0; o < headDim; o += lanes)
    e.chunks.push_back({o, std::min(lanes, headDim - o)});
  const int64_t numChunks = int64_t(e.chunks.size());
  // Queries per pass of the dot-product path: they share each key and value vector loaded, and
  // their softmax chains overlap. Their accumulators (queries * chunks vectors) bound it; two
  // are worth a few spills (measured on x86-64-v3 at head_dim 128).
  int64_t passQueries = numChunks <= 2 ? 4 : numChunks <= 16 ? 2 : 1;
  // Positions per block: 8 keeps queries * P partial dot products in registers; with a tiny
  // head_dim those are single multiplies, and a larger block spreads the per-block softmax.
  const int64_t P = e.positions = numChunks <= 2 ? std::max<int64_t>(8, lanes) : 8;
  // The lanes path, for a head_dim where it measured faster (up to 64 with AVX, 16 on SSE2),
  // takes a row block of at least lanes_min_queries queries (prefill; decode has only a group's
  // few, which would leave most lanes idle).
  e.lanes = lanes;
  e.lanesPositions = std::max<int64_t>(8, lanes);
  const int64_t lanesMinQueries = spec.getInt("lanes_min_queries", 4); // 0: never
  const bool lanesPath = headDim <= (lanes >= 8 ? 64 : 16) && lanesMinQueries > 0;
  // Then the dot products see fewer than lanesMinQueries queries: no larger passes are needed.
  while (lanesPath && passQueries > 1 && passQueries >= lanesMinQueries)
    passQueries /= 2;
  // Prefill row blocks of at least tiles_min_queries queries go to the tiles of
  // AttentionTiles.cpp where the head_dim suits them. By default only head_dims past the lanes
  // path's (on Zen 2 the tiles took the 2B-4T prefill, head_dim 128, from 20 to 48 GFLOP/s, but
  // were 15-25% slower than queries in lanes at head_dim 48 and 64), and never one decode row
  // (at most a group's queries), which the dot products' prefetching serves.
  const int64_t tilesMinQueries = spec.getInt(
      "tiles_min_queries",
      headDim > (lanes >= 8 ? 64 : 16) ? std::max<int64_t>(8, heads / kvHeads + 1) : 0); // 0: never
  const bool tilesPath = tilesMinQueries > 0 && attentionTilesApply(headDim, lanes);
  e.lOffset = (headDim + lanes - 1) / lanes * lanes;
  e.mOffset = e.lOffset + P;
  // A lanes pass of |lanes| queries keeps its state where theirs would be.
  e.stateStride = std::max(e.mOffset + lanes, 2 + 2 * headDim);
  // Rows per row block: as many as the state budget holds for a whole group, at least one.
  const int64_t rowBlock =
      std::max<int64_t>(1, kStateBytes / (e.stateStride * int64_t(sizeof(float))) / group);
  const int64_t maxQueries = rowBlock * group;
  // Positions per tile: about kTileBytes of key and value rows, whole blocks.
  auto tileOf = [&](int64_t block) {
    return std::max<int64_t>(1, kTileBytes / (block * 2 * headDim * int64_t(sizeof(float)))) *
           block;
  };
  const int64_t tile = tileOf(P);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type f32 = b.getF32Type();
  Type i32 = b.getI32Type();
  e.q = bindFlat(b, args, 0, f32,
                 arith::MulIOp::create(b, args.rows, constIndex(b, qStride))); // (rows, heads * head_dim), stride q_stride
  e.kCache = bindFlat(b, args, 1, f32, context * width); // (context, kv_heads * head_dim)
  e.vCache = bindFlat(b, args, 2, f32, context * width); // (context, kv_heads * head_dim)
  e.out = bindFlat(b, args, 3, f32,
                   arith::MulIOp::create(b, args.rows, constIndex(b, heads * headDim))); // (rows, heads * head_dim)
  // (row block rows * group, state stride): acc (head_dim), l (P), m; and room for the last
  // lanes pass, which may start at the last query.
  const int64_t stateFloats =
      maxQueries * e.stateStride + (lanesPath ? e.lanesStateFloats() : int64_t(0));
  e.state = memref::AllocaOp::create(b, MemRefType::get({stateFloats}, f32), ValueRange{},
                                     ValueRange{}, b.getI64IntegerAttr(64));

  const AttentionTilesShape tilesShape{headDim, width, lanes, scale, e.fma, e.lOffset, e.mOffset};
  const AttentionTilesOperands tilesOperands{e.q, e.kCache, e.vCache, e.out, e.state};
  AttentionTilesScratch tilesScratch;
  if (tilesPath)
    tilesScratch = allocateAttentionTilesScratch(b, tilesShape);

  Value c0 = constIndex(b, 0), c1 = constIndex(b, 1);
  Value cGroup = constIndex(b, group);
  Value kvBegin = arith::DivUIOp::create(b, args.begin, cGroup);
  Value kvEnd = arith::DivUIOp::create(
      b, arith::AddIOp::create(b, args.end, constIndex(b, group - 1)), cGroup);

  forLoop(b, kvBegin, kvEnd, c1, [&](ImplicitLocOpBuilder &gb, Value g) {
    // The slice's heads that share kv head g: [hBegin, hBegin + groupHeads).
    Value first = arith::MulIOp::create(gb, g, cGroup);
    Value hBegin = arith::MaxUIOp::create(gb, args.begin, first);
    Value hEnd = arith::MinUIOp::create(gb, args.end, arith::AddIOp::create(gb, first, cGroup));
    Value groupHeads = arith::SubIOp::create(gb, hEnd, hBegin);
    Value kvHeadOffset = arith::MulIOp::create(gb, g, constIndex(gb, headDim));

    forLoop(gb, c0, args.rows, constIndex(gb, rowBlock), [&](ImplicitLocOpBuilder &rb, Value t0) {
      Value blockRows = arith::MinUIOp::create(
          rb, constIndex(rb, rowBlock), arith::SubIOp::create(rb, args.rows, t0));
      // The row block's queries are numbered i = r * groupHeads + k (row t0 + r, head
      // hBegin + k); query i keeps its state at i * stateStride.
      Value count = arith::MulIOp::create(rb, blockRows, groupHeads);
      struct Query {
        Value t, qBase, stateBase, outBase;
      };
      auto queryOf = [&](ImplicitLocOpBuilder &qb, Value i) {
        Query query;
        Value r = arith::DivUIOp::create(qb, i, groupHeads);
        Value h = arith::AddIOp::create(
            qb, hBegin, arith::SubIOp::create(qb, i, arith::MulIOp::create(qb, r, groupHeads)));
        query.t = arith::AddIOp::create(qb, t0, r);
        query.qBase = arith::AddIOp::create(
            qb, arith::MulIOp::create(qb, query.t, constIndex(qb, qStride)),
            arith::MulIOp::create(qb, h, constIndex(qb, headDim)));
        query.stateBase = arith::MulIOp::create(qb, i, constIndex(qb, e.stateStride));
        query.outBase = arith::MulIOp::create(
            qb,
            arith::AddIOp::create(qb, arith::MulIOp::create(qb, query.t, constIndex(qb, heads)), h),
            constIndex(qb, headDim));
        return query;
      };
      // Calls |body| with the queries of each pass: passQueries at a time, then what is left
      // in passes of half as many, down to one.
      SmallVector<std::pair<int64_t, Value>> passEnds; // (queries per pass, end of their range)
      for (int64_t n = passQueries; n >= 1; n /= 2) {
        Value cn = constIndex(rb, n);
        passEnds.push_back(
            {n, arith::MulIOp::create(rb, arith::DivUIOp::create(rb, count, cn), cn)});
      }
      using PassBody = std::function<void(ImplicitLocOpBuilder &, ArrayRef<Query>)>;
      auto forPasses = [&](ImplicitLocOpBuilder &pb, const PassBody &body) {
        Value from = c0;
        for (auto [n, to] : passEnds) {
          forLoop(pb, from, to, constIndex(pb, n), [&](ImplicitLocOpBuilder &qb, Value i) {
            SmallVector<Query> queries;
            for (int64_t k = 0; k < n; ++k)
              queries.push_back(queryOf(qb, addConst(qb, i, k)));
            body(qb, queries);
          });
          from = to;
        }
      };
      auto fields = [](ArrayRef<Query> queries, Value Query::*field) {
        SmallVector<Value> values;
        for (const Query &query : queries)
          values.push_back(query.*field);
        return values;
      };

      Value firstLast = arith::AddIOp::create(rb, args.pos, t0);
      Value blockLast = arith::SubIOp::create(
          rb, arith::AddIOp::create(rb, firstLast, blockRows), c1); // last row's last position
      Value tailEnd = arith::AddIOp::create(rb, blockLast, c1);
      // The end of the positions every row of the block attends (below pos + t0 + 1), rounded
      // down to whole blocks of |n|.
      auto completeEnd = [&](ImplicitLocOpBuilder &xb, int64_t n) -> Value {
        Value cn = constIndex(xb, n);
        return arith::MulIOp::create(
            xb, arith::DivUIOp::create(xb, arith::AddIOp::create(xb, firstLast, c1), cn), cn);
      };

      auto treeBody = [&](ImplicitLocOpBuilder &rb) {
        // Sums start at -0.0, which adds like 0.0 but whose bytes do not repeat, so LLVM does not
        // turn these stores into a memset call the kernel library could not resolve.
        forLoop(rb, c0, count, c1, [&](ImplicitLocOpBuilder &qb, Value i) {
          Value stateBase = arith::MulIOp::create(qb, i, constIndex(qb, e.stateStride));
          for (const Chunk &c : e.chunks)
            storeVector(qb, constFloat(qb, VectorType::get({c.lanes}, f32), -0.0), e.state,
                        addConst(qb, stateBase, c.offset));
          storeVector(qb, constFloat(qb, VectorType::get({P}, f32), -0.0), e.state,
                      addConst(qb, stateBase, e.lOffset));
          memref::StoreOp::create(qb, constFloat(qb, f32, -FLT_MAX), e.state,
                                  ValueRange{addConst(qb, stateBase, e.mOffset)});
        });

        // Positions below pos + t0 + 1 are attended by every row of the block. They go in tiles
        // of |tile| positions: each pass takes the whole tile with its state in registers while
        // the tile's key and value rows stay in cache for the next pass.
        Value cP = constIndex(rb, P);
        Value fullEnd = completeEnd(rb, P);
        Value cTile = constIndex(rb, tile);
        forLoop(rb, c0, fullEnd, cTile, [&](ImplicitLocOpBuilder &tb, Value tileStart) {
          Value tileEnd = arith::MinUIOp::create(tb, fullEnd, addConst(tb, tileStart, tile));
          forPasses(tb, [&](ImplicitLocOpBuilder &qb, ArrayRef<Query> queries) {
            SmallVector<Value> qBase = fields(queries, &Query::qBase);
            SmallVector<Value> stateBase = fields(queries, &Query::stateBase);
            Value kvOffset = opaque(qb, kvHeadOffset, qBase.front());
            SmallVector<Value> st = e.loadState(qb, stateBase);
            // Software-pipelined: block b's softmax (a chain of dependent steps) is followed by
            // block b + 1's dot products, which do not depend on it, then block b's values
            // (measured 5-10% faster than one block at a time). Rows of block b + 2 are
            // prefetched.
            Value lastStart = arith::SubIOp::create(qb, tileEnd, cP);
            st.push_back(
                e.maskedScores(qb, qBase, e.blockRows(qb, tileStart, kvOffset, Value()), Value()));
            SmallVector<Value> carried = forLoop(
                qb, tileStart, lastStart, cP, st,
                [&](ImplicitLocOpBuilder &bb, Value start, ValueRange c) {
                  ValueRange cur = c.drop_back();
                  AttentionEmitter::Weights w = e.softmax(bb, c.back(), Value(), cur);
                  e.prefetchBlock(bb, addConst(bb, start, kPrefetchBlocks * P), kvOffset);
                  SmallVector<Value> nextRows =
                      e.blockRows(bb, addConst(bb, start, P), kvOffset, Value());
                  Value nextScores = e.maskedScores(bb, qBase, nextRows, Value());
                  SmallVector<Value> next =
                      e.accumulate(bb, w, e.blockRows(bb, start, kvOffset, Value()), cur);
                  next.push_back(nextScores);
                  return next;
                });
            ValueRange cur = ValueRange(carried).drop_back();
            AttentionEmitter::Weights w = e.softmax(qb, carried.back(), Value(), cur);
            e.storeState(qb, stateBase,
                         e.accumulate(qb, w, e.blockRows(qb, lastStart, kvOffset, Value()), cur));
          });
        });

        // The last blocks, masked per query, then the normalised output.
        forPasses(rb, [&](ImplicitLocOpBuilder &qb, ArrayRef<Query> queries) {
          SmallVector<Value> qBase = fields(queries, &Query::qBase);
          Value kvOffset = opaque(qb, kvHeadOffset, qBase.front());
          const int64_t n = int64_t(queries.size()) * P;
          auto laneType = VectorType::get({n}, i32);
          SmallVector<int32_t> laneInSegment;
          for (int64_t i = 0; i < n; ++i)
            laneInSegment.push_back(int32_t(i % P));
          Value laneOffset = arith::ConstantOp::create(
              qb, laneType, DenseElementsAttr::get(laneType, ArrayRef(laneInSegment)));
          SmallVector<Value> lasts;
          for (const Query &query : queries)
            lasts.push_back(
                arith::IndexCastOp::create(qb, i32, arith::AddIOp::create(qb, args.pos, query.t)));
          Value last = segmentSplat(qb, lasts, P);
          SmallVector<Value> st = forLoop(
              qb, fullEnd, tailEnd, cP, e.loadState(qb, fields(queries, &Query::stateBase)),
              [&](ImplicitLocOpBuilder &bb, Value start, ValueRange carried) {
                Value start32 = arith::IndexCastOp::create(bb, i32, start);
                Value lanePos = arith::AddIOp::create(
                    bb, vector::BroadcastOp::create(bb, laneType, start32), laneOffset);
                Value valid = arith::CmpIOp::create(bb, arith::CmpIPredicate::sle, lanePos, last);
                return e.update(bb, qBase, e.blockRows(bb, start, kvOffset, blockLast), valid,
                                carried);
              });
          e.finish(qb, fields(queries, &Query::outBase), st);
        });
      };

      auto lanesBody = [&](ImplicitLocOpBuilder &rb) {
        const int64_t L = e.lanes, PL = e.lanesPositions;
        Value cL = constIndex(rb, L);
        Value passes = arith::DivUIOp::create(rb, addConst(rb, count, L - 1), cL);
        Value lastQuery = arith::SubIOp::create(rb, count, c1);
        // The queries of the pass starting at query i0; lanes past the last query repeat it
        // (and store the same output to the same place).
        auto passQueriesOf = [&](ImplicitLocOpBuilder &qb, Value i0) {
          SmallVector<Query> queries;
          for (int64_t lane = 0; lane < L; ++lane)
            queries.push_back(
                queryOf(qb, arith::MinUIOp::create(qb, addConst(qb, i0, lane), lastQuery)));
          return queries;
        };
        auto stateOf = [&](ImplicitLocOpBuilder &qb, Value i0) -> Value {
          return arith::MulIOp::create(qb, i0, constIndex(qb, e.stateStride));
        };
        Value passEnd = arith::MulIOp::create(rb, passes, cL);
        forLoop(rb, c0, passEnd, cL, [&](ImplicitLocOpBuilder &qb, Value i0) {
          e.lanesInit(qb, stateOf(qb, i0), fields(passQueriesOf(qb, i0), &Query::qBase));
        });
        Value fullEnd = completeEnd(rb, PL);
        const int64_t tileL = tileOf(PL);
        Value cTile = constIndex(rb, tileL);
        forLoop(rb, c0, fullEnd, cTile, [&](ImplicitLocOpBuilder &tb, Value tileStart) {
          Value tileEnd = arith::MinUIOp::create(tb, fullEnd, addConst(tb, tileStart, tileL));
          forLoop(tb, c0, passEnd, cL, [&](ImplicitLocOpBuilder &qb, Value i0) {
            Value base = stateOf(qb, i0);
            Value kvOffset = opaque(qb, kvHeadOffset, base);
            SmallVector<Value> st = forLoop(
                qb, tileStart, tileEnd, constIndex(qb, PL), e.lanesLoad(qb, base),
                [&](ImplicitLocOpBuilder &bb, Value start, ValueRange carried) {
                  return e.lanesUpdate(bb, base, e.blockRows(bb, start, kvOffset, Value(), PL),
                                       start, Value(), carried);
                });
            e.lanesStore(qb, base, st);
          });
        });
        forLoop(rb, c0, passEnd, cL, [&](ImplicitLocOpBuilder &qb, Value i0) {
          Value base = stateOf(qb, i0);
          Value kvOffset = opaque(qb, kvHeadOffset, base);
          SmallVector<Query> queries = passQueriesOf(qb, i0);
          SmallVector<Value> lasts;
          for (const Query &query : queries)
            lasts.push_back(
                arith::IndexCastOp::create(qb, i32, arith::AddIOp::create(qb, args.pos, query.t)));
          Value last = vector::FromElementsOp::create(qb, VectorType::get({L}, i32), lasts);
          SmallVector<Value> st = forLoop(
              qb, fullEnd, tailEnd, constIndex(qb, PL), e.lanesLoad(qb, base),
              [&](ImplicitLocOpBuilder &bb, Value start, ValueRange carried) {
                return e.lanesUpdate(bb, base, e.blockRows(bb, start, kvOffset, blockLast, PL),
                                     start, last, carried);
              });
          e.lanesFinish(qb, base, fields(queries, &Query::outBase), st);
        });
      };

      auto tilesBody = [&](ImplicitLocOpBuilder &nb) {
        emitAttentionTiles(
            nb, tilesShape, tilesOperands, tilesScratch, count,
            [&](ImplicitLocOpBuilder &qb, Value i) {
              Query query = queryOf(qb, i);
              return TileQuery{query.t, query.qBase, query.stateBase, query.outBase};
            },
            args.pos, kvHeadOffset, blockLast);
      };
      // |first| for count >= |minQueries| (when minQueries > 1), else |second|.
      auto choose = [&](ImplicitLocOpBuilder &cb, int64_t minQueries,
                        const std::function<void(ImplicitLocOpBuilder &)> &first,
                        const std::function<void(ImplicitLocOpBuilder &)> &second) {
        if (minQueries <= 1)
          return first(cb);
        Value enough = arith::CmpIOp::create(cb, arith::CmpIPredicate::uge, count,
                                             constIndex(cb, minQueries));
        scf::IfOp::create(
            cb, enough,
            [&](OpBuilder &nested, Location loc) {
              ImplicitLocOpBuilder nb(loc, nested);
              first(nb);
              scf::YieldOp::create(nb);
            },
            [&](OpBuilder &nested, Location loc) {
              ImplicitLocOpBuilder nb(loc, nested);
              second(nb);
              scf::YieldOp::create(nb);
            });
      };
      auto otherBody = [&](ImplicitLocOpBuilder &ob) {
        if (!lanesPath) // only one of the two can run
          return treeBody(ob);
        choose(ob, lanesMinQueries, lanesBody, treeBody);
      };
      if (!tilesPath)
        return otherBody(rb);
      choose(rb, tilesMinQueries, tilesBody, otherBody);
    });
  });
  return success();
}

} // namespace tern::cpu
