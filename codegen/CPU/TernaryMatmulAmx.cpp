// ternary_matmul on AMX-INT8 tiles: the prefill GEMM of i2_b128 weights on CPUs with AMX.
//
// tdpbssd adds to a 16 x 16 int32 tile C the products of a 16 x 64 int8 tile A (16 activation
// rows, 64 consecutive k) and a 64 x 16 int8 tile B held in the order the instruction reads:
// tile row r holds, for each of 16 weight rows i, the four weights at k = 4r .. 4r + 3 (bytes
// 4i .. 4i + 3). Activation tiles load straight from the activation rows (stride k). Weight
// tiles are unpacked from i2_b128 once per 32 weight rows, for all of k, into a stack buffer
// that every 32-row activation step then reads:
//
// - bytes 4d .. 4d + 3 (dword d) of block b of a row hold, in bits 2s, the codes of weights
//   128b + 32s + 4d .. + 3. So the dword d of 16 rows side by side, shifted right by 2s and
//   masked, is row (s % 2) * 8 + d of the tile for k chunk 2b + s / 2, for all 16 rows;
// - a block of 16 rows (16 x 8 dwords) is transposed into those 8 vectors by 32 two-source
//   shuffles, and 32 stores write the four tile halves it holds;
// - the stored bytes are code - 1, the weights themselves, so the dot products need no
//   activation sums.
//
// Tile registers: 2 x 2 accumulators (32 activation rows x 32 weight rows), 2 activation tiles
// and 2 weight tiles, the 8 there are; each loaded tile feeds two tdpbssd. LLVM configures the
// tiles (ldtilecfg) at the kernel's entry and releases them at its exit. The epilogue reads the
// accumulators back through the stack and scales each dot in double like the reference, so the
// outputs are bit-identical to the vector path's.
#include "codegen/CPU/TernaryMatmulAmx.h"
#include "codegen/CPU/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <tuple>

namespace tern::cpu {

using namespace mlir;

namespace {

constexpr int64_t kTileRows = 16;                     // rows of every tile
constexpr int64_t kTileRowBytes = 64;                 // bytes of every tile row
constexpr int64_t kTileBytes = kTileRows * kTileRowBytes;
constexpr int64_t kChunkWeights = 64;                 // k covered by one weight tile
constexpr int64_t kBlockWeights = 128;                // i2_b128
constexpr int64_t kBlockBytes = 32;
constexpr int64_t kBlockDwords = kBlockBytes / 4;

Type amxType(ImplicitLocOpBuilder &b) { return LLVM::LLVMX86AMXType::get(b.getContext()); }

Value i16Const(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantOp::create(b, b.getI16IntegerAttr(v));
}

Value tileZero(ImplicitLocOpBuilder &b) {
  return callIntrinsic(b, amxType(b), "llvm.x86.tilezero.internal",
                       {i16Const(b, kTileRows), i16Const(b, kTileRowBytes)});
}

Value tileLoad(ImplicitLocOpBuilder &b, Value pointer, int64_t stride) {
  return callIntrinsic(
      b, amxType(b), "llvm.x86.tileloadd64.internal",
      {i16Const(b, kTileRows), i16Const(b, kTileRowBytes), pointer,
       constInt(b, b.getI64Type(), stride)});
}

// c + a x b (signed int8 x signed int8 into int32).
Value tileDot(ImplicitLocOpBuilder &b, Value c, Value a, Value w) {
  return callIntrinsic(b, amxType(b), "llvm.x86.tdpbssd.internal",
                       {i16Const(b, kTileRows), i16Const(b, kTileRowBytes),
                        i16Const(b, kTileRowBytes), c, a, w});
}

void tileStore(ImplicitLocOpBuilder &b, Value pointer, Value tile) {
  LLVM::CallIntrinsicOp::create(
      b, b.getStringAttr("llvm.x86.tilestored64.internal"),
      ValueRange{i16Const(b, kTileRows), i16Const(b, kTileRowBytes), pointer,
                 constInt(b, b.getI64Type(), kTileRowBytes), tile});
}

// From 16 vectors of 8 dwords (rows[i] = dwords 0..7 of row i), the 8 vectors of 16 dwords
// columns[d] = (dword d of row 0, ..., dword d of row 15). Each vector's lanes are tracked as
// (row, dword) labels: the first round puts two rows in one vector; each later round pairs
// vectors with the same dwords and neighbouring rows and splits their lanes on one more bit of
// the dword, until every vector holds one dword of all 16 rows. 32 shuffles of two sources.
SmallVector<Value> transposeDwords(ImplicitLocOpBuilder &b, ArrayRef<Value> rows) {
  using Label = std::pair<int64_t, int64_t>; // (row, dword)
  struct Lanes {
    Value value;
    SmallVector<Label> labels; // ordered by (dword, row)
  };
  auto byDwordThenRow = [](const Label &x, const Label &y) {
    return std::tie(x.second, x.first) < std::tie(y.second, y.first);
  };
  auto shuffle = [&](const Lanes &x, const Lanes &y, SmallVector<Label> want) {
    llvm::sort(want, byDwordThenRow);
    SmallVector<int64_t> mask;
    for (const Label &label : want) {
      auto at = llvm::find(x.labels, label);
      mask.push_back(at != x.labels.end()
                         ? int64_t(at - x.labels.begin())
                         : int64_t(x.labels.size()) +
                               int64_t(llvm::find(y.labels, label) - y.labels.begin()));
    }
    return Lanes{vector::ShuffleOp::create(b, x.value, y.value, mask), want};
  };

  SmallVector<Lanes> level;
  for (int64_t i = 0; i < kTileRows; ++i) {
    Lanes row{rows[i], {}};
    for (int64_t d = 0; d < kBlockDwords; ++d)
      row.labels.push_back({i, d});
    level.push_back(row);
  }
  SmallVector<Lanes> next;
  for (int64_t p = 0; p < kTileRows; p += 2) {
    SmallVector<Label> both(level[p].labels);
    both.append(level[p + 1].labels);
    next.push_back(shuffle(level[p], level[p + 1], both));
  }
  level = std::move(next);
  // Vectors sharing a dword set sit next to each other in |level|, rows ascending.
  for (int64_t bit = 2; bit >= 0; --bit) {
    next.clear();
    SmallVector<Lanes> low, high;
    for (size_t v = 0; v < level.size(); v += 2) {
      SmallVector<Label> lo, hi;
      for (const Lanes *lanes : {&level[v], &level[v + 1]})
        for (const Label &label : lanes->labels)
          ((label.second >> bit) & 1 ? hi : lo).push_back(label);
      low.push_back(shuffle(level[v], level[v + 1], lo));
      high.push_back(shuffle(level[v], level[v + 1], hi));
    }
    // Keep equal dword sets adjacent: all the low halves of a set, then its high halves.
    const size_t perSet = low.size() / (size_t(1) << (2 - bit));
    for (size_t set = 0; set < low.size(); set += perSet) {
      next.append(low.begin() + set, low.begin() + set + perSet);
      next.append(high.begin() + set, high.begin() + set + perSet);
    }
    level = std::move(next);
  }
  SmallVector<Value> columns(kBlockDwords);
  for (const Lanes &lanes : level)
    columns[lanes.labels.front().second] = lanes.value;
  return columns;
}

class AmxTernaryEmitter {
public:
  AmxTernaryEmitter(const TernaryPrefillShape &shape, const AmxTernaryOperands &ops,
                    const AmxScratch &scratch)
      : shape(shape), ops(ops), scratch(scratch) {}

  int64_t chunks() const { return shape.k / kChunkWeights; }

  // Unpacks weight rows j .. j + 31, all of k, into the weight tile buffer: chunk c's tile for
  // rows j + 16t .. j + 16t + 15 at (2c + t) KiB.
  void unpackWeights(ImplicitLocOpBuilder &b, Value j) const {
    const int64_t fullBlocks = shape.k / kBlockWeights;
    auto block = [&](ImplicitLocOpBuilder &nb, Value blockIndex, int64_t slots) {
      for (int64_t t = 0; t < 2; ++t) {
        SmallVector<Value> rows;
        for (int64_t i = 0; i < kTileRows; ++i) {
          Value row = arith::AddIOp::create(nb, j, constIndex(nb, t * kTileRows + i));
          Value at = arith::AddIOp::create(
              nb, arith::MulIOp::create(nb, row, constIndex(nb, shape.rowBytes)),
              arith::MulIOp::create(nb, blockIndex, constIndex(nb, kBlockBytes)));
          rows.push_back(vector::BitCastOp::create(
              nb, VectorType::get({kBlockDwords}, nb.getI32Type()),
              loadVector(nb, ops.w, at, kBlockBytes)));
        }
        SmallVector<Value> columns = transposeDwords(nb, rows);
        auto bytes = VectorType::get({kTileRowBytes}, nb.getI8Type());
        // Tile (chunk 2 * block + s / 2, t), row (s % 2) * 8 + d.
        Value blockTiles = arith::MulIOp::create(nb, blockIndex, constIndex(nb, 4 * kTileBytes));
        for (int64_t d = 0; d < kBlockDwords; ++d) {
          Value packed = vector::BitCastOp::create(nb, bytes, columns[d]);
          for (int64_t s = 0; s < slots; ++s) {
            Value codes = packed;
            if (s > 0)
              codes = arith::ShRUIOp::create(nb, codes, constInt(nb, bytes, 2 * s));
            codes = arith::AndIOp::create(nb, codes, constInt(nb, bytes, 3));
            Value weights = arith::SubIOp::create(nb, codes, constInt(nb, bytes, 1));
            const int64_t offset =
                ((s / 2) * 2 + t) * kTileBytes + ((s % 2) * kBlockDwords + d) * kTileRowBytes;
            Value at = bytePointer(
                nb, scratch.weightTiles,
                arith::AddIOp::create(nb, blockTiles, constIndex(nb, offset)));
            LLVM::StoreOp::create(nb, weights, at, /*alignment=*/kTileRowBytes);
          }
        }
      }
    };
    if (fullBlocks > 0)
      forLoop(b, constIndex(b, 0), constIndex(b, fullBlocks), constIndex(b, 1),
              [&](ImplicitLocOpBuilder &nb, Value blockIndex) { block(nb, blockIndex, 4); });
    if (shape.k % kBlockWeights != 0) // half a block: k is a multiple of 64
      block(b, constIndex(b, fullBlocks), 2);
  }

  // Output rows m0 .. m0 + 31 x columns j .. j + 31; |ws| the 16 weight scales of each
  // weight tile, in double.
  void emitRowStep(ImplicitLocOpBuilder &b, Value m0, Value j, ArrayRef<Value> ws) const {
    // Four tilezero, not one shared value: tiles cannot be copied between registers.
    SmallVector<Value> init;
    for (int64_t i = 0; i < 4; ++i)
      init.push_back(tileZero(b));
    SmallVector<Value> acc = forLoop(
        b, constIndex(b, 0), constIndex(b, chunks()), constIndex(b, 1), init,
        [&](ImplicitLocOpBuilder &nb, Value chunk, ValueRange carried) {
          Value chunkBytes = arith::MulIOp::create(nb, chunk, constIndex(nb, kChunkWeights));
          SmallVector<Value> a, w;
          for (int64_t mt = 0; mt < 2; ++mt) {
            Value row = arith::AddIOp::create(nb, m0, constIndex(nb, mt * kTileRows));
            Value at = arith::AddIOp::create(
                nb, arith::MulIOp::create(nb, row, constIndex(nb, shape.k)), chunkBytes);
            a.push_back(tileLoad(nb, bytePointer(nb, ops.qPtr, at), shape.k));
          }
          Value chunkTiles = arith::MulIOp::create(nb, chunk, constIndex(nb, 2 * kTileBytes));
          for (int64_t t = 0; t < 2; ++t) {
            Value at = arith::AddIOp::create(nb, chunkTiles, constIndex(nb, t * kTileBytes));
            w.push_back(tileLoad(nb, bytePointer(nb, scratch.weightTiles, at), kTileRowBytes));
          }
          SmallVector<Value> next;
          for (int64_t mt = 0; mt < 2; ++mt)
            for (int64_t t = 0; t < 2; ++t)
              next.push_back(tileDot(nb, carried[mt * 2 + t], a[mt], w[t]));
          return next;
        });
    for (int64_t i = 0; i < 4; ++i)
      tileStore(b, bytePointer(b, scratch.accumulators, constIndex(b, i * kTileBytes)), acc[i]);

    // Epilogue: dot * ws (or / ws), then / qs, in double, rounded once to float (as the
    // reference and the vector path do).
    Type f64 = b.getF64Type();
    auto dotsType = VectorType::get({kTileRows}, b.getI32Type());
    auto dotsF64 = VectorType::get({kTileRows}, f64);
    forLoop(b, constIndex(b, 0), constIndex(b, kTileRows), constIndex(b, 1),
            [&](ImplicitLocOpBuilder &rb, Value r) {
              for (int64_t mt = 0; mt < 2; ++mt) {
                Value row = arith::AddIOp::create(
                    rb, m0, arith::AddIOp::create(rb, r, constIndex(rb, mt * kTileRows)));
                Value qs = extF(rb, f64, memref::LoadOp::create(rb, ops.qscale, ValueRange{row}));
                Value rowOut = arith::MulIOp::create(rb, row, constIndex(rb, shape.n));
                for (int64_t t = 0; t < 2; ++t) {
                  Value at = arith::AddIOp::create(
                      rb, arith::MulIOp::create(rb, r, constIndex(rb, kTileRowBytes)),
                      constIndex(rb, (mt * 2 + t) * kTileBytes));
                  Value dots = LLVM::LoadOp::create(rb, dotsType,
                                                    bytePointer(rb, scratch.accumulators, at),
                                                    /*alignment=*/kTileRowBytes);
                  Value scaled = arith::SIToFPOp::create(rb, dotsF64, dots);
                  scaled = shape.divideByScale ? Value(arith::DivFOp::create(rb, scaled, ws[t]))
                                               : Value(arith::MulFOp::create(rb, scaled, ws[t]));
                  scaled = arith::DivFOp::create(rb, scaled,
                                                 vector::BroadcastOp::create(rb, dotsF64, qs));
                  Value out = arith::TruncFOp::create(
                      rb, VectorType::get({kTileRows}, rb.getF32Type()), scaled);
                  Value col = arith::AddIOp::create(rb, j, constIndex(rb, t * kTileRows));
                  storeVector(rb, out, ops.y, arith::AddIOp::create(rb, rowOut, col));
                }
              }
            });
  }

private:
  const TernaryPrefillShape &shape;
  const AmxTernaryOperands &ops;
  const AmxScratch &scratch;
};

} // namespace

bool amxTernaryApplies(const CpuTarget &target, int64_t k, int64_t nBlock) {
  return target.hasAMX && k % kChunkWeights == 0 && nBlock % kAmxRowStep == 0;
}

AmxScratch allocateAmxScratch(ImplicitLocOpBuilder &b, const TernaryPrefillShape &shape) {
  return {stackBuffer(b, shape.k / kChunkWeights * 2 * kTileBytes, kTileRowBytes),
          stackBuffer(b, 4 * kTileBytes, kTileRowBytes)};
}

Value emitAmxTernaryRows(ImplicitLocOpBuilder &b, const TernaryPrefillShape &shape,
                         const AmxTernaryOperands &ops, const AmxScratch &scratch, Value rows,
                         Value firstCol, Value lastCol) {
  AmxTernaryEmitter emitter(shape, ops, scratch);
  return emitWholeRowSteps(b, rows, kAmxRowStep, [&](ImplicitLocOpBuilder &ib, Value amxRows) {
    Value step = constIndex(ib, kAmxRowStep);
    forLoop(ib, firstCol, lastCol, step, [&](ImplicitLocOpBuilder &jb, Value j) {
      emitter.unpackWeights(jb, j);
      SmallVector<Value> ws;
      for (int64_t t = 0; t < 2; ++t)
        ws.push_back(extF(jb, VectorType::get({kTileRows}, jb.getF64Type()),
                          loadVector(jb, ops.wscale,
                                     arith::AddIOp::create(jb, j, constIndex(jb, t * kTileRows)),
                                     kTileRows)));
      forLoop(jb, constIndex(jb, 0), amxRows, step, [&](ImplicitLocOpBuilder &mb, Value m0) {
        emitter.emitRowStep(mb, m0, j, ws);
      });
    });
  });
}

} // namespace tern::cpu
