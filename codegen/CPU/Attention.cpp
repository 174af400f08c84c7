// attention: causal grouped-query attention over one layer's KV cache, one work item per head.
//
// The ABI gives a kernel no scratch memory and the context can be thousands of positions, so
// scores are never stored: an online softmax keeps a running maximum m, a running sum l of
// exp(score - m) and the weighted sum of value rows in registers (head_dim floats), and
// rescales them when a new maximum appears. Each position needs one exp: with
// x = -|score - m|, exp(x) is either the new weight (score <= m) or the factor that rescales
// the old state (score > m, whose own weight is then 1). Everything is f32; the reference
// computes in double, and the difference stays far below the tests' 1e-4.
//
// Heads are the outer loop so the rows of one call reuse that kv head's cache rows while they
// are in cache; q for one (row, head) stays in registers across all positions.
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/KernelGenerators.h"
#include "codegen/CPU/VectorMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

namespace tern::cpu {

using namespace mlir;

namespace {

// A static span of head_dim held in one vector.
struct Chunk {
  int64_t offset, lanes;
};

// Independent partial sums per dot product, so consecutive FMAs do not wait on each other.
constexpr int64_t kDotAccumulators = 4;

class AttentionEmitter {
public:
  AttentionEmitter(int64_t headDim, int64_t lanes, Value kCache, Value vCache)
      : kCache(kCache), vCache(vCache) {
    for (int64_t o = 0; o < headDim; o += lanes)
      chunks.push_back({o, std::min(lanes, headDim - o)});
  }

  // The head_dim floats of |memref| starting at |base|, one vector per chunk.
  SmallVector<Value> loadHead(ImplicitLocOpBuilder &b, Value memref, Value base) const {
    SmallVector<Value> parts;
    for (const Chunk &c : chunks)
      parts.push_back(loadVector(b, memref, addConst(b, base, c.offset), c.lanes));
    return parts;
  }

  // dot(q, key row at |kBase|) as an f32 scalar.
  Value dot(ImplicitLocOpBuilder &b, ArrayRef<Value> q, Value kBase) const {
    SmallVector<Value> partial;      // full-width partial sums
    Value tail;                      // a narrower last chunk, reduced on its own
    const int64_t full = chunks.front().lanes;
    for (size_t i = 0; i < chunks.size(); ++i) {
      Value k = loadVector(b, kCache, addConst(b, kBase, chunks[i].offset), chunks[i].lanes);
      if (chunks[i].lanes != full) {
        tail = reduceAdd(b, arith::MulFOp::create(b, q[i], k));
        continue;
      }
      size_t slot = i % kDotAccumulators;
      if (slot >= partial.size())
        partial.push_back(arith::MulFOp::create(b, q[i], k));
      else
        partial[slot] = vector::FMAOp::create(b, q[i], k, partial[slot]);
    }
    Value sum = partial.front();
    for (size_t i = 1; i < partial.size(); ++i)
      sum = arith::AddFOp::create(b, sum, partial[i]);
    Value s = reduceAdd(b, sum);
    return tail ? Value(arith::AddFOp::create(b, s, tail)) : s;
  }

  static Value addConst(ImplicitLocOpBuilder &b, Value base, int64_t offset) {
    return offset == 0 ? base : Value(arith::AddIOp::create(b, base, constIndex(b, offset)));
  }

  SmallVector<Chunk> chunks;
  Value kCache, vCache;
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
  const bool fma = hasFMA(target);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type f32 = b.getF32Type();
  Value q = bindFlat(b, args, 0, f32,
                     arith::MulIOp::create(b, args.rows, constIndex(b, qStride))); // (rows, heads * head_dim), stride q_stride
  Value kCache = bindFlat(b, args, 1, f32, context * width); // (context, kv_heads * head_dim)
  Value vCache = bindFlat(b, args, 2, f32, context * width); // (context, kv_heads * head_dim)
  Value out = bindFlat(b, args, 3, f32,
                       arith::MulIOp::create(b, args.rows, constIndex(b, heads * headDim))); // (rows, heads * head_dim)
  AttentionEmitter e(headDim, lanes, kCache, vCache);
  const size_t numChunks = e.chunks.size();

  forLoop(b, args.begin, args.end, constIndex(b, 1), [&](ImplicitLocOpBuilder &hb, Value h) {
    Value kvOffset = arith::MulIOp::create(
        hb, arith::DivUIOp::create(hb, h, constIndex(hb, group)), constIndex(hb, headDim));
    forLoop(hb, constIndex(hb, 0), args.rows, constIndex(hb, 1), [&](ImplicitLocOpBuilder &rb,
                                                                     Value t) {
      Value qBase = arith::AddIOp::create(rb, arith::MulIOp::create(rb, t, constIndex(rb, qStride)),
                                          arith::MulIOp::create(rb, h, constIndex(rb, headDim)));
      SmallVector<Value> qv = e.loadHead(rb, q, qBase);
      Value scaleValue = constFloat(rb, f32, scale);
      auto score = [&](ImplicitLocOpBuilder &nb, Value cacheRow) {
        return arith::MulFOp::create(nb, e.dot(nb, qv, cacheRow), scaleValue).getResult();
      };
      auto cacheRowOf = [&](ImplicitLocOpBuilder &nb, Value p) -> Value {
        return arith::AddIOp::create(nb, arith::MulIOp::create(nb, p, constIndex(nb, width)),
                                     kvOffset);
      };

      // Position 0 always exists (causal, pos + t >= 0) and starts the state without infinities.
      Value first = cacheRowOf(rb, constIndex(rb, 0));
      SmallVector<Value> init{score(rb, first), constFloat(rb, f32, 1.0)}; // m, l
      for (Value v : e.loadHead(rb, vCache, first))
        init.push_back(v);

      Value last = arith::AddIOp::create(rb, args.pos, t); // attends to 0 .. pos + t
      Value stop = arith::AddIOp::create(rb, last, constIndex(rb, 1));
      SmallVector<Value> state = forLoop(
          rb, constIndex(rb, 1), stop, constIndex(rb, 1), init,
          [&](ImplicitLocOpBuilder &pb, Value p, ValueRange carried) -> SmallVector<Value> {
            Value row = cacheRowOf(pb, p);
            Value s = score(pb, row);
            Value m = carried[0], l = carried[1];
            Value diff = arith::SubFOp::create(pb, s, m);
            Value above = arith::CmpFOp::create(pb, arith::CmpFPredicate::OGT, diff,
                                                constFloat(pb, f32, 0.0));
            Value ex = expF32(pb, arith::NegFOp::create(pb, math::AbsFOp::create(pb, diff)), fma);
            Value one = constFloat(pb, f32, 1.0);
            Value rescale = arith::SelectOp::create(pb, above, ex, one); // exp(m - m_new)
            Value weight = arith::SelectOp::create(pb, above, one, ex);  // exp(s - m_new)
            SmallVector<Value> next{arith::MaxNumFOp::create(pb, m, s),
                                    arith::AddFOp::create(pb, arith::MulFOp::create(pb, l, rescale),
                                                          weight)};
            SmallVector<Value> v = e.loadHead(pb, vCache, row);
            for (size_t c = 0; c < numChunks; ++c) {
              auto vt = cast<VectorType>(v[c].getType());
              Value acc = arith::MulFOp::create(pb, carried[2 + c],
                                                vector::BroadcastOp::create(pb, vt, rescale));
              next.push_back(vector::FMAOp::create(
                  pb, vector::BroadcastOp::create(pb, vt, weight), v[c], acc));
            }
            return next;
          });

      Value inv = arith::DivFOp::create(rb, constFloat(rb, f32, 1.0), state[1]);
      Value outBase = arith::MulIOp::create(
          rb, arith::AddIOp::create(rb, arith::MulIOp::create(rb, t, constIndex(rb, heads)), h),
          constIndex(rb, headDim));
      for (size_t c = 0; c < numChunks; ++c) {
        auto vt = cast<VectorType>(state[2 + c].getType());
        storeVector(rb,
                    arith::MulFOp::create(rb, state[2 + c], vector::BroadcastOp::create(rb, vt, inv)),
                    out, AttentionEmitter::addConst(rb, outBase, e.chunks[c].offset));
      }
    });
  });
  return success();
}

} // namespace tern::cpu
