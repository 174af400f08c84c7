// Row-dot kernels: tiling, activation staging, weight loads and reductions shared by the
// matmul families (see GPURowDot.h).
#include "codegen/GPU/GPURowDot.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <algorithm>
#include <cassert>

namespace tern::gpu {

using namespace mlir;

namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

constexpr int64_t kRowDotWarps = 4;
// Shared memory for the staged activations. One array serves both paths, so prefill's tile
// sets what decode blocks reserve too: 24 KiB keeps 9 blocks (36 warps) per H100 SM.
constexpr int64_t kRowDotSmemBudget = 24 * 1024;
constexpr int64_t kDecodeBatch = 8;  // chunks per lane loaded before their use (decode)
constexpr int64_t kPrefillBatch = 2; // the same for prefill, whose tiles need registers

// Chunks of one slice: all of them if they fit, else a multiple of the group's lanes so that
// no lane idles in a full slice.
int64_t sliceChunks(int64_t chunks, int64_t bytesPerChunk, int64_t lanes) {
  int64_t fit = std::max<int64_t>(1, kRowDotSmemBudget / bytesPerChunk);
  if (fit >= chunks)
    return chunks;
  return fit >= lanes ? fit / lanes * lanes : fit;
}

Value constLike(ImplicitLocOpBuilder &b, Type type, int64_t v) {
  return arith::ConstantOp::create(b, type, b.getIntegerAttr(type, v));
}
Value zeroOf(ImplicitLocOpBuilder &b, Type type) {
  return arith::ConstantOp::create(b, type, cast<TypedAttr>(b.getZeroAttr(type)));
}
Value addI(ImplicitLocOpBuilder &b, Value x, Value y) { return arith::AddIOp::create(b, x, y); }
Value mulI(ImplicitLocOpBuilder &b, Value x, Value y) { return arith::MulIOp::create(b, x, y); }
Value addC(ImplicitLocOpBuilder &b, Value x, int64_t c) {
  return c == 0 ? x : addI(b, x, constLike(b, x.getType(), c));
}
Value mulC(ImplicitLocOpBuilder &b, Value x, int64_t c) {
  return c == 1 ? x : mulI(b, x, constLike(b, x.getType(), c));
}
Value ltI(ImplicitLocOpBuilder &b, Value x, Value y) {
  return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y);
}
Value ltC(ImplicitLocOpBuilder &b, Value x, int64_t c) {
  return ltI(b, x, constLike(b, x.getType(), c));
}
Value selectV(ImplicitLocOpBuilder &b, Value c, Value x, Value y) {
  return arith::SelectOp::create(b, c, x, y);
}

// The chunks one lane handles in one step of a slice: index m of the lane's chunks
// (rel = lane-in-group + lanes * m, relative to the slice), its raw loads per weight row.
struct LaneChunk {
  Value rel;                              // i32, clamped into the slice
  llvm::SmallVector<llvm::SmallVector<Value>> raw; // per weight row
};

class RowDotEmitter {
public:
  RowDotEmitter(mlir::gpu::GPUFuncOp fn, ImplicitLocOpBuilder &b, const GpuKernelArgs &args,
                const RowDotFormat &format, Value act, Value out)
      : fn(fn), args(args), f(format), act(act), out(out), plan(planRowDot(format.shape)) {
    i32 = b.getI32Type();
    G = plan.lanes;
    W = plan.warps;
    groupsPerWarp = 32 / G;
    groupsPerBlock = W * groupsPerWarp;
    n = f.shape.n;
    C = f.shape.chunks;
    planes = f.shape.planes;
    planeBytes = f.shape.planeBytes;
    smem = sharedArray(b, fn, "act", b.getI8Type(), plan.smemBytes);
    if (f.activationSums)
      sums = sharedArray(b, fn, "sums", i32, plan.prefillRows * W);
    tid = threadIdX(b);
    lane = andI(b, tid, 31);
    warp = shrU(b, tid, 5);
    group = arith::DivUIOp::create(b, lane, constI32(b, G));
    inGroup = arith::RemUIOp::create(b, lane, constI32(b, G));
    rows32 = toI32(b, args.rows);
  }

  void emit(ImplicitLocOpBuilder &b, bool prefetchWeights) {
    Value bid = blockIdX(b);
    Value decode = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, args.rows, constI64(b, 1));
    Value prefill = arith::XOrIOp::create(b, decode, arith::ConstantOp::create(
                                                         b, b.getI1Type(), b.getBoolAttr(true)));
    const int64_t rowsPerDecodeBlock = groupsPerBlock;
    if (prefetchWeights) {
      // Each path places its own dependent-launch wait: decode loads its first weight chunks
      // into registers before it, so they stream in while the previous dispatch still runs
      // (weights are never written by a dispatch; the call record, read for the row count,
      // is written before the launches). Every thread runs one wait, whichever path it takes.
      fn->setAttr(kOwnDependentWaitAttr, b.getUnitAttr());
      ifThen(b, decode, [&](ImplicitLocOpBuilder &nb) {
        Value j0 = mulC(nb, bid, rowsPerDecodeBlock);
        llvm::SmallVector<LaneChunk> early = loadDecodeChunksEarly(nb, j0);
        prefetchDecodeRows(nb, j0, rowsPerDecodeBlock, /*bulk=*/!decodeLoadsAllEarly());
        emitDependentLaunchControl(nb);
        emitDecode(nb, j0, early);
      });
      // A one-row kernel never runs more rows (its launch rule refuses such entry points),
      // but every thread must still pass one wait.
      ifThen(b, prefill, [&](ImplicitLocOpBuilder &nb) {
        emitDependentLaunchControl(nb);
        if (!f.shape.oneRow)
          emitPrefill(nb, bid);
      });
      return;
    }
    ifThen(b, decode, [&](ImplicitLocOpBuilder &nb) {
      emitDecode(nb, mulC(nb, bid, rowsPerDecodeBlock), {});
    });
    if (!f.shape.oneRow)
      ifThen(b, prefill, [&](ImplicitLocOpBuilder &nb) { emitPrefill(nb, bid); });
  }

private:
  void emitDecode(ImplicitLocOpBuilder &b, Value j0, llvm::ArrayRef<LaneChunk> early) {
    ifThen(b, ltC(b, j0, n), [&](ImplicitLocOpBuilder &tb) {
      emitTile(tb, /*T=*/1, /*R=*/1, plan.decodeSlice, j0, constI32(tb, 0), kDecodeBatch, early);
    });
  }

  void emitPrefill(ImplicitLocOpBuilder &b, Value bid) {
    if (f.prefill) {
      f.prefill(b, bid);
      return;
    }
    const int64_t T = plan.prefillRows, R = plan.prefillWeightRows;
    Value tiles = constI32(b, plan.prefillWeightTiles);
    Value wt = arith::RemUIOp::create(b, bid, tiles);
    Value rt = arith::DivUIOp::create(b, bid, tiles);
    Value j0 = mulC(b, wt, groupsPerBlock * R);
    Value t0 = mulC(b, rt, T);
    ifThen(b, ltI(b, t0, rows32), [&](ImplicitLocOpBuilder &tb) {
      emitTile(tb, T, R, plan.prefillSlice, j0, t0, kPrefillBatch);
    });
  }

  // Chunk steps of a decode lane: its whole share of the row when the row is one slice of
  // at most kDecodeBatch steps per lane (every 2B-4T shape), else the first batch.
  int64_t decodeEarlySteps() const {
    return std::min(kDecodeBatch, ceilDiv(std::min(plan.decodeSlice, C), G));
  }
  bool decodeLoadsAllEarly() const {
    return plan.decodeSlice >= C && ceilDiv(C, G) <= kDecodeBatch;
  }

  // The first slice's first batch of a decode block's weight chunks (rows j0 + the group's
  // index, clamped to n - 1), the loads emitTile would issue first.
  llvm::SmallVector<LaneChunk> loadDecodeChunksEarly(ImplicitLocOpBuilder &b, Value j0) {
    Value groupInBlock = addI(b, mulC(b, warp, groupsPerWarp), group);
    Value row = arith::MinSIOp::create(b, addI(b, j0, groupInBlock), constI32(b, n - 1));
    return loadChunks(b, {row}, 0, std::min(plan.decodeSlice, C), constI32(b, 0),
                      decodeEarlySteps());
  }

  // Thread 0 of a decode block asks L1 for the scales of weight rows j0 .. j0 + count - 1
  // (those below n; at most two lines) and, with |bulk|, L2 for the rows themselves: one bulk
  // prefetch, the rows being contiguous.
  void prefetchDecodeRows(ImplicitLocOpBuilder &b, Value j0, int64_t count, bool bulk) {
    if (!bulk && !f.rowScales)
      return;
    Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, constI32(b, 0));
    Value go = arith::AndIOp::create(b, first, ltC(b, j0, n));
    if (bulk)
      go = arith::AndIOp::create(b, go, pointersAligned(b, {f.weightRows}, 16));
    ifThen(b, go, [&](ImplicitLocOpBuilder &pb) {
      Value rows = arith::MinSIOp::create(pb, constI32(pb, count),
                                          arith::SubIOp::create(pb, constI32(pb, n), j0));
      if (bulk) {
        Value start = mulC(pb, toI64(pb, j0), f.weightRowBytes);
        prefetchBulkToL2(pb, byteAddress(pb, f.weightRows, start),
                         mulC(pb, rows, f.weightRowBytes));
      }
      if (f.rowScales)
        for (Value j : {j0, addI(pb, j0, addC(pb, rows, -1))})
          prefetchToL1(pb, elementAddress(pb, f.rowScales, pb.getF32Type(), toI64(pb, j)));
    });
  }

  // One tile: activation rows t0 .. t0 + T - 1, weight rows j0 + r * groupsPerBlock + (this
  // group's index in the block) for r < R.
  // |early|, if any, holds the first slice's first loads, issued already.
  void emitTile(ImplicitLocOpBuilder &b, int64_t T, int64_t R, int64_t slice, Value j0, Value t0,
                int64_t batch, llvm::ArrayRef<LaneChunk> early = {}) {
    Value groupInBlock = addI(b, mulC(b, warp, groupsPerWarp), group);
    llvm::SmallVector<Value> rowIdx, rowLoad;
    for (int64_t r = 0; r < R; ++r) {
      Value j = addI(b, addC(b, j0, r * groupsPerBlock), groupInBlock);
      rowIdx.push_back(j);
      // Rows past n load row n - 1 and store nothing: every lane takes part in the shuffles.
      rowLoad.push_back(arith::MinSIOp::create(b, j, constI32(b, n - 1)));
    }
    Type accType = f.intAccumulator ? Type(i32) : Type(b.getF32Type());
    llvm::SmallVector<Value> acc(size_t(T * R), zeroOf(b, accType));
    llvm::SmallVector<Value> totals(size_t(T), constI32(b, 0));

    const int64_t S = ceilDiv(C, slice);
    for (int64_t s = 0; s < S; ++s) {
      const int64_t cBegin = s * slice, Cs = std::min(slice, C - cBegin);
      const int64_t M = ceilDiv(Cs, G);
      const int64_t first = std::min(batch, M);
      // The first loads of the slice go out before staging, so their latency overlaps it.
      assert(early.empty() || int64_t(early.size()) == first);
      auto pre = s == 0 && !early.empty()
                     ? llvm::SmallVector<LaneChunk>(early.begin(), early.end())
                     : loadChunks(b, rowLoad, cBegin, Cs, constI32(b, 0), first);
      if (s > 0)
        barrier(b); // everyone is done reading the previous slice
      stage(b, T, slice, cBegin, Cs, t0);
      barrier(b);
      if (f.activationSums)
        for (int64_t t = 0; t < T; ++t)
          for (int64_t w = 0; w < W; ++w)
            totals[t] = addI(b, totals[t],
                             load(b, i32, elementAddress(b, sums, i32, constI32(b, t * W + w)), 4));
      acc = compute(b, pre, T, R, slice, acc);
      const int64_t full = (M - first) / batch, tail = (M - first) % batch;
      if (full == 1) {
        acc = compute(b, loadChunks(b, rowLoad, cBegin, Cs, constI32(b, first), batch), T, R,
                      slice, acc);
      } else if (full > 1) {
        acc = forLoop(b, constI32(b, first), constI32(b, first + full * batch),
                      constI32(b, batch), acc,
                      [&](ImplicitLocOpBuilder &lb, Value m0, ValueRange carried) {
                        llvm::SmallVector<Value> in(carried.begin(), carried.end());
                        return compute(lb, loadChunks(lb, rowLoad, cBegin, Cs, m0, batch), T, R,
                                       slice, in);
                      });
      }
      if (tail > 0)
        acc = compute(b, loadChunks(b, rowLoad, cBegin, Cs, constI32(b, first + full * batch), tail),
                      T, R, slice, acc);
    }

    for (Value &a : acc)
      a = warpReduceAdd(b, a, int32_t(G));
    Value leader = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, inGroup, constI32(b, 0));
    ifThen(b, leader, [&](ImplicitLocOpBuilder &lb) {
      for (int64_t t = 0; t < T; ++t)
        for (int64_t r = 0; r < R; ++r) {
          Value tg = addC(lb, t0, t);
          Value j = rowIdx[r];
          Value ok = arith::AndIOp::create(lb, ltI(lb, tg, rows32), ltC(lb, j, n));
          ifThen(lb, ok, [&](ImplicitLocOpBuilder &sb) {
            Value y = f.finish(sb, acc[t * R + r], tg, j, f.activationSums ? totals[t] : Value());
            Value index = addI(sb, mulC(sb, toI64(sb, tg), n), toI64(sb, j));
            store(sb, y, elementAddress(sb, out, sb.getF32Type(), index), 4);
          });
        }
    });
  }

  // Loads chunk steps m0 .. m0 + count - 1 of this lane in the slice, for every weight row.
  llvm::SmallVector<LaneChunk> loadChunks(ImplicitLocOpBuilder &b, llvm::ArrayRef<Value> rowLoad,
                                          int64_t cBegin, int64_t Cs, Value m0, int64_t count) {
    llvm::SmallVector<LaneChunk> chunks;
    for (int64_t m = 0; m < count; ++m) {
      LaneChunk lc;
      Value rel = addI(b, inGroup, mulC(b, addC(b, m0, m), G));
      Value valid;
      if (Cs % G != 0) { // the lane's last step may fall past the slice
        valid = ltC(b, rel, Cs);
        rel = selectV(b, valid, rel, constI32(b, 0));
      }
      lc.rel = rel;
      Value c = addC(b, rel, cBegin);
      for (Value row : rowLoad) {
        llvm::SmallVector<Value> raw = f.loadChunk(b, row, c);
        if (valid)
          for (Value &v : raw)
            v = selectV(b, valid, v, zeroOf(b, v.getType()));
        lc.raw.push_back(std::move(raw));
      }
      chunks.push_back(std::move(lc));
    }
    return chunks;
  }

  llvm::SmallVector<Value> compute(ImplicitLocOpBuilder &b, llvm::ArrayRef<LaneChunk> chunks,
                                   int64_t T, int64_t R, int64_t slice,
                                   llvm::SmallVector<Value> acc) {
    for (const LaneChunk &lc : chunks) {
      for (int64_t p = 0; p < planes; ++p) {
        llvm::SmallVector<llvm::SmallVector<Value>> weights;
        for (int64_t r = 0; r < R; ++r)
          weights.push_back(f.decodePlane(b, lc.raw[r], p));
        for (int64_t t = 0; t < T; ++t) {
          Value offset = addI(b, mulC(b, lc.rel, planeBytes),
                              constI32(b, (t * planes + p) * slice * planeBytes));
          llvm::SmallVector<Value> actElems = loadPlane(b, byteAddress(b, smem, offset));
          Value prepared = f.prepare ? f.prepare(b, actElems, p) : Value();
          for (int64_t r = 0; r < R; ++r)
            acc[t * R + r] = f.dot(b, acc[t * R + r], weights[r], lc.raw[r], actElems, prepared, p);
        }
      }
    }
    return acc;
  }

  Type planeType(ImplicitLocOpBuilder &b) const {
    if (f.intActivations)
      return VectorType::get({planeBytes / 4}, i32);
    const int64_t elems = planeBytes / 4;
    return elems == 1 ? Type(b.getF32Type()) : Type(VectorType::get({elems}, b.getF32Type()));
  }

  llvm::SmallVector<Value> loadPlane(ImplicitLocOpBuilder &b, Value address) {
    Type type = planeType(b);
    Value v = load(b, type, address, unsigned(planeBytes));
    llvm::SmallVector<Value> elems;
    auto vt = dyn_cast<VectorType>(type);
    if (!vt)
      return {v};
    for (int64_t i = 0; i < vt.getNumElements(); ++i)
      elems.push_back(LLVM::ExtractElementOp::create(b, v, constI32(b, i)));
    return elems;
  }

  // Stages activation rows t0 .. t0 + T - 1 (zeros past rows and past k), chunks cBegin ..
  // cBegin + Cs - 1, into shared memory; with activationSums also each row's sum over them.
  void stage(ImplicitLocOpBuilder &b, int64_t T, int64_t slice, int64_t cBegin, int64_t Cs,
             Value t0) {
    const int64_t pieces = Cs * planes, threads = W * 32;
    Type f32 = b.getF32Type();
    for (int64_t t = 0; t < T; ++t) {
      Value tg = addC(b, t0, t);
      Value rowValid = ltI(b, tg, rows32);
      Value rowStart = mulC(b, toI64(b, selectV(b, rowValid, tg, constI32(b, 0))), f.actRowStride);
      llvm::SmallVector<Value> init;
      if (f.activationSums)
        init.push_back(constI32(b, 0));
      auto partial = forLoop(
          b, tid, constI32(b, pieces), constI32(b, threads), init,
          [&](ImplicitLocOpBuilder &lb, Value p, ValueRange carried) -> llvm::SmallVector<Value> {
            Value rel = arith::RemUIOp::create(lb, p, constI32(lb, Cs));
            Value plane = arith::DivUIOp::create(lb, p, constI32(lb, Cs));
            Value e = f.pieceStart(lb, addC(lb, rel, cBegin), plane);
            Value dstOffset = mulC(
                lb, addI(lb, mulC(lb, addC(lb, plane, t * planes), slice), rel), planeBytes);
            Value dst = byteAddress(lb, smem, dstOffset);
            auto elementValid = [&](Value index) {
              return arith::AndIOp::create(lb, rowValid, ltC(lb, index, f.k));
            };
            auto source = [&](Value index, Value ok, Type type) {
              Value at = addI(lb, rowStart, toI64(lb, selectV(lb, ok, index, constI32(lb, 0))));
              return elementAddress(lb, act, type, at);
            };
            if (!f.intActivations) {
              const int64_t elems = planeBytes / 4;
              Type type = planeType(lb);
              Value v = elems == 1 ? Value() : Value(LLVM::PoisonOp::create(lb, type));
              for (int64_t x = 0; x < elems; ++x) {
                Value index = addC(lb, e, x);
                Value ok = elementValid(index);
                Value xv = selectV(lb, ok, loadReadOnly(lb, f32, source(index, ok, f32), 4),
                                   constF32(lb, 0.0));
                v = elems == 1 ? xv
                               : Value(LLVM::InsertElementOp::create(lb, v, xv, constI32(lb, x)));
              }
              store(lb, v, dst, unsigned(planeBytes));
              return {};
            }
            auto words = VectorType::get({4}, i32);
            Value v;
            if (f.actAligned16) {
              // Pieces start at multiples of 16 and k % 16 == 0: a piece is all in or all out.
              Value ok = elementValid(e);
              v = loadReadOnly(lb, words, source(e, ok, lb.getI8Type()), 16);
              v = selectV(lb, ok, v, zeroOf(lb, words));
            } else {
              v = LLVM::PoisonOp::create(lb, words);
              for (int64_t w = 0; w < 4; ++w) {
                Value word = constI32(lb, 0);
                for (int64_t x = 0; x < 4; ++x) {
                  Value index = addC(lb, e, 4 * w + x);
                  Value ok = elementValid(index);
                  Value byte = loadReadOnly(lb, lb.getI8Type(), source(index, ok, lb.getI8Type()), 1);
                  byte = selectV(lb, ok, byte, zeroOf(lb, lb.getI8Type()));
                  Value wide = arith::ExtUIOp::create(lb, i32, byte);
                  word = arith::OrIOp::create(lb, word, shlI(lb, wide, 8 * x));
                }
                v = LLVM::InsertElementOp::create(lb, v, word, constI32(lb, w));
              }
            }
            store(lb, v, dst, 16);
            if (!f.activationSums)
              return {};
            Value sum = carried[0];
            for (int64_t w = 0; w < 4; ++w)
              sum = dp4a(lb, LLVM::ExtractElementOp::create(lb, v, constI32(lb, w)), true,
                         constI32(lb, 0x01010101), false, sum);
            return {sum};
          });
      if (f.activationSums) {
        Value total = warpReduceAdd(b, partial[0], 32);
        Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, constI32(b, 0));
        ifThen(b, first, [&](ImplicitLocOpBuilder &lb) {
          Value slot = addC(lb, warp, t * W);
          store(lb, total, elementAddress(lb, sums, i32, slot), 4);
        });
      }
    }
  }

  mlir::gpu::GPUFuncOp fn;
  const GpuKernelArgs &args;
  const RowDotFormat &f;
  Value act, out;
  RowDotPlan plan;
  Type i32;
  int64_t G, W, groupsPerWarp, groupsPerBlock, n, C, planes, planeBytes;
  Value smem, sums, tid, lane, warp, group, inGroup, rows32;
};

} // namespace

RowDotPlan planRowDot(const RowDotShape &shape) {
  RowDotPlan plan;
  // Lanes per row: the most (fewer rows per warp) that still keep 90% of the lanes busy on
  // the row's chunks, else the best fit.
  double bestFit = 0;
  for (int64_t g : {32, 16, 8, 4, 2, 1}) {
    const double fit = double(shape.chunks) / double(ceilDiv(shape.chunks, g) * g);
    if (fit >= 0.9) {
      plan.lanes = g;
      break;
    }
    if (fit > bestFit + 1e-9) {
      bestFit = fit;
      plan.lanes = g;
    }
  }
  plan.warps = kRowDotWarps;
  const int64_t perChunk = shape.planes * shape.planeBytes;
  plan.decodeSlice = sliceChunks(shape.chunks, perChunk, plan.lanes);
  plan.prefillSlice = sliceChunks(shape.chunks, perChunk * plan.prefillRows, plan.lanes);
  plan.smemBytes = shape.oneRow ? plan.decodeSlice * perChunk
                                : std::max(plan.decodeSlice, plan.prefillRows * plan.prefillSlice) *
                                      perChunk;
  const int64_t groups = plan.warps * 32 / plan.lanes;
  plan.decodeBlocks = ceilDiv(shape.n, groups);
  plan.prefillWeightTiles = ceilDiv(shape.n, groups * plan.prefillWeightRows);
  return plan;
}

llvm::Expected<LaunchShape> rowDotLaunch(const RowDotShape &shape, int64_t maxRows) {
  if (shape.oneRow && maxRows > 1)
    return llvm::createStringError("a one_row matmul kernel cannot run an entry point of up to "
                                   "%lld rows",
                                   (long long)maxRows);
  const RowDotPlan plan = planRowDot(shape);
  int64_t blocks = plan.decodeBlocks;
  if (maxRows > 1)
    blocks = std::max(blocks, plan.prefillWeightTiles * ceilDiv(maxRows, plan.prefillRows));
  LaunchShape launch;
  launch.block = {uint32_t(plan.warps * 32), 1, 1};
  launch.grid = {uint32_t(blocks), 1, 1};
  return launch;
}

llvm::Expected<RowDotShape> withOneRowParam(const KernelSpec &spec, RowDotShape shape) {
  const int64_t oneRow = spec.getInt("one_row", 0);
  if (oneRow != 0 && oneRow != 1)
    return llvm::createStringError("%s: parameter 'one_row' is %lld, expected 0 or 1",
                                   spec.family.c_str(), (long long)oneRow);
  shape.oneRow = oneRow == 1;
  return shape;
}

void emitRowDotKernel(mlir::gpu::GPUFuncOp fn, ImplicitLocOpBuilder &b, const GpuKernelArgs &args,
                      const RowDotFormat &format, Value act, Value out, const GpuTarget &target) {
  // Both paths share one register allocation; prefill's tiles would take up to 255 registers
  // per thread and leave decode 2 blocks per SM. 128 registers keep 4 blocks (16 warps, enough
  // 16-byte loads in flight to stream the weights) at the cost of a little prefill spilling.
  // A one-row kernel has decode's tile alone, which fits 64 registers: 8 blocks or more per
  // SM, so that the 864 blocks of the 2B-4T gate/up projection run in one wave.
  const RowDotPlan plan = planRowDot(format.shape);
  fn->setAttr(NVVM::NVVMDialect::getMaxntidAttrName(),
              b.getDenseI32ArrayAttr({int32_t(plan.warps * 32), 1, 1}));
  fn->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
              b.getI32IntegerAttr(format.shape.oneRow ? 8 : 4));
  // The bulk prefetch needs 16-byte aligned rows of a multiple of 16 bytes (a base that is
  // not skips it) and fewer than 2^31 bytes per block.
  const bool prefetchWeights = target.computeCapability >= 90 && format.weightRows &&
                               format.weightRowBytes > 0 && format.weightRowBytes % 16 == 0 &&
                               format.weightRowBytes * 32 < (int64_t(1) << 31);
  RowDotEmitter emitter(fn, b, args, format, act, out);
  emitter.emit(b, prefetchWeights);
}

} // namespace tern::gpu
