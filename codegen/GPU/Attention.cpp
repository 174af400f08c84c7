// attention: causal grouped-query attention over one layer's f32 KV cache, one block (or one
// cluster of blocks) per (kv head, query row), online softmax, partial results combined in
// shared memory.
//
// Each block computes the G = heads / kv_heads query heads that share kv head `blockIdx.x`
// for query row `blockIdx.y` (position pos + row), so each cache row is read once per group:
// - the block's warps split into position groups of L lanes; a group takes positions
//   g, g + NG, g + 2 NG, ... (NG groups in the block) and its L lanes split the head
//   dimension into chunks of 16 bytes (lane i: chunks i, i + L, ...), so L lanes read one
//   cache row in 128-byte pieces. The dot products are reduced over the L lanes with shuffles.
// - every group keeps an online softmax per head (running max m and sum l, in the log2
//   domain: scores are q.k * scale * log2(e) and exp is ex2.approx) and the weighted sum of V
//   for its chunks, all in registers;
// - at the end the groups of a warp merge through shuffles, each warp publishes its (m, l,
//   acc) to shared memory, and after one barrier the block's threads merge the warps and
//   write the G x head_dim outputs.
// - on sm_90 blocks come in thread block clusters of S (up to 8) per kv head. At decode (one
//   query row) the cluster shares the row: block `rank` takes the rank-th NG positions of every
//   S x NG, merges its warps into one partial softmax in its shared memory, and after a cluster
//   barrier merges its slice of the G x head_dim outputs from all S blocks' shared memory
//   (mapa + ld.shared::cluster). Decode thereby spreads a layer's attention over
//   S x kv_heads SMs instead of kv_heads. With more rows each block of a cluster takes a row of
//   its own, as without clusters (splitting the positions of prefill rows too was measured
//   1.6x slower for a 128-token prompt: the blocks were too short for their merges).
// L is chosen so a lane holds at most 64 floats of q (and as many accumulators) for its G
// heads: for the 2B-4T model (G = 4, head_dim 128) L = 8 lanes of 4 chunks, 8 warps, 32
// position groups per block. Decode (rows = 1) runs S x kv_heads blocks; prefill runs
// kv_heads x rows blocks (rounded up to whole clusters), row t attending to positions
// 0 .. pos + t.
//
// rope_kv_attention (decode with ternc --gpu-fuse-decode-attention; the program builder merges
// the two dispatches) is rope_kv_cache_write and attention in one dispatch, for one query row:
// x holds q and k unrotated, and each lane rotates the q elements it holds itself, the pairs'
// two elements lying in the lane's own chunks (neox: chunk c pairs with c + chunks / 2, J / 2
// of the lane's chunks further; normal: within a chunk). The group whose position is the
// query's own takes k and v from x and v instead of the caches, rotates k the same way and
// stores both to the caches for the tokens after it: no other block reads that cache row, so
// no barrier is needed, and a launch per layer is saved.
#include "codegen/GPU/GPUKernelBuilder.h"
#include "codegen/GPU/GPUKernelGenerators.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace tern::gpu {

using namespace mlir;

namespace {

// How a block divides its work; a pure function of (group size, head_dim).
struct Plan {
  int64_t vec = 4;    // floats per chunk: 4 (16-byte loads) when head_dim allows, else 1
  int64_t chunks = 0; // chunks per head row: head_dim / vec
  int64_t lanes = 1;  // L: lanes per position group, a power of two <= 32
  int64_t perLane = 1; // J: chunks per lane, ceil(chunks / L)
  int64_t warps = 8;  // W
  int64_t unroll = 1; // positions per group per loop iteration
};

// Shared memory holds W x G x head_dim partial sums: at most 40 KiB.
constexpr int64_t kSharedFloats = 10240;

Plan planFor(int64_t group, int64_t headDim) {
  Plan p;
  p.vec = headDim % 4 == 0 ? 4 : 1;
  p.chunks = headDim / p.vec;
  // Registers per lane: G x J x vec floats of q and as many accumulators, plus the K and V
  // chunks in flight; at most 64 + 64 + 32 keeps a 256-thread block clear of spills.
  const int64_t maxPerLane = std::max<int64_t>(1, std::min(64 / (group * p.vec), 16 / p.vec));
  while (p.lanes < 32 && p.lanes * maxPerLane < p.chunks)
    p.lanes *= 2;
  p.perLane = (p.chunks + p.lanes - 1) / p.lanes;
  p.warps = std::clamp<int64_t>(kSharedFloats / (group * headDim), 1, 8);
  return p;
}

struct Params {
  int64_t heads, kvHeads, headDim, qStride, context;
  double scale;
  // rope_kv_attention: q and k come unrotated from x (row stride qStride), v from its binding.
  bool rope = false, neox = false;
  int64_t vStride = 0;
};

bool isRopeKVAttention(const KernelSpec &spec) { return spec.family == "rope_kv_attention"; }

// Whether each rotated pair of a head lies in one lane's chunks (see the top of the file).
bool pairsInLane(const Params &p, const Plan &plan) {
  if (plan.lanes * plan.perLane != plan.chunks)
    return false;
  return p.neox ? plan.perLane % 2 == 0 : plan.vec % 2 == 0;
}

// Blocks of a thread block cluster on sm_90 (one before sm_90): at decode they split a query
// row's positions and merge their partial softmaxes through distributed shared memory. As many
// as the context has position groups for, at most 8 (the portable cluster size).
int64_t clusterBlocks(const Params &p, const Plan &plan, const GpuTarget &target) {
  if (target.computeCapability < 90)
    return 1;
  const int64_t groups = plan.warps * (32 / plan.lanes);
  int64_t blocks = 1;
  while (blocks < 8 && blocks * groups < p.context)
    blocks *= 2;
  return blocks;
}

llvm::Error checkParams(const KernelSpec &spec, Params *out) {
  Params p;
  p.heads = spec.getInt("heads");
  p.kvHeads = spec.getInt("kv_heads");
  p.headDim = spec.getInt("head_dim");
  p.qStride = spec.getInt("q_stride", p.heads * p.headDim);
  p.context = spec.getInt("context");
  p.scale = spec.getFloat("scale");
  if (isRopeKVAttention(spec)) {
    p.rope = true;
    p.qStride = spec.getInt("stride", (p.heads + p.kvHeads) * p.headDim);
    p.vStride = spec.getInt("v_stride", p.kvHeads * p.headDim);
    const std::string style = spec.getString("style");
    if (style != "normal" && style != "neox")
      return llvm::createStringError("parameter 'style' is '%s', expected normal or neox",
                                     style.c_str());
    p.neox = style == "neox";
    if (p.headDim % 2 != 0)
      return llvm::createStringError("parameter 'head_dim' is %lld, rope needs it even",
                                     (long long)p.headDim);
    if (p.qStride < (p.heads + p.kvHeads) * p.headDim)
      return llvm::createStringError("parameter 'stride' (%lld) is less than (heads + "
                                     "kv_heads) * head_dim",
                                     (long long)p.qStride);
  }
  if (p.heads <= 0 || p.kvHeads <= 0 || p.headDim <= 0 || p.context <= 0)
    return llvm::createStringError("parameters 'heads', 'kv_heads', 'head_dim' and 'context' "
                                   "must be positive");
  if (p.heads % p.kvHeads != 0)
    return llvm::createStringError("parameter 'heads' (%lld) is not a multiple of 'kv_heads' "
                                   "(%lld)", (long long)p.heads, (long long)p.kvHeads);
  if (p.qStride < p.heads * p.headDim)
    return llvm::createStringError("parameter 'q_stride' (%lld) is less than heads * head_dim",
                                   (long long)p.qStride);
  const int64_t group = p.heads / p.kvHeads;
  if (group * p.headDim > kSharedFloats)
    return llvm::createStringError("a group of %lld heads of %lld does not fit the kernel's "
                                   "shared memory (at most %lld floats per kv head)",
                                   (long long)group, (long long)p.headDim,
                                   (long long)kSharedFloats);
  if (!std::isfinite(p.scale))
    return llvm::createStringError("parameter 'scale' must be finite");
  if (p.rope && !pairsInLane(p, planFor(p.heads / p.kvHeads, p.headDim)))
    return llvm::createStringError("head_dim %lld with %lld heads per kv head does not put "
                                   "each rotated (%s) pair in one lane's chunks",
                                   (long long)p.headDim, (long long)(p.heads / p.kvHeads),
                                   p.neox ? "neox" : "normal");
  *out = p;
  return llvm::Error::success();
}

// Small arithmetic on the builder the caller is in (loop bodies and branches have their own).
Value addI(ImplicitLocOpBuilder &b, Value x, Value y) { return arith::AddIOp::create(b, x, y); }
Value mulI(ImplicitLocOpBuilder &b, Value x, int64_t y) {
  return arith::MulIOp::create(b, x, constI64(b, y));
}
Value fadd(ImplicitLocOpBuilder &b, Value x, Value y) { return arith::AddFOp::create(b, x, y); }
Value fsub(ImplicitLocOpBuilder &b, Value x, Value y) { return arith::SubFOp::create(b, x, y); }
Value fmul(ImplicitLocOpBuilder &b, Value x, Value y) { return arith::MulFOp::create(b, x, y); }
Value select(ImplicitLocOpBuilder &b, Value c, Value x, Value y) {
  return arith::SelectOp::create(b, c, x, y);
}
Value isMinusInf(ImplicitLocOpBuilder &b, Value x) {
  return arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, x, constF32(b, -INFINITY));
}

// Merges partial softmaxes (running max m_i in the log2 domain, weight sum l_i, weighted V sum
// acc_i; an empty one has m = -inf and l = acc = 0) into (max, sum, weighted sum).
std::tuple<Value, Value, Value> mergePartials(ImplicitLocOpBuilder &b, ArrayRef<Value> ms,
                                              ArrayRef<Value> ls, ArrayRef<Value> accs) {
  Value mMax = ms.front();
  for (Value m : ms.drop_front())
    mMax = maxF(b, mMax, m);
  Value num = constF32(b, 0.0), den = constF32(b, 0.0);
  for (size_t i = 0; i < ms.size(); ++i) {
    Value f = select(b, isMinusInf(b, ms[i]), constF32(b, 0.0),
                     exp2Approx(b, fsub(b, ms[i], mMax)));
    den = fadd(b, den, fmul(b, ls[i], f));
    num = fadd(b, num, fmul(b, accs[i], f));
  }
  return {mMax, den, num};
}

} // namespace

std::optional<KernelSpec> ropeKVAttentionVariant(const KernelSpec &ropeKV,
                                                 const KernelSpec &attention) {
  if (ropeKV.family != "rope_kv_cache_write" || attention.family != "attention")
    return std::nullopt;
  const int64_t heads = attention.getInt("heads"), kvHeads = attention.getInt("kv_heads");
  const int64_t headDim = attention.getInt("head_dim");
  if (ropeKV.getInt("heads") != heads + kvHeads || ropeKV.getInt("kv_heads") != kvHeads ||
      ropeKV.getInt("head_dim") != headDim ||
      ropeKV.getInt("context") != attention.getInt("context") ||
      ropeKV.getInt("stride") != attention.getInt("q_stride", heads * headDim))
    return std::nullopt;
  KernelSpec fused;
  fused.family = "rope_kv_attention";
  fused.symbol = variantSymbol(attention, "_rope_kv");
  fused.ints = {{"heads", heads},
                {"kv_heads", kvHeads},
                {"head_dim", headDim},
                {"stride", ropeKV.getInt("stride")},
                {"v_stride", ropeKV.getInt("v_stride", kvHeads * headDim)},
                {"context", ropeKV.getInt("context")}};
  fused.floats["scale"] = attention.getFloat("scale");
  fused.strings["style"] = ropeKV.getString("style");
  Params p;
  if (llvm::Error e = checkParams(fused, &p)) {
    llvm::consumeError(std::move(e));
    return std::nullopt;
  }
  return fused;
}

llvm::Expected<LaunchShape> launchAttention(const KernelSpec &spec, int64_t maxRows,
                                            const GpuTarget &target) {
  Params p;
  if (llvm::Error e = checkParams(spec, &p))
    return llvm::createStringError("%s: %s", spec.symbol.c_str(),
                                   llvm::toString(std::move(e)).c_str());
  if (maxRows > 65535)
    return llvm::createStringError("%s: %lld rows exceed the grid's y dimension",
                                   spec.symbol.c_str(), (long long)maxRows);
  if (p.rope && maxRows > 1)
    return llvm::createStringError("%s: rope_kv_attention runs one query row, not an entry "
                                   "point of up to %lld rows",
                                   spec.symbol.c_str(), (long long)maxRows);
  const Plan plan = planFor(p.heads / p.kvHeads, p.headDim);
  LaunchShape shape;
  shape.block = {uint32_t(plan.warps * 32), 1, 1};
  // A cluster takes one query row of a one-row call, else S rows (one per block).
  const int64_t S = clusterBlocks(p, plan, target);
  const int64_t rows = std::max<int64_t>(1, maxRows);
  shape.grid = {uint32_t(p.kvHeads * S), uint32_t((rows + S - 1) / S), 1};
  return shape;
}

LogicalResult generateAttention(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                const GpuTarget &target) {
  Params p;
  if (llvm::Error e = checkParams(spec, &p))
    return gpuKernelError(fn, spec, llvm::toString(std::move(e)));
  const int64_t G = p.heads / p.kvHeads, D = p.headDim, rowWidth = p.kvHeads * p.headDim;
  const Plan plan = planFor(G, D);
  const int64_t V = plan.vec, C = plan.chunks, L = plan.lanes, J = plan.perLane;
  const int64_t W = plan.warps, U = plan.unroll, T = W * 32;
  const int64_t groupsPerWarp = 32 / L, NG = W * groupsPerWarp;
  const bool allChunksValid = L * J == C;
  // The reference multiplies the double dot product by the float scale; here the scale and
  // log2(e) are folded into one float factor.
  const double scaleLog2 = double(float(p.scale)) * M_LOG2E;

  const int64_t S = clusterBlocks(p, plan, target);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  if (S > 1)
    fn->setAttr(NVVM::NVVMDialect::getClusterDimAttrName(),
                b.getDenseI32ArrayAttr({int32_t(S), 1, 1}));
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Type f32 = b.getF32Type();
  // attention: q, key cache, value cache, out; rope_kv_attention: x, table, v, key cache, value
  // cache, out (docs/kernels.md).
  Value q = args.bindings[0];
  Value table = p.rope ? args.bindings[1] : Value(), vIn = p.rope ? args.bindings[2] : Value();
  const size_t caches = p.rope ? 3 : 1;
  Value kCache = args.bindings[caches], vCache = args.bindings[caches + 1];
  Value out = args.bindings[caches + 2];
  Value accShared = sharedArray(b, fn, "acc", f32, W * G * D);
  Value maxShared = sharedArray(b, fn, "max", f32, W * G);
  Value sumShared = sharedArray(b, fn, "sum", f32, W * G);
  // With a cluster: the block's merged partial softmax, which the cluster's blocks read.
  Value blockAcc, blockMax, blockSum;
  if (S > 1) {
    blockAcc = sharedArray(b, fn, "block_acc", f32, G * D);
    blockMax = sharedArray(b, fn, "block_max", f32, G);
    blockSum = sharedArray(b, fn, "block_sum", f32, G);
  }

  // Block x = kv head * S + rank: the cluster of a kv head is S consecutive blocks. A one-row
  // call (decode) splits the positions over the cluster; a longer one gives each block of the
  // cluster a query row of its own (row y * S + rank), each attending to all its positions.
  Value kvHead = arith::DivUIOp::create(b, toI64(b, blockIdX(b)), constI64(b, S));
  Value rank = arith::RemUIOp::create(b, toI64(b, blockIdX(b)), constI64(b, S));
  Value splitPositions =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, args.rows, constI64(b, 1));
  Value t = toI64(b, blockIdY(b));
  if (S > 1)
    t = select(b, splitPositions, t, addI(b, mulI(b, t, S), rank));
  // Blocks taking the rank-th NG * U of every S * NG * U positions, or all of them.
  Value splitBlocks = S > 1 ? select(b, splitPositions, constI64(b, S), constI64(b, 1))
                            : constI64(b, 1);
  Value splitRank = S > 1 ? select(b, splitPositions, rank, constI64(b, 0)) : constI64(b, 0);
  Value last = arith::AddIOp::create(b, args.pos, t);
  // Uniform per block, so the barrier and the full-warp shuffles inside see every thread.
  Value active = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::slt, t, args.rows),
      arith::CmpIOp::create(b, arith::CmpIPredicate::slt, last, constI64(b, p.context)));
  if (S > 1) {
    // Decode on sm_90: the block asks L2 for the K and V lines of its positions before pos
    // (written by earlier tokens, long complete) before waiting for the previous dispatch,
    // which writes position pos; the weight stream has evicted them since the last token.
    const int64_t lines = (D * 4 + 127) / 128; // per position and cache
    emitPrefetchesBeforeWait(fn, b, [&](ImplicitLocOpBuilder &b) {
      ifThen(b, arith::AndIOp::create(b, active, splitPositions), [&](ImplicitLocOpBuilder &b) {
        // Positions it * S * NG * U + rank * NG * U + o, o < NG * U, below pos.
        Value span = constI64(b, NG * U);
        Value iterations = arith::DivUIOp::create(
            b, addI(b, args.pos, constI64(b, S * NG * U - 1)), constI64(b, S * NG * U));
        Value total = mulI(b, iterations, NG * U * lines * 2);
        forLoop(b, toI64(b, threadIdX(b)), total, constI64(b, T), [&](ImplicitLocOpBuilder &b,
                                                                     Value index) {
          Value line = arith::RemUIOp::create(b, index, constI64(b, lines));
          Value rest = arith::DivUIOp::create(b, index, constI64(b, lines));
          Value which = arith::RemUIOp::create(b, rest, constI64(b, 2));
          Value slot = arith::DivUIOp::create(b, rest, constI64(b, 2));
          Value it = arith::DivUIOp::create(b, slot, span);
          Value position = addI(b, addI(b, mulI(b, it, S * NG * U), mulI(b, rank, NG * U)),
                                arith::RemUIOp::create(b, slot, span));
          ifThen(b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, position, args.pos),
                 [&](ImplicitLocOpBuilder &b) {
                   Value cache = select(b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, which,
                                                                 constI64(b, 0)),
                                        kCache, vCache);
                   Value element = addI(b, mulI(b, position, rowWidth), mulI(b, kvHead, D));
                   prefetchToL2(b, byteAddress(b, elementAddress(b, cache, f32, element),
                                               mulI(b, line, 128)));
                 });
        });
      });
    });
  }
  ifThen(b, active, [&](ImplicitLocOpBuilder &b) {
    Value zero = constF32(b, 0.0), one = constF32(b, 1.0), minusInf = constF32(b, -INFINITY);
    Value tid = toI64(b, threadIdX(b));
    Value lane = arith::AndIOp::create(b, tid, constI64(b, 31));
    Value warp = arith::ShRUIOp::create(b, tid, constI64(b, 5));
    Value inGroup = arith::AndIOp::create(b, lane, constI64(b, L - 1));
    Value group = addI(b, mulI(b, warp, groupsPerWarp), arith::DivUIOp::create(b, lane, constI64(b, L)));

    // This lane's chunks: chunk[j] = inGroup + L j, clamped into the row so every address is
    // valid; a clamped chunk has q = 0 and its accumulators are never stored.
    SmallVector<Value> chunk, chunkValid;
    for (int64_t j = 0; j < J; ++j) {
      Value c = addI(b, inGroup, constI64(b, L * j));
      if (allChunksValid) {
        chunk.push_back(c);
        chunkValid.push_back(Value());
      } else {
        chunkValid.push_back(arith::CmpIOp::create(b, arith::CmpIPredicate::slt, c, constI64(b, C)));
        chunk.push_back(arith::MinSIOp::create(b, c, constI64(b, C - 1)));
      }
    }

    // A head's J x V elements of this lane, (j, e) -> element chunk[j] * V + e, read as single
    // floats: q and x may be column slices with any alignment.
    auto loadHeadElements = [&](ImplicitLocOpBuilder &b, Value head) {
      SmallVector<Value> values;
      for (int64_t j = 0; j < J; ++j)
        for (int64_t e = 0; e < V; ++e) {
          Value x = load(b, f32, elementAddress(b, head, f32, addI(b, mulI(b, chunk[j], V), constI64(b, e))), 4);
          values.push_back(chunkValid[j] ? select(b, chunkValid[j], x, zero) : x);
        }
      return values;
    };

    // rope_kv_attention: the lane's rotated pairs, as indices (a, b) into a head's J x V
    // elements, and each pair's (cos, sin) at the query's position (pairsInLane holds).
    SmallVector<std::pair<int64_t, int64_t>> pairs;
    SmallVector<Value> cosines, sines;
    if (p.rope) {
      const int64_t half = D / 2;
      for (int64_t j = 0; j < J; ++j)
        for (int64_t e = 0; e < V; ++e) {
          // neox: element d < half pairs with d + half, J / 2 chunks on; normal: 2i with 2i + 1.
          if (p.neox ? j >= J / 2 : e % 2 == 1)
            continue;
          pairs.push_back({j * V + e, p.neox ? (j + J / 2) * V + e : j * V + e + 1});
          Value d = addI(b, mulI(b, chunk[j], V), constI64(b, e));
          Value i = p.neox ? d : Value(arith::ShRUIOp::create(b, d, constI64(b, 1)));
          Value angle = loadReadOnly(
              b, VectorType::get({2}, f32),
              elementAddress(b, table, f32, mulI(b, addI(b, mulI(b, last, half), i), 2)), 8);
          cosines.push_back(extractLane(b, angle, 0));
          sines.push_back(extractLane(b, angle, 1));
        }
    }
    // Rotates a head's elements as the rope family does: (a c - b s, a s + b c).
    auto rotate = [&](ImplicitLocOpBuilder &b, SmallVector<Value> values) {
      for (size_t k = 0; k < pairs.size(); ++k) {
        Value a = values[pairs[k].first], v = values[pairs[k].second];
        Value c = cosines[k], sn = sines[k];
        values[pairs[k].first] = fsub(b, fmul(b, a, c), fmul(b, v, sn));
        values[pairs[k].second] = fadd(b, fmul(b, a, sn), fmul(b, v, c));
      }
      return values;
    };

    // q of the G heads, (h, j, e) -> element (chunk[j] * V + e) of head kvHead * G + h, read
    // once (rotated here for rope_kv_attention).
    SmallVector<Value> qv;
    Value qRow = elementAddress(b, q, f32, mulI(b, t, p.qStride));
    for (int64_t h = 0; h < G; ++h) {
      Value head =
          elementAddress(b, qRow, f32, mulI(b, addI(b, mulI(b, kvHead, G), constI64(b, h)), D));
      SmallVector<Value> values = loadHeadElements(b, head);
      if (p.rope)
        values = rotate(b, values);
      qv.append(values.begin(), values.end());
    }

    // Loads |J| chunks of cache row |position| of this kv head.
    Type chunkType = V == 1 ? f32 : Type(VectorType::get({V}, f32));
    auto loadRow = [&](ImplicitLocOpBuilder &b, Value cache, Value position) {
      Value rowStart = elementAddress(b, cache, f32, addI(b, mulI(b, position, rowWidth), mulI(b, kvHead, D)));
      SmallVector<Value> values;
      for (int64_t j = 0; j < J; ++j) {
        Value v = load(b, chunkType, elementAddress(b, rowStart, f32, mulI(b, chunk[j], V)),
                       unsigned(4 * V));
        for (int64_t e = 0; e < V; ++e)
          values.push_back(V == 1 ? v : extractLane(b, v, e));
      }
      return values;
    };

    // Stores |values| (J x V) as this lane's chunks of cache row |position| of this kv head.
    auto storeRow = [&](ImplicitLocOpBuilder &b, Value cache, Value position,
                        ArrayRef<Value> values) {
      Value rowStart =
          elementAddress(b, cache, f32, addI(b, mulI(b, position, rowWidth), mulI(b, kvHead, D)));
      for (int64_t j = 0; j < J; ++j) {
        auto storeChunk = [&](ImplicitLocOpBuilder &b) {
          ArrayRef<Value> chunkValues = values.slice(j * V, V);
          store(b, V == 1 ? chunkValues[0] : buildVector(b, chunkValues),
                elementAddress(b, rowStart, f32, mulI(b, chunk[j], V)), unsigned(4 * V));
        };
        if (chunkValid[j])
          ifThen(b, chunkValid[j], storeChunk);
        else
          storeChunk(b);
      }
    };

    // State carried over positions: m[G], l[G], acc[G][J][V].
    SmallVector<Value> init;
    for (int64_t h = 0; h < G; ++h)
      init.push_back(minusInf);
    for (int64_t h = 0; h < G; ++h)
      init.push_back(zero);
    for (int64_t i = 0; i < G * J * V; ++i)
      init.push_back(zero);

    // An iteration covers splitBlocks * NG * U positions; this block takes the splitRank-th
    // NG * U of them.
    Value perIteration = arith::MulIOp::create(b, splitBlocks, constI64(b, NG * U));
    Value iterations = arith::DivUIOp::create(b, addI(b, last, perIteration), perIteration);
    Value scale = constF32(b, scaleLog2);
    SmallVector<Value> state = forLoop(
        b, constI64(b, 0), iterations, constI64(b, 1), init,
        [&](ImplicitLocOpBuilder &b, Value it, ValueRange carried) -> SmallVector<Value> {
          SmallVector<Value> next(carried.begin(), carried.end());
          // Positions base + u NG + group; past the query's position they are clamped to a
          // valid row and weigh nothing. All lanes run every shuffle.
          Value base = addI(b, arith::MulIOp::create(b, it, perIteration),
                            mulI(b, splitRank, NG * U));
          SmallVector<Value> valid, kRows, vRows;
          SmallVector<SmallVector<Value>> ks, vs;
          for (int64_t u = 0; u < U; ++u) {
            Value position = addI(b, base, addI(b, constI64(b, u * NG), group));
            valid.push_back(arith::CmpIOp::create(b, arith::CmpIPredicate::sle, position, last));
            Value clamped = arith::MinSIOp::create(b, position, last);
            if (!p.rope) {
              ks.push_back(loadRow(b, kCache, clamped));
              vs.push_back(loadRow(b, vCache, clamped));
              continue;
            }
            // rope_kv_attention: the query's own position is not in the caches yet.
            Value own = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, clamped, last);
            SmallVector<Type> types(2 * J * V, f32);
            SmallVector<Value> kv = ifThenElse(
                b, own, types,
                [&](ImplicitLocOpBuilder &b) {
                  Value kHead =
                      elementAddress(b, q, f32,
                                     addI(b, mulI(b, t, p.qStride),
                                          mulI(b, addI(b, kvHead, constI64(b, p.heads)), D)));
                  Value vHead = elementAddress(b, vIn, f32,
                                               addI(b, mulI(b, t, p.vStride), mulI(b, kvHead, D)));
                  SmallVector<Value> values = rotate(b, loadHeadElements(b, kHead));
                  SmallVector<Value> v = loadHeadElements(b, vHead);
                  values.append(v.begin(), v.end());
                  return values;
                },
                [&](ImplicitLocOpBuilder &b) {
                  SmallVector<Value> values = loadRow(b, kCache, clamped);
                  SmallVector<Value> v = loadRow(b, vCache, clamped);
                  values.append(v.begin(), v.end());
                  return values;
                });
            ks.push_back(SmallVector<Value>(kv.begin(), kv.begin() + J * V));
            vs.push_back(SmallVector<Value>(kv.begin() + J * V, kv.end()));
            // The group at the query's position stores its k and v for the tokens after it.
            ifThen(b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, position, last),
                   [&](ImplicitLocOpBuilder &b) {
                     storeRow(b, kCache, last, ks.back());
                     storeRow(b, vCache, last, vs.back());
                   });
          }
          for (int64_t h = 0; h < G; ++h) {
            Value m = carried[h], l = carried[G + h];
            SmallVector<Value> scores;
            Value mNew = m;
            for (int64_t u = 0; u < U; ++u) {
              Value dot;
              for (int64_t i = 0; i < J * V; ++i) {
                Value qi = qv[h * J * V + i];
                dot = dot ? fmaF(b, qi, ks[u][i], dot) : fmul(b, qi, ks[u][i]);
              }
              dot = warpReduceAdd(b, dot, int32_t(L));
              Value s = fmul(b, dot, scale);
              scores.push_back(s);
              mNew = select(b, valid[u], maxF(b, mNew, s), mNew);
            }
            // valid[0] holds whenever any position of this iteration does; without one the
            // state stays as it is (and m may still be -inf, where m - mNew is NaN).
            Value corr = select(b, valid[0], exp2Approx(b, fsub(b, m, mNew)), one);
            Value lNew = fmul(b, l, corr);
            SmallVector<Value> weights;
            for (int64_t u = 0; u < U; ++u) {
              Value w = select(b, valid[u], exp2Approx(b, fsub(b, scores[u], mNew)), zero);
              weights.push_back(w);
              lNew = fadd(b, lNew, w);
            }
            next[h] = mNew;
            next[G + h] = lNew;
            for (int64_t i = 0; i < J * V; ++i) {
              Value a = fmul(b, carried[2 * G + h * J * V + i], corr);
              for (int64_t u = 0; u < U; ++u)
                a = fmaF(b, weights[u], vs[u][i], a);
              next[2 * G + h * J * V + i] = a;
            }
          }
          return next;
        });

    // Merges another partial softmax (mo, lo, acco) into (m, l, acc); an empty one has
    // m = -inf and l = acc = 0.
    auto merge = [&](Value &m, Value &l, MutableArrayRef<Value> acc, Value mo, Value lo,
                     ArrayRef<Value> acco) {
      Value mMax = maxF(b, m, mo);
      Value c1 = select(b, isMinusInf(b, m), zero, exp2Approx(b, fsub(b, m, mMax)));
      Value c2 = select(b, isMinusInf(b, mo), zero, exp2Approx(b, fsub(b, mo, mMax)));
      l = fadd(b, fmul(b, l, c1), fmul(b, lo, c2));
      for (size_t i = 0; i < acc.size(); ++i)
        acc[i] = fadd(b, fmul(b, acc[i], c1), fmul(b, acco[i], c2));
      m = mMax;
    };
    // The groups of a warp: lanes with the same chunks, L apart.
    for (int64_t offset = L; offset < 32; offset *= 2) {
      for (int64_t h = 0; h < G; ++h) {
        Value &m = state[h];
        Value &l = state[G + h];
        MutableArrayRef<Value> acc(state.data() + 2 * G + h * J * V, J * V);
        Value mo = shuffleXor(b, m, int32_t(offset)), lo = shuffleXor(b, l, int32_t(offset));
        SmallVector<Value> acco;
        for (Value a : acc)
          acco.push_back(shuffleXor(b, a, int32_t(offset)));
        merge(m, l, acc, mo, lo, acco);
      }
    }
    // Warp results to shared memory: lanes of the warp's first group hold them.
    Value firstGroup = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, lane, constI64(b, L));
    ifThen(b, firstGroup, [&](ImplicitLocOpBuilder &b) {
      for (int64_t h = 0; h < G; ++h) {
        Value headAcc = elementAddress(b, accShared, f32, addI(b, mulI(b, warp, G * D), constI64(b, h * D)));
        for (int64_t j = 0; j < J; ++j) {
          auto storeChunk = [&](ImplicitLocOpBuilder &b) {
            SmallVector<Value> values(state.begin() + 2 * G + (h * J + j) * V,
                                      state.begin() + 2 * G + (h * J + j + 1) * V);
            Value address = elementAddress(b, headAcc, f32, mulI(b, chunk[j], V));
            store(b, V == 1 ? values[0] : buildVector(b, values), address, unsigned(4 * V));
          };
          if (chunkValid[j])
            ifThen(b, chunkValid[j], storeChunk);
          else
            storeChunk(b);
        }
      }
      ifThen(b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, constI64(b, 0)),
             [&](ImplicitLocOpBuilder &b) {
               for (int64_t h = 0; h < G; ++h) {
                 Value slot = addI(b, mulI(b, warp, G), constI64(b, h));
                 store(b, state[h], elementAddress(b, maxShared, f32, slot), 4);
                 store(b, state[G + h], elementAddress(b, sumShared, f32, slot), 4);
               }
             });
    });
    barrier(b);

    // Element (h, d) of the block's result merges the W warps' partials: the output, or, when
    // the cluster's blocks split the positions, unnormalized (the running max, the sum of
    // weights and the weighted sum of V) for them to merge next. Warp 0's first group (of the
    // cluster's first block) always holds position 0, so the final maximum is finite and the
    // sum positive.
    Value outRow = elementAddress(b, out, f32, addI(b, mulI(b, t, p.heads * D), mulI(b, kvHead, G * D)));
    auto mergeWarps = [&](ImplicitLocOpBuilder &b, Value h, Value d) {
      SmallVector<Value> ms, ls, accs;
      for (int64_t w = 0; w < W; ++w) {
        Value slot = arith::AddIOp::create(b, constI64(b, w * G), h);
        ms.push_back(load(b, f32, elementAddress(b, maxShared, f32, slot), 4));
        ls.push_back(load(b, f32, elementAddress(b, sumShared, f32, slot), 4));
        Value accIndex = arith::AddIOp::create(b, arith::MulIOp::create(b, slot, constI64(b, D)), d);
        accs.push_back(load(b, f32, elementAddress(b, accShared, f32, accIndex), 4));
      }
      return mergePartials(b, ms, ls, accs);
    };
    auto writeOutputs = [&](ImplicitLocOpBuilder &b) {
      forLoop(b, tid, constI64(b, G * D), constI64(b, T), [&](ImplicitLocOpBuilder &b, Value e) {
        Value h = arith::DivUIOp::create(b, e, constI64(b, D));
        Value d = arith::RemUIOp::create(b, e, constI64(b, D));
        auto [mMax, den, num] = mergeWarps(b, h, d);
        store(b, arith::DivFOp::create(b, num, den), elementAddress(b, outRow, f32, e), 4);
      });
    };
    if (S == 1) {
      writeOutputs(b);
      return;
    }
    Value splitRows = arith::XOrIOp::create(
        b, splitPositions, arith::ConstantOp::create(b, b.getI1Type(), b.getBoolAttr(true)));
    ifThen(b, splitRows, writeOutputs);

    // The cluster's blocks merge each other's results: block `rank` the elements of its slice
    // of the G x head_dim outputs, reading every block's shared memory. The cluster barrier
    // (release / acquire) publishes them; the second keeps every block's shared memory alive
    // until all have read it. The condition is the same in every block of the grid.
    ifThen(b, splitPositions, [&](ImplicitLocOpBuilder &b) {
      forLoop(b, tid, constI64(b, G * D), constI64(b, T), [&](ImplicitLocOpBuilder &b, Value e) {
        Value h = arith::DivUIOp::create(b, e, constI64(b, D));
        Value d = arith::RemUIOp::create(b, e, constI64(b, D));
        auto [mMax, den, num] = mergeWarps(b, h, d);
        store(b, num, elementAddress(b, blockAcc, f32, e), 4);
        ifThen(b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, d, constI64(b, 0)),
               [&](ImplicitLocOpBuilder &b) {
                 store(b, mMax, elementAddress(b, blockMax, f32, h), 4);
                 store(b, den, elementAddress(b, blockSum, f32, h), 4);
               });
      });
      auto clusterBarrier = [](ImplicitLocOpBuilder &b) {
        NVVM::ClusterArriveOp::create(b, b.getUnitAttr());
        NVVM::ClusterWaitOp::create(b, b.getUnitAttr());
      };
      clusterBarrier(b);
      const int64_t slice = (G * D + S - 1) / S;
      Value first = mulI(b, rank, slice);
      Value end =
          arith::MinSIOp::create(b, addI(b, first, constI64(b, slice)), constI64(b, G * D));
      forLoop(b, addI(b, first, tid), end, constI64(b, T), [&](ImplicitLocOpBuilder &b, Value e) {
        Value h = arith::DivUIOp::create(b, e, constI64(b, D));
        SmallVector<Value> ms, ls, accs;
        for (int64_t r = 0; r < S; ++r) {
          auto remote = [&](Value array, Value index) {
            Value local = elementAddress(b, array, f32, index);
            Value mapped = NVVM::MapaOp::create(
                b, LLVM::LLVMPointerType::get(b.getContext(), 7), local, constI32(b, r));
            return load(b, f32, mapped, 4);
          };
          ms.push_back(remote(blockMax, h));
          ls.push_back(remote(blockSum, h));
          accs.push_back(remote(blockAcc, e));
        }
        auto [mMax, den, num] = mergePartials(b, ms, ls, accs);
        store(b, arith::DivFOp::create(b, num, den), elementAddress(b, outRow, f32, e), 4);
      });
      clusterBarrier(b);
    });
  });
  return success();
}

} // namespace tern::gpu
