// ternary_matmul: int8 activations x i2_b128 packed ternary weights, exact int32 dot products.
//
// A packed 32-byte block holds 128 weights as codes (weight + 1) in 2-bit slots; shifting the
// block right by 2s and masking with 3 gives the codes of weights 32s .. 32s + 31, which line
// up with 32 consecutive activation bytes. Per target:
//   x86-64-v4: vpdpbusd (u8 codes x s8 activations, 4 products summed into each i32 lane);
//   x86-64-v3: vpmaddubsw (pairs into i16), summed in i16 over 2 (decode) or 8 (prefill)
//              blocks, then one vpmaddwd against ones (into i32);
//   generic:   codes and activations widened to i16, pmaddwd (SSE2) into i32.
// The codes are weight + 1, so sum(q * code) - sum(q) is the dot product. sum(q) depends on
// the activation row only: it is computed once per row and work item, not per weight tile,
// and subtracted in the epilogue. The work item is a block of n_block output rows; a register
// tile of RT activation rows x NT weight rows shares every load, so decode (rows = 1) streams
// the weights once and prefill reuses each weight load RT times.
//
// Decode is bound by memory bandwidth. A tile reads its NT weight rows side by side: NT short
// streams (640 bytes each at k = 2560) that the hardware prefetchers do not pick up before they
// end, which held decode to ~5 GB/s. The tiles of one call do read one contiguous range in
// order, so each block step prefetches that range a fixed distance ahead (prefetchDistance).
#include "codegen/CPU/Bindings.h"
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/KernelGenerators.h"
#include "codegen/CPU/TernaryMatmulAmx.h"
#include "codegen/CPU/TernaryMatmulLut.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace tern::cpu {

using namespace mlir;

namespace {

constexpr int64_t kBlockWeights = 128; // i2_b128
constexpr int64_t kBlockBytes = 32;
constexpr int64_t kSlotWeights = 32;
constexpr int64_t kCacheLine = 64;

enum class DotIsa { VNNI, AVX2, Generic };

// The per-target multiply-accumulate of 32 codes against 32 activations.
struct DotEmitter {
  DotIsa isa;

  // i32 accumulator of one (activation row, weight row) pair.
  VectorType accType(ImplicitLocOpBuilder &b) const {
    return VectorType::get({isa == DotIsa::Generic ? 4 : 8}, b.getI32Type());
  }

  Value intrinsic(ImplicitLocOpBuilder &b, Type result, StringRef name, ValueRange args) const {
    return callIntrinsic(b, result, name, args);
  }

  // 32 activations / codes as the multiply takes them. Generic widens to i16 here, once per
  // load, so the widened activations are shared by all weight rows of the tile.
  Value prepareActs(ImplicitLocOpBuilder &b, Value acts) const {
    if (isa != DotIsa::Generic)
      return acts;
    return arith::ExtSIOp::create(b, VectorType::get({32}, b.getI16Type()), acts);
  }
  Value prepareCodes(ImplicitLocOpBuilder &b, Value codes) const {
    if (isa != DotIsa::Generic)
      return codes;
    return arith::ExtUIOp::create(b, VectorType::get({32}, b.getI16Type()), codes);
  }

  // VNNI: acc + the products of 32 codes and 32 activations, 4 per i32 lane.
  Value vnni(ImplicitLocOpBuilder &b, Value acc, Value codes, Value acts) const {
    return intrinsic(b, accType(b), "llvm.x86.avx512.vpdpbusd.256", {acc, codes, acts});
  }

  // AVX2 / generic: the products of one slot as a partial sum that foldPartial adds to an
  // accumulator; partials of the slots of one block are added first. AVX2: 16 i16 pair sums
  // (at most 2 * 3 * 128 in magnitude, so the four slots of a block stay far inside i16);
  // generic: 4 i32 lanes, the four pmaddwd results summed as a tree.
  Value slotProducts(ImplicitLocOpBuilder &b, Value codes, Value acts) const {
    if (isa == DotIsa::AVX2)
      return intrinsic(b, VectorType::get({16}, b.getI16Type()), "llvm.x86.avx2.pmadd.ub.sw",
                       {codes, acts});
    auto v4i32 = VectorType::get({4}, b.getI32Type());
    SmallVector<Value> parts;
    for (int64_t i = 0; i < 4; ++i) {
      auto slice = [&](Value v) {
        return vector::ExtractStridedSliceOp::create(b, v, ArrayRef<int64_t>{8 * i},
                                                     ArrayRef<int64_t>{8}, ArrayRef<int64_t>{1});
      };
      parts.push_back(
          intrinsic(b, v4i32, "llvm.x86.sse2.pmadd.wd", {slice(codes), slice(acts)}));
    }
    return arith::AddIOp::create(b, arith::AddIOp::create(b, parts[0], parts[1]),
                                 arith::AddIOp::create(b, parts[2], parts[3]));
  }

  Value foldPartial(ImplicitLocOpBuilder &b, Value acc, Value partial) const {
    if (isa == DotIsa::AVX2) {
      auto v16i16 = VectorType::get({16}, b.getI16Type());
      partial = intrinsic(b, accType(b), "llvm.x86.avx2.pmadd.wd",
                          {partial, constInt(b, v16i16, 1)});
    }
    return arith::AddIOp::create(b, acc, partial);
  }

  // acc + the sum of 32 prepared activations (for the +1 offset of the codes).
  Value sumActs(ImplicitLocOpBuilder &b, Value acc, Value acts) const {
    Value ones = prepareCodes(b, constInt(b, VectorType::get({32}, b.getI8Type()), 1));
    if (isa == DotIsa::VNNI)
      return vnni(b, acc, ones, acts);
    return foldPartial(b, acc, slotProducts(b, ones, acts));
  }
};

struct TernaryParams {
  int64_t n, k, nBlock, rowBytes, fullBlocks, tailWeights;
  bool divideByScale;
};

// Sums the lanes of each of |vectors| (equal types vector<L x i32>; L and the count powers of
// two, count <= L) into lane c of one vector<count x i32>, with shuffles and adds: pairs of
// vectors fold into one that holds both in half the lanes each, until one is left, which then
// folds onto itself. Cheaper than a horizontal reduction per vector.
Value reduceEach(ImplicitLocOpBuilder &b, ArrayRef<Value> vectors) {
  const int64_t lanes = cast<VectorType>(vectors[0].getType()).getNumElements();
  SmallVector<Value> current(vectors);
  int64_t groupSize = lanes; // lanes that hold one input vector's partial sums
  while (current.size() > 1) {
    SmallVector<Value> next;
    const int64_t half = groupSize / 2;
    for (size_t i = 0; i < current.size(); i += 2) {
      SmallVector<int64_t> low, high;
      for (int64_t operand = 0; operand < 2; ++operand)
        for (int64_t g = 0; g < lanes / groupSize; ++g)
          for (int64_t e = 0; e < half; ++e) {
            low.push_back(operand * lanes + g * groupSize + e);
            high.push_back(operand * lanes + g * groupSize + half + e);
          }
      next.push_back(arith::AddIOp::create(
          b, vector::ShuffleOp::create(b, current[i], current[i + 1], low),
          vector::ShuffleOp::create(b, current[i], current[i + 1], high)));
    }
    current = std::move(next);
    groupSize = half;
  }
  Value v = current[0];
  for (int64_t width = lanes; groupSize > 1; width /= 2, groupSize /= 2) {
    SmallVector<int64_t> low, high;
    for (int64_t g = 0; g < width / groupSize; ++g)
      for (int64_t e = 0; e < groupSize / 2; ++e) {
        low.push_back(g * groupSize + e);
        high.push_back(g * groupSize + groupSize / 2 + e);
      }
    v = arith::AddIOp::create(b, vector::ShuffleOp::create(b, v, v, low),
                              vector::ShuffleOp::create(b, v, v, high));
  }
  return v;
}

class TernaryMatmulEmitter {
public:
  TernaryMatmulEmitter(const TernaryParams &p, DotEmitter dot, Value q, Value qscale, Value w,
                       Value wPtr, Value wscale, Value y)
      : p(p), dot(dot), q(q), qscale(qscale), w(w), wPtr(wPtr), wscale(wscale), y(y) {}

  // Weights valid in slot |s| of a block holding |validWeights| of them.
  static int64_t slotValid(int64_t validWeights, int64_t s) {
    return std::clamp<int64_t>(validWeights - s * kSlotWeights, 0, kSlotWeights);
  }

  // Slot |s| (32 activations) of block |block| of the activation row starting at |qRow|,
  // prepared for the dot. Only |valid| (<= 32) bytes exist when the row ends inside the slot.
  Value loadActs(ImplicitLocOpBuilder &b, Value qRow, Value block, int64_t s,
                 int64_t valid) const {
    Value at = arith::AddIOp::create(
        b,
        arith::AddIOp::create(b, qRow,
                              arith::MulIOp::create(b, block, constIndex(b, kBlockWeights))),
        constIndex(b, s * kSlotWeights));
    Value acts;
    if (valid == kSlotWeights) {
      acts = loadVector(b, q, at, kSlotWeights);
    } else {
      // Read only the |valid| bytes and zero the rest (their weights are padding), so nothing
      // past the activation row is read.
      Value part = loadVector(b, q, at, valid);
      acts = vector::InsertStridedSliceOp::create(
          b, part, constInt(b, VectorType::get({kSlotWeights}, b.getI8Type()), 0),
          ArrayRef<int64_t>{0}, ArrayRef<int64_t>{1});
    }
    return dot.prepareActs(b, acts);
  }

  // sum(q[row][0 .. k)) as an i32 scalar, with one accumulator per slot so the four chains are
  // independent.
  Value activationSum(ImplicitLocOpBuilder &b, Value row) const {
    Value qRow = arith::MulIOp::create(b, row, constIndex(b, p.k));
    auto step = [&](ImplicitLocOpBuilder &nb, Value block, int64_t validWeights,
                    ValueRange carried) {
      SmallVector<Value> acc(carried);
      for (int64_t s = 0; s < 4; ++s)
        if (int64_t valid = slotValid(validWeights, s))
          acc[s] = dot.sumActs(nb, acc[s], loadActs(nb, qRow, block, s, valid));
      return acc;
    };
    SmallVector<Value> acc(4, constInt(b, dot.accType(b), 0));
    if (p.fullBlocks > 0)
      acc = forLoop(b, constIndex(b, 0), constIndex(b, p.fullBlocks), constIndex(b, 1), acc,
                    [&](ImplicitLocOpBuilder &nb, Value block, ValueRange carried) {
                      return step(nb, block, kBlockWeights, carried);
                    });
    if (p.tailWeights > 0)
      acc = step(b, constIndex(b, p.fullBlocks), p.tailWeights, acc);
    Value total = arith::AddIOp::create(b, arith::AddIOp::create(b, acc[0], acc[1]),
                                        arith::AddIOp::create(b, acc[2], acc[3]));
    return reduceAdd(b, total);
  }

  // Output rows j .. j + nt - 1 for activation rows t .. t + rt - 1; |sums| holds sum(q) of
  // each of the rt activation rows.
  void emitTile(ImplicitLocOpBuilder &b, Value t, Value j, int64_t rt, int64_t nt,
                ArrayRef<Value> sums) const {
    VectorType accType = dot.accType(b);
    // VNNI single-row (decode) tiles keep one accumulator set per slot: four independent
    // vpdpbusd chains per weight row instead of one with four dependent steps per block
    // (4-5 cycles each, against ~10 cycles of issue per block step). That also lets slot s
    // keep its codes in place, block & (3 << 2s) = code * 4^s (at most 192, still a u8),
    // instead of shifting them down: the set's sum is exactly 4^s times the slot's and is
    // shifted back once at the end. Decode then needs one vpand and one vpdpbusd per 32
    // weights. Prefill tiles have 16 accumulators already and shift.
    const int64_t sets = dot.isa == DotIsa::VNNI && rt == 1 ? 4 : 1;
    const bool scaledSlots = sets == 4 && scaledSlotsFit();
    auto accIndex = [&](int64_t set, int64_t r, int64_t c) { return (set * rt + r) * nt + c; };
    SmallVector<Value> init(sets * rt * nt, constInt(b, accType, 0));

    SmallVector<Value> qRow(rt), wRow(nt);
    for (int64_t r = 0; r < rt; ++r)
      qRow[r] = arith::MulIOp::create(b, arith::AddIOp::create(b, t, constIndex(b, r)),
                                      constIndex(b, p.k));
    for (int64_t c = 0; c < nt; ++c)
      wRow[c] = arith::MulIOp::create(b, arith::AddIOp::create(b, j, constIndex(b, c)),
                                      constIndex(b, p.rowBytes));
    // The tile reads [wRow[0], wRow[0] + nt * rowBytes), and the following tiles and work
    // items of the call continue that range. Block step |block| prefetches it at
    // wRow[0] + block * nt * 32 + distance: the rate the tile consumes it, one request per
    // line read, in one ascending stream.
    Type i64 = b.getI64Type();
    const int64_t stepBytes = nt * kBlockBytes;
    Value prefetchBase = arith::IndexCastOp::create(
        b, i64, arith::AddIOp::create(b, wRow[0], constIndex(b, prefetchDistance(nt))));

    // One block of every row of the tile: VNNI accumulates into |acc|, AVX2 and generic add
    // the block's products to |partial| (null entries start a new partial sum).
    auto blockStep = [&](ImplicitLocOpBuilder &nb, Value block, int64_t validWeights,
                         SmallVector<Value> &acc, SmallVector<Value> &partial) {
      Value ahead = arith::AddIOp::create(
          nb, prefetchBase,
          arith::MulIOp::create(nb, arith::IndexCastOp::create(nb, i64, block),
                                constInt(nb, i64, stepBytes)));
      for (int64_t line = 0; line < std::max<int64_t>(stepBytes / kCacheLine, 1); ++line)
        prefetch(nb, arith::AddIOp::create(nb, ahead, constInt(nb, i64, line * kCacheLine)));

      Value wOffset = arith::MulIOp::create(nb, block, constIndex(nb, kBlockBytes));
      SmallVector<Value> packed(nt);
      for (int64_t c = 0; c < nt; ++c)
        packed[c] = loadVector(nb, w, arith::AddIOp::create(nb, wRow[c], wOffset), kBlockBytes);
      auto v32i8 = VectorType::get({32}, nb.getI8Type());
      for (int64_t s = 0; s < 4; ++s) {
        const int64_t valid = slotValid(validWeights, s);
        if (valid == 0)
          break; // padding only: zero weights contribute nothing
        SmallVector<Value> acts(rt);
        for (int64_t r = 0; r < rt; ++r)
          acts[r] = loadActs(nb, qRow[r], block, s, valid);
        for (int64_t c = 0; c < nt; ++c) {
          Value codes = packed[c];
          if (scaledSlots) {
            codes = arith::AndIOp::create(nb, codes, constInt(nb, v32i8, 3 << (2 * s)));
          } else {
            if (s > 0)
              codes = arith::ShRUIOp::create(nb, codes, constInt(nb, v32i8, 2 * s));
            codes = arith::AndIOp::create(nb, codes, constInt(nb, v32i8, 3));
          }
          codes = dot.prepareCodes(nb, codes);
          for (int64_t r = 0; r < rt; ++r) {
            if (dot.isa == DotIsa::VNNI) {
              Value &a = acc[accIndex(s % sets, r, c)];
              a = dot.vnni(nb, a, codes, acts[r]);
              continue;
            }
            Value product = dot.slotProducts(nb, codes, acts[r]);
            Value &part = partial[r * nt + c];
            part = part ? Value(arith::AddIOp::create(nb, part, product)) : product;
          }
        }
      }
    };
    // |count| full blocks from |first| (and the tail block when |withTail|) with one partial
    // sum, folded into the accumulators at the end.
    auto blockGroup = [&](ImplicitLocOpBuilder &nb, Value first, int64_t count, bool withTail,
                          ValueRange carried) {
      SmallVector<Value> acc(carried), partial(rt * nt);
      for (int64_t u = 0; u < count; ++u)
        blockStep(nb, arith::AddIOp::create(nb, first, constIndex(nb, u)), kBlockWeights, acc,
                  partial);
      if (withTail)
        blockStep(nb, constIndex(nb, p.fullBlocks), p.tailWeights, acc, partial);
      for (int64_t i = 0; i < rt * nt && partial[i]; ++i) {
        Value &a = acc[accIndex(0, i / nt, i % nt)];
        a = dot.foldPartial(nb, a, partial[i]);
      }
      return acc;
    };
    // AVX2 sums the i16 products of several blocks before one vpmaddwd + vpaddd per weight
    // row folds them into i32: a block adds at most 4 * 2 * 3 * 128 = 3072 to an i16 lane, so
    // 8 blocks stay below 2^15. Decode folds every 2 blocks: larger groups computed faster
    // from cache but streamed slower from memory (LLVM sinks the group's prefetches to the
    // end of the unrolled body, 16 at once at 8 blocks); prefill (weights from cache) every 8.
    const int64_t group = dot.isa != DotIsa::AVX2 ? 1 : rt == 1 ? 2 : 8;
    const int64_t grouped = p.fullBlocks / group * group;
    SmallVector<Value> acc = init;
    if (grouped > 0)
      acc = forLoop(b, constIndex(b, 0), constIndex(b, grouped), constIndex(b, group), acc,
                    [&](ImplicitLocOpBuilder &nb, Value block, ValueRange carried) {
                      return blockGroup(nb, block, group, false, carried);
                    });
    if (grouped < p.fullBlocks || p.tailWeights > 0)
      acc = blockGroup(b, constIndex(b, grouped), p.fullBlocks - grouped, p.tailWeights > 0, acc);

    // Epilogue, the nt outputs of a row together: the dots reduced into one vector, minus
    // sum(q), scaled in double like the reference (dot * wscale, then / qscale, each rounded
    // in double) and rounded once to float. Vector IEEE operations round like the scalar ones,
    // so the results are bit-identical to the reference.
    Type f64 = b.getF64Type();
    auto ntF64 = VectorType::get({nt}, f64);
    auto ntI32 = VectorType::get({nt}, b.getI32Type());
    Value ws = extF(b, ntF64, loadVector(b, wscale, j, nt));
    for (int64_t r = 0; r < rt; ++r) {
      Value row = arith::AddIOp::create(b, t, constIndex(b, r));
      SmallVector<Value> columns(nt);
      for (int64_t c = 0; c < nt; ++c) {
        columns[c] = acc[accIndex(0, r, c)];
        for (int64_t set = 1; set < sets; ++set) {
          Value part = acc[accIndex(set, r, c)];
          if (scaledSlots) // exact: every lane of set s is a multiple of 4^s
            part = arith::ShRSIOp::create(b, part, constInt(b, accType, 2 * set));
          columns[c] = arith::AddIOp::create(b, columns[c], part);
        }
      }
      Value dots = arith::SubIOp::create(b, reduceEach(b, columns),
                                         vector::BroadcastOp::create(b, ntI32, sums[r]));
      Value qs = extF(b, f64, memref::LoadOp::create(b, qscale, ValueRange{row}));
      Value scaled = arith::SIToFPOp::create(b, ntF64, dots);
      scaled = p.divideByScale ? Value(arith::DivFOp::create(b, scaled, ws))
                               : Value(arith::MulFOp::create(b, scaled, ws));
      scaled = arith::DivFOp::create(b, scaled, vector::BroadcastOp::create(b, ntF64, qs));
      Value out = arith::TruncFOp::create(b, VectorType::get({nt}, b.getF32Type()), scaled);
      storeVector(b, out, y,
                  arith::AddIOp::create(b, arith::MulIOp::create(b, row, constIndex(b, p.n)), j));
    }
  }

private:
  // Prefetches (into L1) the cache line at byte offset |at| (i64) of the weights.
  void prefetch(ImplicitLocOpBuilder &b, Value at) const {
    // A plain (not inbounds) GEP: the last tiles of a call prefetch past the end of the
    // weights, which a prefetch may do and an access may not.
    prefetchByte(b, wPtr, at, /*locality=*/3);
  }

  // How far ahead of a tile's reads its prefetches point, in bytes of the call's range. Row c
  // of the tile is read at wRow[0] + c * rowBytes + 32 * block while the prefetch pointer is
  // at wRow[0] + nt * 32 * block + distance, so it leads every row of the tile, the last one
  // included, by at least distance - (nt - 1) * rowBytes = kLead. 4 KiB is ~30 block steps of
  // a 4-row decode tile; on Zen 4 it measured best of 1, 2, 4, 6, 8 and 12 KiB (less does not
  // cover the memory latency, more falls out of L1 before use).
  int64_t prefetchDistance(int64_t nt) const {
    constexpr int64_t kLead = 4096;
    return (nt - 1) * p.rowBytes + kLead;
  }

  // Whether the scaled slots stay within i32: per block a lane adds four products of at most
  // 192 (code 3 << 6; valid codes are at most 2) by 128 in magnitude. False only for k beyond
  // ~2.8 million, where the shifting form is used instead.
  bool scaledSlotsFit() const {
    return (p.fullBlocks + 1) * 4 * 192 * 128 < (int64_t(1) << 31);
  }

  const TernaryParams &p;
  DotEmitter dot;
  Value q, qscale, w, wPtr, wscale, y;
};

} // namespace

LogicalResult generateTernaryMatmul(func::FuncOp fn, const KernelSpec &spec,
                                    const CpuTarget &target) {
  TernaryParams p;
  p.n = spec.getInt("n");
  p.k = spec.getInt("k");
  p.nBlock = spec.getInt("n_block", p.n);
  p.divideByScale = spec.getInt("divide_by_scale") != 0;
  const std::string packing = spec.getString("packing", "i2_b128");
  if (packing == "tl2_t64")
    return generateTernaryMatmulTl2(fn, spec, target);
  if (packing != "i2_b128")
    return kernelError(fn, spec,
                       "packing '" + packing + "' is not supported (known: i2_b128, tl2_t64)");
  if (p.n <= 0 || p.k <= 0)
    return kernelError(fn, spec, "parameters 'n' and 'k' must be positive, got n=" +
                                     llvm::Twine(p.n) + " k=" + llvm::Twine(p.k));
  if (p.nBlock <= 0 || p.n % p.nBlock != 0)
    return kernelError(fn, spec, "parameter 'n_block' (" + llvm::Twine(p.nBlock) +
                                     ") must be positive and divide n (" + llvm::Twine(p.n) +
                                     ")");
  const int64_t kPadded = (p.k + kBlockWeights - 1) / kBlockWeights * kBlockWeights;
  p.rowBytes = kPadded / 4;
  p.fullBlocks = p.k / kBlockWeights;
  p.tailWeights = p.k % kBlockWeights;

  DotEmitter dot{target.hasAVX512 ? DotIsa::VNNI : target.hasAVX2 ? DotIsa::AVX2
                                                                  : DotIsa::Generic};
  // Register tiles (RT activation rows x NT weight rows), sized for the register file (32
  // vector registers with AVX-512, 16 otherwise) and chosen by measurement on Zen 4:
  //   v4: prefill 4 x 4 (16 accumulators, 4 packed blocks, activations); decode 1 x 4 with
  //       four accumulator sets (16); neither loop spills;
  //   v3: prefill 4 x 1 (4 accumulators + 4 i16 partials; one weight row's codes unpacked
  //       for 4 activation rows): on Zen 2 (AVX2 only) 89-95 GMAC/s against 83-91 for 2 x 2
  //       and 83-86 for 4 x 2 (spills), of the 108 its one vpmaddubsw per cycle allows; on
  //       Zen 4, 2 x 4 had spilled ~30 ymm accesses per block step and measured 10-30% below
  //       2 x 2; decode 1 x 2: 1 x 4 (4 + 4) spilled, and streamed the 2B-4T shapes 7-12%
  //       slower than 1 x 2 on Zen 2;
  //   generic: 1 x 4, which spills but beat 1 x 2 by 8% and 1 x 1 by 35%.
  // NT shrinks to what divides n_block.
  const int64_t rowTile = dot.isa == DotIsa::VNNI ? 4 : dot.isa == DotIsa::AVX2 ? 4 : 1;
  const int64_t maxColTile = dot.isa == DotIsa::AVX2 ? 1 : 4;
  const int64_t maxDecodeColTile = dot.isa == DotIsa::AVX2 ? 2 : 4;
  auto colTileFor = [&](int64_t most) {
    int64_t tile = 1;
    while (tile * 2 <= most && p.nBlock % (tile * 2) == 0)
      tile *= 2;
    return tile;
  };
  const int64_t colTile = colTileFor(maxColTile);
  const int64_t decodeColTile = colTileFor(maxDecodeColTile);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type i8 = b.getI8Type(), f32 = b.getF32Type();
  Value q = bindFlat(b, args, 0, i8, arith::MulIOp::create(b, args.rows, constIndex(b, p.k))); // (rows, k)
  Value qscale = bindFlat(b, args, 1, f32, args.rows);        // (rows)
  Value w = bindFlat(b, args, 2, i8, p.n * p.rowBytes);       // (n, rowBytes) packed
  Value wPtr = loadBindingPointer(b, b.getLoc(), args.bindings, 2); // the same, for prefetches
  Value wscale = bindFlat(b, args, 3, f32, p.n);              // (n)
  Value y = bindFlat(b, args, 4, f32, arith::MulIOp::create(b, args.rows, constIndex(b, p.n))); // (rows, n)
  TernaryMatmulEmitter emitter(p, dot, q, qscale, w, wPtr, wscale, y);
  // Prefill rows in steps of 32 go to AMX tiles where the target has them (TernaryMatmulAmx).
  const bool amx = amxTernaryApplies(target, p.k, p.nBlock);
  const TernaryPrefillShape prefillShape{p.n, p.k, p.rowBytes, p.divideByScale};
  AmxTernaryOperands amxOperands;
  AmxScratch amxScratch;
  if (amx) {
    amxOperands = {loadBindingPointer(b, b.getLoc(), args.bindings, 0), qscale, w, wscale, y};
    amxScratch = allocateAmxScratch(b, prefillShape);
  }
  // Or, on AVX2 targets compiled with --lut-prefill, by lookup tables (TernaryMatmulLut) over
  // the call's whole column slice, whose tables every weight row of the slice shares.
  Value lutRows = constIndex(b, 0);
  if (lutTernaryApplies(target, p.k) && !amx) {
    const LutTernaryOperands lutOperands{q, qscale, wPtr, wscale, y};
    const LutScratch lutScratch = allocateLutScratch(b, prefillShape);
    lutRows = emitLutTernaryRows(
        b, prefillShape, lutOperands, lutScratch, args.rows,
        arith::MulIOp::create(b, args.begin, constIndex(b, p.nBlock)),
        arith::MulIOp::create(b, args.end, constIndex(b, p.nBlock)));
  }

  forLoop(b, args.begin, args.end, constIndex(b, 1), [&](ImplicitLocOpBuilder &ib, Value item) {
    Value firstCol = arith::MulIOp::create(ib, item, constIndex(ib, p.nBlock));
    Value lastCol = arith::AddIOp::create(ib, firstCol, constIndex(ib, p.nBlock));
    auto rowsOf = [&](ImplicitLocOpBuilder &rb, Value t0, int64_t rt) {
      // sum(q) of the tile's activation rows, shared by every weight tile of the work item.
      SmallVector<Value> sums;
      for (int64_t r = 0; r < rt; ++r)
        sums.push_back(
            emitter.activationSum(rb, arith::AddIOp::create(rb, t0, constIndex(rb, r))));
      const int64_t nt = rt == 1 ? decodeColTile : colTile;
      forLoop(rb, firstCol, lastCol, constIndex(rb, nt), [&](ImplicitLocOpBuilder &cb, Value j) {
        emitter.emitTile(cb, t0, j, rt, nt, sums);
      });
    };
    // AMX row steps (or the lookup-table rows done above), then full row tiles, then the
    // remaining rows one at a time.
    Value first = amx ? emitAmxTernaryRows(ib, prefillShape, amxOperands, amxScratch, args.rows,
                                           firstCol, lastCol)
                      : lutRows;
    Value tiled = first;
    if (rowTile > 1) {
      Value tileCount = arith::DivUIOp::create(
          ib, arith::SubIOp::create(ib, args.rows, first), constIndex(ib, rowTile));
      tiled = arith::AddIOp::create(ib, first,
                                    arith::MulIOp::create(ib, tileCount, constIndex(ib, rowTile)));
      forLoop(ib, first, tiled, constIndex(ib, rowTile),
              [&](ImplicitLocOpBuilder &rb, Value t0) { rowsOf(rb, t0, rowTile); });
    }
    forLoop(ib, tiled, args.rows, constIndex(ib, 1),
            [&](ImplicitLocOpBuilder &rb, Value t0) { rowsOf(rb, t0, 1); });
  });
  return success();
}

} // namespace tern::cpu
