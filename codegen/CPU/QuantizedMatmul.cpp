// quantized_matmul: int8 activations x block-quantized weights (q8_b32, q6_b32, q4_b32), the
// lm_head of `ternc compile --lm-head=q8|q6|q4`.
//
// y[t][j] = (sum over blocks b of d[j][b] * dot_b(q[t], c[j])) / qscale[t]: each 32-weight
// block's dot product is exact in int32, then scaled by the block's f16 scale in f32 FMA
// vectors; lanes are reduced once per output. The byte dot products per target:
//   x86-64-v4 (vpdpbusd, u8 x s8): the unsigned operand is the weight side. q8 codes are
//     made unsigned with an xor (c + 128), q4 nibbles are already 0..15 (c + 8) and q6 codes
//     0..63 (c + 32); the offset times sum(q) of the block is subtracted by starting the
//     accumulation from -offset * sum(q), computed once per activation row and block for the
//     whole tile.
//   x86-64-v3 (vpmaddubsw + vpmaddwd): q8 uses the sign trick, |c| (u8) times q * sign(c)
//     (psignb), whose pairs stay below 2^15; q4 and q6 multiply the unsigned codes (pairs at
//     most 2 * 63 * 128 < 2^15). Their offset's share, -offset * sum(q) per block, is applied
//     in f32 once per 8-block step as the block scales times those sums, which each work item
//     computes once per row tile: recomputing it per block and tile took two of the four
//     multiplies per block and weight row, on Zen 1-3's one vector multiply pipe.
//   generic (SSE2): codes and activations widened to i16, pmaddwd.
// q6 codes are rebuilt per block from the group's two parts with shifts, ands and an or: the
// low nibbles as in q4; the 16 high-bit bytes, loaded into both halves of the vector, move
// their pair for the block's weights 0-15 and 16-31 to bits 4-5 with one shift of per-half
// count (vpsllvq / vpsrlvq; on SSE2 a psllq / psrlq per 16-byte half; on AVX2 a vpshufb of a
// 32-byte table instead, q6Codes).
// Layout (packing/QuantizedPacking.h): a codes plane (n rows) then an f16 scale plane
// (n, k / 32). A work item is n_block output rows; a register tile of RT activation rows x NT
// weight rows shares every load, and a step of 8 blocks loads each row's 8 scales with one
// 16-byte load. The tile's rows are adjacent in both planes, so the tiles and work items of
// one call read two ascending ranges; each step prefetches them into L2 a fixed distance ahead.
// On x86-64-v3 a tile's scales are converted to f32 into a stack array before its loop, so
// each block's scale is a broadcast load (a lane permute per block needed index vectors that
// made the 16-register loop spill), and 1 x 2 decode tiles keep two FMA chains per output.
#include "codegen/CPU/Bindings.h"
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/KernelGenerators.h"

#include "packing/QuantizedPacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace tern::cpu {

using namespace mlir;

namespace {

constexpr int64_t kBlock = packing::kQuantBlock; // weights per scale (32)
constexpr int64_t kStepBlocks = 8;               // blocks per loop step: one 16-byte scale load
constexpr int64_t kCacheLine = 64;
// How far ahead of the tile's reads the prefetches point (codes, scales); the scale stream
// moves 16x (q8), 12x (q6) or 8x (q4) slower. 2, 4, 8 and 16 KiB measured the same on Zen 4.
constexpr int64_t kCodeLead = 4096;
constexpr int64_t kScaleLead = 512;

enum class DotIsa { VNNI, AVX2, Generic };

struct Params {
  int64_t n, k, nBlock, blocks, rowCodeBytes, scaleOffset;
  packing::QuantFormat format;
  bool q4() const { return format == packing::QuantFormat::Q4B32; }
  bool q6() const { return format == packing::QuantFormat::Q6B32; }
  // What the kernel reads as a block's unsigned codes holds c + offset (q4: 8, q6: 32); 0 for
  // q8's signed codes.
  int64_t codeOffset() const { return q4() ? 8 : q6() ? 32 : 0; }
  // Code bytes of one block along a row (q4: 32-byte and q6: 48-byte groups of 2 blocks).
  int64_t blockCodeBytes() const { return q4() ? kBlock / 2 : q6() ? kBlock * 3 / 4 : kBlock; }
};

// The per-target exact dot products of one 32-weight block.
struct DotEmitter {
  DotIsa isa;
  int64_t offset; // Params::codeOffset(): 0 for signed (q8) codes

  bool unsignedCodes() const { return offset != 0; }

  // The offset's share is applied per step from per-row block sums (the header), not per block.
  bool offsetPerStep() const { return isa == DotIsa::AVX2 && unsignedCodes(); }

  // Lanes of the i32 partial sums (and of the f32 accumulators).
  int64_t lanes() const { return isa == DotIsa::Generic ? 4 : 8; }

  Value intrinsic(ImplicitLocOpBuilder &b, Type result, StringRef name, ValueRange args) const {
    return callIntrinsic(b, result, name, args);
  }

  // What a block of activations |acts| (vector<32xi8>) needs once per tile: VNNI gets
  // -offset * sum(q) as i32 lanes (the accumulation's start); generic the activations widened
  // to i16 (4 x v8i16).
  SmallVector<Value> prepareActs(ImplicitLocOpBuilder &b, Value acts) const {
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    auto v32i8 = VectorType::get({32}, b.getI8Type());
    switch (isa) {
    case DotIsa::VNNI: {
      // sum over 4 bytes of offset * q, negated: the accumulation start of every weight row.
      const int64_t bias = unsignedCodes() ? offset : 128;
      Value sum = intrinsic(b, v8i32, "llvm.x86.avx512.vpdpbusd.256",
                            {constInt(b, v8i32, 0), constInt(b, v32i8, bias), acts});
      return {arith::SubIOp::create(b, constInt(b, v8i32, 0), sum), acts};
    }
    case DotIsa::AVX2:
      return {Value(), acts};
    case DotIsa::Generic: {
      Value wide = arith::ExtSIOp::create(b, VectorType::get({32}, b.getI16Type()), acts);
      return widenedQuarters(b, wide);
    }
    }
    return {};
  }

  // -offset * sum(q) of a block of activations |acts| (vector<32xi8>), as i32 lanes whose sum
  // it is (AVX2 with unsigned codes: offsetPerStep()).
  Value offsetShare(ImplicitLocOpBuilder &b, Value acts) const {
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    auto v16i16 = VectorType::get({16}, b.getI16Type());
    auto v32i8 = VectorType::get({32}, b.getI8Type());
    Value pairs =
        intrinsic(b, v16i16, "llvm.x86.avx2.pmadd.ub.sw", {constInt(b, v32i8, offset), acts});
    return intrinsic(b, v8i32, "llvm.x86.avx2.pmadd.wd", {pairs, constInt(b, v16i16, -1)});
  }

  // A weight block's codes as the dot instruction wants them, once per tile: |codes| is
  // vector<32xi8> (q8: signed codes; q4: nibbles 0..15; q6: 0..63).
  SmallVector<Value> prepareWeights(ImplicitLocOpBuilder &b, Value codes) const {
    auto v32i8 = VectorType::get({32}, b.getI8Type());
    switch (isa) {
    case DotIsa::VNNI:
      return {unsignedCodes() ? codes
                              : arith::XOrIOp::create(b, codes, constInt(b, v32i8, 0x80))};
    case DotIsa::AVX2:
      if (unsignedCodes())
        return {codes};
      // |c| for the unsigned operand; the signs move to the activations per row.
      return {intrinsic(b, v32i8, "llvm.x86.avx2.psign.b", {codes, codes}), codes};
    case DotIsa::Generic: {
      auto v32i16 = VectorType::get({32}, b.getI16Type());
      Value wide = unsignedCodes()
                       ? Value(arith::SubIOp::create(b, arith::ExtUIOp::create(b, v32i16, codes),
                                                     constInt(b, v32i16, offset)))
                       : Value(arith::ExtSIOp::create(b, v32i16, codes));
      return widenedQuarters(b, wide);
    }
    }
    return {};
  }

  // The block's dot product as i32 lanes (their sum is the exact dot product).
  Value dot(ImplicitLocOpBuilder &b, ArrayRef<Value> w, ArrayRef<Value> a) const {
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    auto v16i16 = VectorType::get({16}, b.getI16Type());
    auto v32i8 = VectorType::get({32}, b.getI8Type());
    switch (isa) {
    case DotIsa::VNNI:
      return intrinsic(b, v8i32, "llvm.x86.avx512.vpdpbusd.256", {a[0], w[0], a[1]});
    case DotIsa::AVX2: {
      Value acts = a[1];
      // q * sign(c): |c| * (q * sign(c)) = c * q, pairs within +-2 * 127 * 128
      if (!unsignedCodes())
        acts = intrinsic(b, v32i8, "llvm.x86.avx2.psign.b", {acts, w[1]});
      Value pairs = intrinsic(b, v16i16, "llvm.x86.avx2.pmadd.ub.sw", {w[0], acts});
      return intrinsic(b, v8i32, "llvm.x86.avx2.pmadd.wd", {pairs, constInt(b, v16i16, 1)});
    }
    case DotIsa::Generic: {
      auto v4i32 = VectorType::get({4}, b.getI32Type());
      Value sum;
      for (int64_t i = 0; i < 4; ++i) {
        Value part = intrinsic(b, v4i32, "llvm.x86.sse2.pmadd.wd", {w[i], a[i]});
        sum = sum ? arith::AddIOp::create(b, sum, part).getResult() : part;
      }
      return sum;
    }
    }
    return {};
  }

private:
  // vector<32xi16> as four vector<8xi16> (one SSE2 register each).
  static SmallVector<Value> widenedQuarters(ImplicitLocOpBuilder &b, Value wide) {
    SmallVector<Value> parts;
    for (int64_t i = 0; i < 4; ++i)
      parts.push_back(vector::ExtractStridedSliceOp::create(b, wide, ArrayRef<int64_t>{8 * i},
                                                            ArrayRef<int64_t>{8},
                                                            ArrayRef<int64_t>{1}));
    return parts;
  }
};

class QuantizedMatmulEmitter {
public:
  QuantizedMatmulEmitter(const Params &p, DotEmitter dot, bool f16c, Value q, Value qscale,
                         Value w, Value wPtr, Value y, Value blockOffsets, Value scaleBuffer)
      : p(p), dot(dot), f16c(f16c), q(q), qscale(qscale), w(w), wPtr(wPtr), y(y),
        blockOffsets(blockOffsets), scaleBuffer(scaleBuffer) {}

  // Blocks per activation row in |blockOffsets|: whole steps, the last one padded with zeros.
  static int64_t paddedBlocks(const Params &p) {
    return (p.blocks + kStepBlocks - 1) / kStepBlocks * kStepBlocks;
  }

  // With dot.offsetPerStep(): -offset * sum(q) of every block of activation rows t .. t + rt - 1
  // as f32 (exact: |sum| < 2^24) into |blockOffsets|, row r at r * paddedBlocks(p).
  void prepareRows(ImplicitLocOpBuilder &b, Value t, int64_t rt) const {
    if (!blockOffsets)
      return;
    const int64_t stride = paddedBlocks(p);
    for (int64_t r = 0; r < rt; ++r) {
      Value qRow = arith::MulIOp::create(b, arith::AddIOp::create(b, t, constIndex(b, r)),
                                         constIndex(b, p.k));
      forLoop(b, constIndex(b, 0), constIndex(b, p.blocks), constIndex(b, 1),
              [&](ImplicitLocOpBuilder &nb, Value block) {
                Value acts = loadVector(
                    nb, q,
                    arith::AddIOp::create(
                        nb, qRow, arith::MulIOp::create(nb, block, constIndex(nb, kBlock))),
                    32);
                Value sum = arith::SIToFPOp::create(nb, nb.getF32Type(),
                                                    reduceAdd(nb, dot.offsetShare(nb, acts)));
                memref::StoreOp::create(nb, sum, blockOffsets,
                                        ValueRange{addConst(nb, block, r * stride)});
              });
      for (int64_t g = p.blocks; g < stride; ++g)
        memref::StoreOp::create(b, constFloat(b, b.getF32Type(), 0.0), blockOffsets,
                                ValueRange{constIndex(b, r * stride + g)});
    }
  }

  // Output columns j .. j + nt - 1 for activation rows t .. t + rt - 1.
  void emitTile(ImplicitLocOpBuilder &b, Value t, Value j, int64_t rt, int64_t nt) const {
    auto accType = VectorType::get({dot.lanes()}, b.getF32Type());
    // Accumulators per output: with few outputs per tile (AVX2 decode) the FMA latency, not
    // the pipes, would bound a single chain of 8 FMAs per step, so even and odd blocks take
    // two chains, added at the end.
    const int64_t chains = dot.isa == DotIsa::AVX2 && rt * nt <= 2 ? 2 : 1;
    auto accIndex = [&](int64_t r, int64_t c, int64_t g) {
      return (r * nt + c) * chains + g % chains;
    };
    SmallVector<Value> init(rt * nt * chains, constFloat(b, accType, 0.0));
    SmallVector<Value> qRow(rt), codeRow(nt), scaleRow(nt);
    for (int64_t r = 0; r < rt; ++r)
      qRow[r] = arith::MulIOp::create(b, arith::AddIOp::create(b, t, constIndex(b, r)),
                                      constIndex(b, p.k));
    for (int64_t c = 0; c < nt; ++c) {
      Value col = arith::AddIOp::create(b, j, constIndex(b, c));
      codeRow[c] = arith::MulIOp::create(b, col, constIndex(b, p.rowCodeBytes));
      scaleRow[c] = arith::AddIOp::create(
          b, constIndex(b, p.scaleOffset),
          arith::MulIOp::create(b, col, constIndex(b, p.blocks * 2)));
    }
    // Step s reads bytes [s * step, (s + 1) * step) of each row of the tile in both planes;
    // the prefetch pointers lead the tile's last row by kCodeLead / kScaleLead.
    Type i64 = b.getI64Type();
    const int64_t codeStep = kStepBlocks * p.blockCodeBytes();
    const int64_t scaleStep = kStepBlocks * 2;
    Value codeAhead = arith::IndexCastOp::create(
        b, i64,
        arith::AddIOp::create(b, codeRow[0],
                              constIndex(b, (nt - 1) * p.rowCodeBytes + kCodeLead)));
    Value scaleAhead = arith::IndexCastOp::create(
        b, i64,
        arith::AddIOp::create(b, scaleRow[0],
                              constIndex(b, (nt - 1) * p.blocks * 2 + kScaleLead)));

    const int64_t fullSteps = p.blocks / kStepBlocks, tail = p.blocks % kStepBlocks;
    const int64_t stride = paddedBlocks(p);
    auto scaleAt = [&](ImplicitLocOpBuilder &nb, int64_t c, Value first) {
      return arith::AddIOp::create(nb, scaleRow[c],
                                   arith::MulIOp::create(nb, first, constIndex(nb, 2)));
    };
    if (scaleBuffer)
      for (int64_t c = 0; c < nt; ++c) {
        auto convert = [&](ImplicitLocOpBuilder &nb, Value first, int64_t count) {
          storeVector(nb, loadScales(nb, scaleAt(nb, c, first), count), scaleBuffer,
                      addConst(nb, first, c * stride));
        };
        if (fullSteps > 0)
          forLoop(b, constIndex(b, 0), constIndex(b, fullSteps * kStepBlocks),
                  constIndex(b, kStepBlocks),
                  [&](ImplicitLocOpBuilder &nb, Value first) { convert(nb, first, kStepBlocks); });
        if (tail > 0)
          convert(b, constIndex(b, fullSteps * kStepBlocks), tail);
      }

    auto step = [&](ImplicitLocOpBuilder &nb, Value first, int64_t count, bool prefetching,
                    ValueRange carried) -> SmallVector<Value> {
      SmallVector<Value> acc(carried);
      if (prefetching) {
        Value s = arith::IndexCastOp::create(
            nb, i64, arith::DivUIOp::create(nb, first, constIndex(nb, kStepBlocks)));
        Value codes = arith::AddIOp::create(
            nb, codeAhead, arith::MulIOp::create(nb, s, constInt(nb, i64, nt * codeStep)));
        for (int64_t line = 0; line < std::max<int64_t>(nt * codeStep / kCacheLine, 1); ++line)
          prefetch(nb, arith::AddIOp::create(nb, codes, constInt(nb, i64, line * kCacheLine)));
        prefetch(nb, arith::AddIOp::create(
                         nb, scaleAhead,
                         arith::MulIOp::create(nb, s, constInt(nb, i64, nt * scaleStep))));
      }
      SmallVector<Value> scales(nt);
      for (int64_t c = 0; c < nt; ++c)
        scales[c] = scaleBuffer
                        ? loadVector(nb, scaleBuffer, addConst(nb, first, c * stride), kStepBlocks)
                        : loadScales(nb, scaleAt(nb, c, first), count);
      if (blockOffsets)
        for (int64_t r = 0; r < rt; ++r) {
          // The step's offset shares: its scales times the rows' block sums (zero past k).
          Value sums = loadVector(nb, blockOffsets, addConst(nb, first, r * stride), kStepBlocks);
          for (int64_t c = 0; c < nt; ++c)
            acc[accIndex(r, c, 1)] =
                vector::FMAOp::create(nb, scales[c], sums, acc[accIndex(r, c, 1)]);
        }
      auto v32i8 = VectorType::get({32}, nb.getI8Type());
      // q4: the 32-byte group of the current block pair; q6: the pair's odd block's codes.
      SmallVector<Value> groupBytes(nt);
      for (int64_t g = 0; g < count; ++g) {
        Value block = arith::AddIOp::create(nb, first, constIndex(nb, g));
        Value actOffset = arith::MulIOp::create(nb, block, constIndex(nb, kBlock));
        SmallVector<SmallVector<Value>> acts(rt);
        for (int64_t r = 0; r < rt; ++r)
          acts[r] = dot.prepareActs(
              nb, loadVector(nb, q, arith::AddIOp::create(nb, qRow[r], actOffset), 32));
        for (int64_t c = 0; c < nt; ++c) {
          Value codes;
          if (p.q6()) {
            // |first| is a multiple of 8 blocks: block g of the step is block g % 2 of the
            // group at first * 24 + (g / 2) * 48. Both blocks' codes are rebuilt at the even
            // one: one vector per weight row stays live to the odd block, not two.
            if (g % 2 == 0) {
              Value group = arith::AddIOp::create(
                  nb, codeRow[c],
                  arith::AddIOp::create(
                      nb, arith::MulIOp::create(nb, first, constIndex(nb, p.blockCodeBytes())),
                      constIndex(nb, g / 2 * 2 * p.blockCodeBytes())));
              Value nibbles = loadVector(nb, w, group, 32);
              Value high =
                  loadVector(nb, w, arith::AddIOp::create(nb, group, constIndex(nb, 32)), 16);
              SmallVector<int64_t> twice;
              for (int64_t i = 0; i < 32; ++i)
                twice.push_back(i % 16);
              Value highs = vector::ShuffleOp::create(nb, high, high, twice);
              codes = q6Codes(nb, nibbles, highs, /*odd=*/false);
              if (g + 1 < count)
                groupBytes[c] = q6Codes(nb, nibbles, highs, /*odd=*/true);
            } else {
              codes = groupBytes[c];
            }
          } else if (!p.q4()) {
            codes = loadVector(nb, w,
                               arith::AddIOp::create(
                                   nb, codeRow[c],
                                   arith::MulIOp::create(nb, block, constIndex(nb, kBlock))),
                               32);
          } else {
            // Blocks 2i and 2i + 1 share group i: low nibbles, then high nibbles.
            if (g % 2 == 0)
              groupBytes[c] = loadVector(
                  nb, w,
                  arith::AddIOp::create(nb, codeRow[c],
                                        arith::MulIOp::create(nb, block, constIndex(nb, 16))),
                  32);
            codes = groupBytes[c];
            if (g % 2 == 1)
              codes = arith::ShRUIOp::create(nb, codes, constInt(nb, v32i8, 4));
            codes = arith::AndIOp::create(nb, codes, constInt(nb, v32i8, 0x0f));
          }
          SmallVector<Value> weights = dot.prepareWeights(nb, codes);
          Value scale = vector::BroadcastOp::create(
              nb, VectorType::get({dot.lanes()}, nb.getF32Type()),
              scaleBuffer ? memref::LoadOp::create(nb, scaleBuffer,
                                                   ValueRange{addConst(nb, first, c * stride + g)})
                                .getResult()
                          : vector::ExtractOp::create(nb, scales[c], ArrayRef<int64_t>{g})
                                .getResult());
          for (int64_t r = 0; r < rt; ++r) {
            Value lanes = dot.dot(nb, weights, acts[r]);
            Value f = arith::SIToFPOp::create(
                nb, VectorType::get({dot.lanes()}, nb.getF32Type()), lanes);
            Value &a = acc[accIndex(r, c, g)];
            a = vector::FMAOp::create(nb, f, scale, a);
          }
        }
      }
      return acc;
    };

    SmallVector<Value> acc = init;
    if (fullSteps > 0)
      acc = forLoop(b, constIndex(b, 0), constIndex(b, fullSteps * kStepBlocks),
                    constIndex(b, kStepBlocks), acc,
                    [&](ImplicitLocOpBuilder &nb, Value first, ValueRange carried) {
                      return step(nb, first, kStepBlocks, /*prefetching=*/true, carried);
                    });
    if (tail > 0)
      acc = step(b, constIndex(b, fullSteps * kStepBlocks), tail, /*prefetching=*/false, acc);

    for (int64_t r = 0; r < rt; ++r) {
      Value row = arith::AddIOp::create(b, t, constIndex(b, r));
      Value qs = memref::LoadOp::create(b, qscale, ValueRange{row});
      for (int64_t c = 0; c < nt; ++c) {
        Value total = acc[accIndex(r, c, 0)];
        for (int64_t chain = 1; chain < chains; ++chain)
          total = arith::AddFOp::create(b, total, acc[accIndex(r, c, chain)]);
        Value out = arith::DivFOp::create(b, reduceAdd(b, total), qs);
        Value at = arith::AddIOp::create(b, arith::MulIOp::create(b, row, constIndex(b, p.n)),
                                         arith::AddIOp::create(b, j, constIndex(b, c)));
        memref::StoreOp::create(b, out, y, ValueRange{at});
      }
    }
  }

private:
  // A q6_b32 block's codes u (vector<32xi8>, 0..63) from its group's 32 nibble bytes and the
  // 16 high-bit bytes in both halves of |highs|: block 0 (|odd| false) has the low nibbles
  // and weights 0-15 / 16-31's high pairs in bits 0-1 / 2-3 (<< 4 / << 2); block 1 the high
  // nibbles and pairs in bits 4-5 / 6-7 (>> 0 / >> 2). Bits a shift moves across a byte
  // boundary are masked off. On AVX2 the high pairs come from one vpshufb instead: the nibble
  // of |highs| holding the block's two pairs indexes a table whose lower half moves pair 0
  // and upper half pair 1 to bits 4-5, as each half of the block wants (the variable shifts
  // take two cycles of one pipe on Zen 1-3).
  Value q6Codes(ImplicitLocOpBuilder &b, Value nibbles, Value highs, bool odd) const {
    auto v32i8 = VectorType::get({32}, b.getI8Type());
    auto v4i64 = VectorType::get({4}, b.getI64Type());
    auto nibbleOf = [&](Value bytes) {
      if (odd)
        bytes = arith::ShRUIOp::create(b, bytes, constInt(b, v32i8, 4));
      return arith::AndIOp::create(b, bytes, constInt(b, v32i8, 0x0f)).getResult();
    };
    Value low = nibbleOf(nibbles);
    if (dot.isa == DotIsa::AVX2) {
      SmallVector<int8_t> table;
      for (int64_t i = 0; i < 32; ++i)
        table.push_back(int8_t((i < 16 ? (i & 3) : ((i - 16) >> 2)) << 4));
      Value tableBytes =
          arith::ConstantOp::create(b, v32i8, DenseElementsAttr::get(v32i8, ArrayRef(table)));
      Value high = callIntrinsic(b, v32i8, "llvm.x86.avx2.pshuf.b", {tableBytes, nibbleOf(highs)});
      return arith::OrIOp::create(b, low, high);
    }
    Value words = vector::BitCastOp::create(b, v4i64, highs);
    Value counts = arith::ConstantOp::create(
        b, v4i64,
        DenseElementsAttr::get(v4i64, odd ? ArrayRef<int64_t>{0, 0, 2, 2}
                                          : ArrayRef<int64_t>{4, 4, 2, 2}));
    words = odd ? Value(arith::ShRUIOp::create(b, words, counts))
                : Value(arith::ShLIOp::create(b, words, counts));
    Value high = arith::AndIOp::create(b, vector::BitCastOp::create(b, v32i8, words),
                                       constInt(b, v32i8, 0x30));
    return arith::OrIOp::create(b, low, high);
  }

  // |count| (<= 8) f16 scales at byte |at| of the weights, as vector<8xf32> (unused lanes 0).
  Value loadScales(ImplicitLocOpBuilder &b, Value at, int64_t count) const {
    auto v16i8 = VectorType::get({16}, b.getI8Type());
    Value bytes;
    if (count == kStepBlocks) {
      bytes = loadVector(b, w, at, 16);
    } else {
      Value part = loadVector(b, w, at, 2 * count);
      bytes = vector::InsertStridedSliceOp::create(b, part, constInt(b, v16i8, 0),
                                                   ArrayRef<int64_t>{0}, ArrayRef<int64_t>{1});
    }
    Value bits = vector::BitCastOp::create(b, VectorType::get({8}, b.getI16Type()), bytes);
    if (f16c)
      return extF(b, VectorType::get({8}, b.getF32Type()),
                  vector::BitCastOp::create(b, VectorType::get({8}, b.getF16Type()), bits));
    return halfBitsToF32(b, bits);
  }

  // Prefetches the cache line at byte offset |at| (i64) of the weights into L2 (prefetcht1).
  // This loop runs ~7 instructions per 32 weights, so the reorder buffer covers little more
  // than 1 KiB of loads; prefetches into L1 (prefetcht0, like the ternary GEMV's) or none at
  // all left the lm_head at 8.5-15 GB/s in the 2B-4T model on Zen 4, into L2 at 19-22 GB/s
  // (docs/kernels.md). A plain (not inbounds) GEP: the last tiles of a call prefetch past
  // the end of the weights, which a prefetch may do and an access may not.
  void prefetch(ImplicitLocOpBuilder &b, Value at) const {
    prefetchByte(b, wPtr, at, /*locality=*/2);
  }

  const Params &p;
  DotEmitter dot;
  bool f16c;
  Value q, qscale, w, wPtr, y;
  Value blockOffsets; // memref<rowTile x paddedBlocks x f32> with dot.offsetPerStep(), else null
  Value scaleBuffer;  // memref<colTile x paddedBlocks x f32>: the tile's scales, or null
};

} // namespace

LogicalResult generateQuantizedMatmul(func::FuncOp fn, const KernelSpec &spec,
                                      const CpuTarget &target) {
  Params p;
  p.n = spec.getInt("n");
  p.k = spec.getInt("k");
  p.nBlock = spec.getInt("n_block", p.n);
  const std::string format = spec.getString("format");
  if (!packing::quantFormatFromName(format.c_str(), &p.format))
    return kernelError(fn, spec, "format '" + format + "' is not supported (known: q8_b32, "
                                 "q6_b32, q4_b32)");
  if (p.n <= 0 || p.k <= 0)
    return kernelError(fn, spec, "parameters 'n' and 'k' must be positive, got n=" +
                                     llvm::Twine(p.n) + " k=" + llvm::Twine(p.k));
  if (!packing::quantSupportsWidth(p.k))
    return kernelError(fn, spec, format + " weights need k to be a multiple of 32, got k=" +
                                     llvm::Twine(p.k));
  if (p.nBlock <= 0 || p.n % p.nBlock != 0)
    return kernelError(fn, spec, "parameter 'n_block' (" + llvm::Twine(p.nBlock) +
                                     ") must be positive and divide n (" + llvm::Twine(p.n) +
                                     ")");
  p.blocks = p.k / kBlock;
  p.rowCodeBytes = packing::quantRowCodeBytes(p.format, p.k);
  p.scaleOffset = packing::quantScaleOffset(p.format, p.n, p.k);

  DotEmitter dot{target.hasAVX512 ? DotIsa::VNNI : target.hasAVX2 ? DotIsa::AVX2
                                                                  : DotIsa::Generic,
                 p.codeOffset()};
  // Register tiles (RT activation rows x NT weight rows): accumulators RT * NT, scales NT,
  // prepared activations RT, within 32 (AVX-512) or 16 vector registers. AVX2 takes NT = 2:
  // with 4 weight rows the decode loop spilled its scales and codes every block, and on Zen 2
  // it streamed q8 at 11.6-11.7 and q6 at 12.5-12.9 GB/s against 14.7-15.2 and 13.6-14.0
  // with 2 (q4 the same, 13.8-14.2); making q4/q6 codes signed to drop the offset's multiplies
  // gained nothing on top (q4 lost 10%).
  const int64_t rowTile = dot.isa == DotIsa::VNNI ? 4 : 2;
  const int64_t maxColTile = dot.isa == DotIsa::VNNI ? 4 : 2;
  int64_t colTile = 1;
  for (int64_t c = maxColTile; c > 1; c /= 2)
    if (p.nBlock % c == 0) {
      colTile = c;
      break;
    }

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type i8 = b.getI8Type(), f32 = b.getF32Type();
  // q (rows, k); qscale (rows); w: codes plane then scale plane; y (rows, n).
  Value q = bindFlat(b, args, 0, i8, arith::MulIOp::create(b, args.rows, constIndex(b, p.k)));
  Value qscale = bindFlat(b, args, 1, f32, args.rows);
  Value w = bindFlat(b, args, 2, i8, packing::quantPackedBytes(p.format, p.n, p.k));
  Value wPtr = loadBindingPointer(b, b.getLoc(), args.bindings, 2); // the same, for prefetches
  Value y = bindFlat(b, args, 3, f32, arith::MulIOp::create(b, args.rows, constIndex(b, p.n)));
  Value blockOffsets;
  if (dot.offsetPerStep())
    blockOffsets = memref::AllocaOp::create(
        b, MemRefType::get({rowTile * QuantizedMatmulEmitter::paddedBlocks(p)}, f32),
        ValueRange{}, ValueRange{}, b.getI64IntegerAttr(32));
  Value scaleBuffer;
  if (dot.isa == DotIsa::AVX2)
    scaleBuffer = memref::AllocaOp::create(
        b, MemRefType::get({colTile * QuantizedMatmulEmitter::paddedBlocks(p)}, f32),
        ValueRange{}, ValueRange{}, b.getI64IntegerAttr(32));
  QuantizedMatmulEmitter emitter(p, dot, target.hasAVX2, q, qscale, w, wPtr, y, blockOffsets,
                                 scaleBuffer);

  forEachOutputTile(
      b, args, p.nBlock, rowTile, colTile,
      [&](ImplicitLocOpBuilder &tb, Value t0, Value j, int64_t rt) {
        emitter.emitTile(tb, t0, j, rt, colTile);
      },
      [&](ImplicitLocOpBuilder &rb, Value t0, int64_t rt) { emitter.prepareRows(rb, t0, rt); });
  return success();
}

} // namespace tern::cpu
