// ternary_matmul on tl2_t64 weights: lookup tables of activation sums, read with vpermb.
//
// tl2_t64 (runtime/kernels/packing/TernaryPacking.h, docs/kernels.md) stores 3 weights as a
// 4-bit index |v - 13| of v = 9(w0+1) + 3(w1+1) + (w2+1) and a sign bit (v < 13): the 27
// triples are 14 magnitudes and their negatives. For every group of 3 activations the kernel
// first builds the 16-entry table of the signed sums T[i] of the triple v = 13 + i (entries
// 14 and 15 unused), biased to E = T + 384 in [3, 765] and split into a low-byte and a
// high-byte table, 4 groups (a quad, 12 weights) per 64-byte table. In the weights a 64-row
// tile keeps, per quad, the 4 indices of a row in the 4 bytes of one dword, 16 rows per
// 64-byte vector, so
//   vpermb(table, index | 16 m)  looks up group m of each row, and
//   vpdpbusd(acc, lookup, sign)  with the sign as +1 / -1 bytes sums the row's 4 lookups into
//                                its i32 lane.
// The dot product is sum(lo) + 256 sum(hi) - 384 S, S the row's sum of signs (stored with the
// tile). The k % 12 leftover weights are 2-bit codes w + 1 against the broadcast activations,
// minus their sum. Per quad and 64 rows: 2 loads, 4 index steps, 4 sign blends (from 64-bit
// masks), 8 vpermb and 8 vpdpbusd, for 768 weights in 160 bytes: 1.67 bits per weight, 16.7%
// fewer bytes than i2_b128 for decode, which is bound by memory bandwidth (docs/perf/lut.md).
//
// The tables cost 128 bytes per 12 activations of a row; the kernel builds them on its stack
// once per call (the runtime calls it once per thread and dispatch) for the row (decode) or
// the pair of rows (prefill) it computes, then streams its tiles. Prefill gets no weight reuse
// beyond the pair: this layout is for decode (`ternc compile --ternary-packing=tl2`).
#include "codegen/CPU/Bindings.h"
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/KernelGenerators.h"
#include "packing/TernaryPacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace tern::cpu {

using namespace mlir;

namespace {

constexpr int64_t kTileRows = packing::kTl2TileRows;
constexpr int64_t kQuadWeights = packing::kTl2QuadWeights;
constexpr int64_t kTableBytes = 128; // per quad: the low-byte table, then the high-byte one
constexpr int64_t kTableBias = 384;  // E = T + 384 >= 3 for |T| <= 3 * 127
constexpr int64_t kPairRows = 2;     // activation rows a prefill tile step shares
// One ascending prefetch stream into L2 (prefetcht1) 12 KiB ahead of the quad being read:
// best of 4-16 KiB on Zen 4 for this tile-interleaved stream (docs/perf/lut.md).
constexpr int64_t kPrefetchDistance = 12288;

struct Tl2Params {
  int64_t n, k, nBlock, quads, chunks, tileBytes;
  bool divideByScale;
  // vpermb and the 512-bit vpdpbusd; without them (x86-64-v3, generic, x86-64-v4 without
  // VBMI) the same algorithm runs with portable vector operations: a gather from the table in
  // memory per lookup and widened multiplies per dot. Correct but several times slower than
  // i2_b128, so ternc only chooses tl2_t64 for VBMI targets; the portable form lets the layout
  // and the kernel's logic be checked on any x86-64 host.
  bool vbmi;
};

class Tl2Emitter {
public:
  Tl2Emitter(const Tl2Params &p, ImplicitLocOpBuilder &b, Value q, Value qscale, Value w,
             Value wPtr, Value wscale, Value y, Value tables)
      : p(p), q(q), qscale(qscale), w(w), wPtr(wPtr), wscale(wscale), y(y), tables(tables) {
    v64i8 = VectorType::get({64}, b.getI8Type());
    v64i16 = VectorType::get({64}, b.getI16Type());
    v16i32 = VectorType::get({16}, b.getI32Type());
  }

  // The low- and high-byte tables of activation row |row| into table slot |slot|.
  void buildTables(ImplicitLocOpBuilder &b, Value row, int64_t slot) const {
    // Lane L of a 64-lane table: group m = L / 16 of the quad, entry i = L % 16, the triple
    // v = 13 + i (entries 14 and 15 get coefficients 0: never looked up).
    SmallVector<int64_t> coefficient[3], gather[3];
    for (int64_t lane = 0; lane < 64; ++lane) {
      const int64_t m = lane / 16, i = lane % 16, v = 13 + i;
      const int64_t weights[3] = {v / 9 - 1, v / 3 % 3 - 1, v % 3 - 1};
      for (int j = 0; j < 3; ++j) {
        coefficient[j].push_back(i <= 13 ? weights[j] : 0);
        gather[j].push_back(3 * m + j);
      }
    }
    Value qRow = arith::MulIOp::create(b, row, constIndex(b, p.k));
    Value slotBase = constIndex(b, slot * p.quads * kTableBytes);
    forLoop(b, constIndex(b, 0), constIndex(b, p.quads), constIndex(b, 1),
            [&](ImplicitLocOpBuilder &lb, Value quad) {
              Value at = arith::AddIOp::create(
                  lb, qRow, arith::MulIOp::create(lb, quad, constIndex(lb, kQuadWeights)));
              Value acts = arith::ExtSIOp::create(lb, VectorType::get({12}, lb.getI16Type()),
                                                  loadVector(lb, q, at, kQuadWeights));
              Value entries = constInt(lb, v64i16, kTableBias);
              for (int j = 0; j < 3; ++j) {
                Value spread = vector::ShuffleOp::create(lb, acts, acts, gather[j]);
                Value coef = arith::ConstantOp::create(
                    lb, DenseElementsAttr::get(
                            v64i16, llvm::to_vector(llvm::map_range(coefficient[j], [](int64_t c) {
                              return APInt(16, uint64_t(c), /*isSigned=*/true);
                            }))));
                entries = arith::AddIOp::create(lb, entries,
                                                arith::MulIOp::create(lb, spread, coef));
              }
              Value low = arith::TruncIOp::create(lb, v64i8, entries);
              Value high = arith::TruncIOp::create(
                  lb, v64i8, arith::ShRUIOp::create(lb, entries, constInt(lb, v64i16, 8)));
              Value tableAt = arith::AddIOp::create(
                  lb, slotBase, arith::MulIOp::create(lb, quad, constIndex(lb, kTableBytes)));
              storeVector(lb, low, tables, tableAt);
              storeVector(lb, high, tables,
                          arith::AddIOp::create(lb, tableAt, constIndex(lb, 64)));
            });
  }

  // Output rows [tileRow, tileRow + 64) for the |rt| activation rows from |row0|, whose tables
  // are in slots 0 .. rt - 1.
  void emitTile(ImplicitLocOpBuilder &b, Value row0, Value tileRow, int64_t rt) const {
    Value tileBase = arith::MulIOp::create(
        b, arith::DivUIOp::create(b, tileRow, constIndex(b, kTileRows)),
        constIndex(b, p.tileBytes));
    Type i64 = b.getI64Type();
    Value prefetchBase = arith::IndexCastOp::create(
        b, i64,
        arith::AddIOp::create(b, tileBase,
                              constIndex(b, packing::kTl2SignSumBytes + kPrefetchDistance)));
    // Accumulators: (row r, vector v) low at 8r + v, high at 8r + 4 + v.
    SmallVector<Value> init(8 * rt, constInt(b, v16i32, 0));
    Value lowNibble = constInt(b, v64i8, 0x0F);
    SmallVector<Attribute> offsets;
    for (int64_t lane = 0; lane < 64; ++lane)
      offsets.push_back(b.getI8IntegerAttr(int8_t(16 * (lane % 4))));
    Value groupOffset = arith::ConstantOp::create(b, DenseElementsAttr::get(v64i8, offsets));
    Value plusOne = constInt(b, v64i8, 1), minusOne = constInt(b, v64i8, -1);

    SmallVector<Value> acc = forLoop(
        b, constIndex(b, 0), constIndex(b, p.quads), constIndex(b, 1), init,
        [&](ImplicitLocOpBuilder &lb, Value quad, ValueRange carried) {
          SmallVector<Value> a(carried);
          Value quadBytes = arith::MulIOp::create(lb, quad, constIndex(lb, 160));
          Value at = arith::AddIOp::create(
              lb, arith::AddIOp::create(lb, tileBase, constIndex(lb, packing::kTl2SignSumBytes)),
              quadBytes);
          Value ahead = arith::AddIOp::create(lb, prefetchBase,
                                              arith::IndexCastOp::create(lb, i64, quadBytes));
          for (int64_t line = 0; line < 3; ++line)
            prefetch(lb, arith::AddIOp::create(lb, ahead, constInt(lb, i64, 64 * line)));
          Value raw[2] = {loadVector(lb, w, at, 64),
                          loadVector(lb, w, arith::AddIOp::create(lb, at, constIndex(lb, 64)), 64)};
          Value index[4], sign[4];
          for (int64_t v = 0; v < 4; ++v) {
            Value bits = raw[v / 2];
            if (v % 2)
              bits = arith::ShRUIOp::create(lb, bits, constInt(lb, v64i8, 4));
            index[v] = arith::OrIOp::create(lb, arith::AndIOp::create(lb, bits, lowNibble),
                                            groupOffset);
            Value maskBytes =
                loadVector(lb, w, arith::AddIOp::create(lb, at, constIndex(lb, 128 + 8 * v)), 8);
            Value negative = vector::BitCastOp::create(
                lb, VectorType::get({64}, lb.getI1Type()), maskBytes);
            sign[v] = arith::SelectOp::create(lb, negative, minusOne, plusOne);
          }
          for (int64_t r = 0; r < rt; ++r) {
            Value tableAt = arith::AddIOp::create(
                lb, constIndex(lb, r * p.quads * kTableBytes),
                arith::MulIOp::create(lb, quad, constIndex(lb, kTableBytes)));
            Value highAt = arith::AddIOp::create(lb, tableAt, constIndex(lb, 64));
            // VBMI: each table in a register, reused by the 4 lookups.
            Value low = p.vbmi ? loadVector(lb, tables, tableAt, 64) : Value();
            Value high = p.vbmi ? loadVector(lb, tables, highAt, 64) : Value();
            for (int64_t v = 0; v < 4; ++v) {
              a[8 * r + v] =
                  dot(lb, a[8 * r + v], lookup(lb, low, tableAt, index[v]), sign[v]);
              a[8 * r + 4 + v] =
                  dot(lb, a[8 * r + 4 + v], lookup(lb, high, highAt, index[v]), sign[v]);
            }
          }
          return a;
        });

    // Leftover weights: chunk c holds weights 12 quads + 4c + m of row 16s + p / 4 in bits 2s
    // of byte p = 4 (row % 16) + m, as codes w + 1 (padding: code 1 against activation 0).
    const int64_t leftoverStart = p.quads * kQuadWeights;
    for (int64_t c = 0; c < p.chunks; ++c) {
      Value raw = loadVector(
          b, w,
          arith::AddIOp::create(b, tileBase,
                                constIndex(b, packing::kTl2SignSumBytes + 160 * p.quads + 64 * c)),
          64);
      for (int64_t r = 0; r < rt; ++r) {
        Value acts = leftoverWord(b, arith::AddIOp::create(b, row0, constIndex(b, r)),
                                  leftoverStart + 4 * c);
        for (int64_t s = 0; s < 4; ++s) {
          Value codes = s ? Value(arith::ShRUIOp::create(b, raw, constInt(b, v64i8, 2 * s)))
                          : raw;
          codes = arith::AndIOp::create(b, codes, constInt(b, v64i8, 3));
          acc[8 * r + s] = dot(b, acc[8 * r + s], codes, acts);
        }
      }
    }

    // Epilogue: dots = lo + 256 hi - 384 S - sum(leftover activations), scaled in double like
    // the reference (dot * wscale, then / qscale, each rounded in double), rounded once to
    // float: bit-identical to it.
    Type f64 = b.getF64Type();
    auto v16f64 = VectorType::get({16}, f64);
    for (int64_t r = 0; r < rt; ++r) {
      Value row = arith::AddIOp::create(b, row0, constIndex(b, r));
      Value leftover = vector::BroadcastOp::create(b, v16i32, leftoverSum(b, row, leftoverStart));
      Value qs = vector::BroadcastOp::create(
          b, v16f64, extF(b, f64, memref::LoadOp::create(b, qscale, ValueRange{row})));
      for (int64_t v = 0; v < 4; ++v) {
        Value signSums = arith::ExtSIOp::create(
            b, v16i32,
            vector::BitCastOp::create(
                b, VectorType::get({16}, b.getI16Type()),
                loadVector(b, w, arith::AddIOp::create(b, tileBase, constIndex(b, 32 * v)), 32)));
        Value dots = arith::AddIOp::create(
            b, acc[8 * r + v],
            arith::ShLIOp::create(b, acc[8 * r + 4 + v], constInt(b, v16i32, 8)));
        dots = arith::SubIOp::create(
            b, dots, arith::MulIOp::create(b, signSums, constInt(b, v16i32, kTableBias)));
        dots = arith::SubIOp::create(b, dots, leftover);
        Value col = arith::AddIOp::create(b, tileRow, constIndex(b, 16 * v));
        Value ws = extF(b, v16f64, loadVector(b, wscale, col, 16));
        Value scaled = arith::SIToFPOp::create(b, v16f64, dots);
        scaled = p.divideByScale ? Value(arith::DivFOp::create(b, scaled, ws))
                                 : Value(arith::MulFOp::create(b, scaled, ws));
        scaled = arith::DivFOp::create(b, scaled, qs);
        Value out = arith::TruncFOp::create(b, VectorType::get({16}, b.getF32Type()), scaled);
        storeVector(b, out, y,
                    arith::AddIOp::create(b, arith::MulIOp::create(b, row, constIndex(b, p.n)),
                                          col));
      }
    }
  }

private:
  // Byte i of the result: byte index[i] % 64 of the 64-byte table (|table| in a register with
  // VBMI, else at |tableAt| in the tables' memory).
  Value lookup(ImplicitLocOpBuilder &b, Value table, Value tableAt, Value index) const {
    if (p.vbmi)
      return callIntrinsic(b, v64i8, "llvm.x86.avx512.permvar.qi.512", {table, index});
    auto v64i32 = VectorType::get({64}, b.getI32Type());
    Value offsets = arith::ExtUIOp::create(
        b, v64i32, arith::AndIOp::create(b, index, constInt(b, v64i8, 63)));
    Value all = constInt(b, VectorType::get({64}, b.getI1Type()), 1);
    return vector::GatherOp::create(b, v64i8, tables, ValueRange{tableAt}, offsets, all,
                                    constInt(b, v64i8, 0));
  }

  // acc + the sums of 4 adjacent products of unsigned and signed bytes, per i32 lane.
  Value dot(ImplicitLocOpBuilder &b, Value acc, Value unsignedBytes, Value signedBytes) const {
    if (p.vbmi)
      return callIntrinsic(b, v16i32, "llvm.x86.avx512.vpdpbusd.512",
                       {acc, unsignedBytes, signedBytes});
    auto v64i32 = VectorType::get({64}, b.getI32Type());
    Value products = arith::MulIOp::create(b, arith::ExtUIOp::create(b, v64i32, unsignedBytes),
                                           arith::ExtSIOp::create(b, v64i32, signedBytes));
    Value sums = acc;
    for (int64_t j = 0; j < 4; ++j) {
      SmallVector<int64_t> lanes;
      for (int64_t i = 0; i < 16; ++i)
        lanes.push_back(4 * i + j);
      sums = arith::AddIOp::create(b, sums,
                                   vector::ShuffleOp::create(b, products, products, lanes));
    }
    return sums;
  }

  // Activations [col, col + 4) of |row| as one i32 broadcast to 64 bytes (zeros past k).
  Value leftoverWord(ImplicitLocOpBuilder &b, Value row, int64_t col) const {
    Type i32 = b.getI32Type();
    Value word = constInt(b, i32, 0);
    Value base = arith::MulIOp::create(b, row, constIndex(b, p.k));
    for (int64_t m = 0; m < 4 && col + m < p.k; ++m) {
      Value byte = memref::LoadOp::create(
          b, q, ValueRange{arith::AddIOp::create(b, base, constIndex(b, col + m))});
      Value wide = arith::ShLIOp::create(b, arith::ExtUIOp::create(b, i32, byte),
                                         constInt(b, i32, 8 * m));
      word = arith::OrIOp::create(b, word, wide);
    }
    return vector::BitCastOp::create(b, v64i8, vector::BroadcastOp::create(b, v16i32, word));
  }

  // sum(q[row][col .. k)) as i32: the +1 offset of the leftover codes.
  Value leftoverSum(ImplicitLocOpBuilder &b, Value row, int64_t col) const {
    Type i32 = b.getI32Type();
    Value sum = constInt(b, i32, 0);
    Value base = arith::MulIOp::create(b, row, constIndex(b, p.k));
    for (int64_t c = col; c < p.k; ++c) {
      Value byte =
          memref::LoadOp::create(b, q, ValueRange{arith::AddIOp::create(b, base, constIndex(b, c))});
      sum = arith::AddIOp::create(b, sum, arith::ExtSIOp::create(b, i32, byte));
    }
    return sum;
  }

  // Prefetches (into L2) the line at byte offset |at| (i64) of the weights. A plain GEP: the
  // last tiles prefetch past the end of the weights, which a prefetch may do.
  void prefetch(ImplicitLocOpBuilder &b, Value at) const {
    prefetchByte(b, wPtr, at, /*locality=*/2);
  }

  const Tl2Params &p;
  Value q, qscale, w, wPtr, wscale, y, tables;
  VectorType v64i8, v64i16, v16i32;
};

} // namespace

LogicalResult generateTernaryMatmulTl2(func::FuncOp fn, const KernelSpec &spec,
                                       const CpuTarget &target) {
  Tl2Params p;
  p.n = spec.getInt("n");
  p.k = spec.getInt("k");
  p.nBlock = spec.getInt("n_block", p.n);
  p.divideByScale = spec.getInt("divide_by_scale") != 0;
  p.vbmi = target.hasVBMI;
  if (p.n <= 0 || p.k <= 0 || p.n % kTileRows != 0)
    return kernelError(fn, spec, "packing 'tl2_t64' needs n a positive multiple of 64 and k "
                                 "positive, got n=" +
                                     llvm::Twine(p.n) + " k=" + llvm::Twine(p.k));
  if (p.nBlock <= 0 || p.nBlock % kTileRows != 0 || p.n % p.nBlock != 0)
    return kernelError(fn, spec, "parameter 'n_block' (" + llvm::Twine(p.nBlock) +
                                     ") must be a multiple of 64 that divides n (" +
                                     llvm::Twine(p.n) + ") for packing 'tl2_t64'");
  if (p.k > packing::kTl2MaxK)
    return kernelError(fn, spec, "packing 'tl2_t64' takes k up to " + llvm::Twine(packing::kTl2MaxK) +
                                     " (its tables live on the stack), got k=" +
                                     llvm::Twine(p.k));
  p.quads = packing::tl2Quads(p.k);
  p.chunks = packing::tl2Chunks(p.k);
  p.tileBytes = packing::tl2TileBytes(p.k);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type i8 = b.getI8Type(), f32 = b.getF32Type();
  Value q = bindFlat(b, args, 0, i8, arith::MulIOp::create(b, args.rows, constIndex(b, p.k)));
  Value qscale = bindFlat(b, args, 1, f32, args.rows);
  Value w = bindFlat(b, args, 2, i8, packing::packedBytes(packing::TernaryLayout::TL2T64, p.n, p.k));
  Value wPtr = loadBindingPointer(b, b.getLoc(), args.bindings, 2);
  Value wscale = bindFlat(b, args, 3, f32, p.n);
  Value y = bindFlat(b, args, 4, f32, arith::MulIOp::create(b, args.rows, constIndex(b, p.n)));
  // At least one table slot even when k < 12 (no quads): the memref must not be empty.
  const int64_t tableBytes = std::max<int64_t>(kPairRows * p.quads * kTableBytes, 64);
  Value tables = memref::AllocaOp::create(b, MemRefType::get({tableBytes}, i8), ValueRange{},
                                          b.getI64IntegerAttr(64));
  Tl2Emitter emitter(p, b, q, qscale, w, wPtr, wscale, y, tables);

  // Activation rows in pairs (prefill), then the last one alone; each builds its tables and
  // streams the call's tiles.
  auto rowsOf = [&](ImplicitLocOpBuilder &rb, Value row0, int64_t rt) {
    for (int64_t r = 0; r < rt; ++r)
      emitter.buildTables(rb, arith::AddIOp::create(rb, row0, constIndex(rb, r)), r);
    Value first = arith::MulIOp::create(rb, args.begin, constIndex(rb, p.nBlock));
    Value last = arith::MulIOp::create(rb, args.end, constIndex(rb, p.nBlock));
    forLoop(rb, first, last, constIndex(rb, kTileRows),
            [&](ImplicitLocOpBuilder &tb, Value tileRow) { emitter.emitTile(tb, row0, tileRow, rt); });
  };
  Value pairs = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, args.rows, constIndex(b, kPairRows)), constIndex(b, kPairRows));
  forLoop(b, constIndex(b, 0), pairs, constIndex(b, kPairRows),
          [&](ImplicitLocOpBuilder &rb, Value row0) { rowsOf(rb, row0, kPairRows); });
  forLoop(b, pairs, args.rows, constIndex(b, 1),
          [&](ImplicitLocOpBuilder &rb, Value row0) { rowsOf(rb, row0, 1); });
  return success();
}

} // namespace tern::cpu
