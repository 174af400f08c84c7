// ternary_matmul: int8 activations x i2_b128 packed ternary weights, exact int32 dot products.
//
// A packed 32-byte block holds 128 weights as codes (weight + 1) in 2-bit slots; shifting the
// block right by 2s and masking with 3 gives the codes of weights 32s .. 32s + 31, which line
// up with 32 consecutive activation bytes. Per target:
//   x86-64-v4: vpdpbusd (u8 codes x s8 activations, 4 products summed into each i32 lane);
//   x86-64-v3: vpmaddubsw (pairs into i16, at most 2 * 2 * 128 in magnitude) then vpmaddwd
//              against ones (into i32);
//   generic:   widened (code - 1) * activation products in plain vectors.
// The codes are weight + 1, so sum(q * code) - sum(q) is the dot product; the activation sum
// comes from the same instruction against a vector of ones. The work item is a block of n_block
// output rows; a tile of RT activation rows x NT weight rows shares every load, so decode
// (rows = 1) streams the weights once and prefill reuses each weight load RT times.
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/KernelGenerators.h"

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

enum class DotIsa { VNNI, AVX2, Generic };

// The per-target multiply-accumulate of 32 codes against 32 activations.
struct DotEmitter {
  DotIsa isa;

  Type accType(ImplicitLocOpBuilder &b) const {
    return isa == DotIsa::Generic ? VectorType::get({32}, b.getI32Type())
                                  : VectorType::get({8}, b.getI32Type());
  }

  Value intrinsic(ImplicitLocOpBuilder &b, Type result, StringRef name, ValueRange args) const {
    return LLVM::CallIntrinsicOp::create(b, result, b.getStringAttr(name), args).getResult(0);
  }

  // acc + sum over groups of (u8 |codes|) * (s8 |acts|).
  Value dotCodes(ImplicitLocOpBuilder &b, Value acc, Value codes, Value acts) const {
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    auto v16i16 = VectorType::get({16}, b.getI16Type());
    switch (isa) {
    case DotIsa::VNNI:
      return intrinsic(b, v8i32, "llvm.x86.avx512.vpdpbusd.256", {acc, codes, acts});
    case DotIsa::AVX2: {
      Value pairs = intrinsic(b, v16i16, "llvm.x86.avx2.pmadd.ub.sw", {codes, acts});
      Value quads = intrinsic(b, v8i32, "llvm.x86.avx2.pmadd.wd",
                              {pairs, constInt(b, v16i16, 1)});
      return arith::AddIOp::create(b, acc, quads);
    }
    case DotIsa::Generic: {
      auto v32i32 = VectorType::get({32}, b.getI32Type());
      Value w = arith::SubIOp::create(b, arith::ExtUIOp::create(b, v32i32, codes),
                                      constInt(b, v32i32, 1));
      Value a = arith::ExtSIOp::create(b, v32i32, acts);
      return arith::AddIOp::create(b, acc, arith::MulIOp::create(b, w, a));
    }
    }
    return acc;
  }

  // The generic path subtracts the offset per product, so it needs no activation sums.
  bool needsActivationSum() const { return isa != DotIsa::Generic; }

  Value sumActs(ImplicitLocOpBuilder &b, Value acc, Value acts) const {
    auto v32i8 = VectorType::get({32}, b.getI8Type());
    return dotCodes(b, acc, constInt(b, v32i8, 1), acts);
  }
};

struct TernaryParams {
  int64_t n, k, nBlock, rowBytes, fullBlocks, tailWeights;
  bool divideByScale;
};

class TernaryMatmulEmitter {
public:
  TernaryMatmulEmitter(const TernaryParams &p, DotEmitter dot, Value q, Value qscale, Value w,
                       Value wscale, Value y)
      : p(p), dot(dot), q(q), qscale(qscale), w(w), wscale(wscale), y(y) {}

  // Output rows j .. j + nt - 1 for activation rows t .. t + rt - 1.
  void emitTile(ImplicitLocOpBuilder &b, Value t, Value j, int64_t rt, int64_t nt) const {
    Type accType = dot.accType(b);
    const int64_t numSums = dot.needsActivationSum() ? rt : 0;
    // A single-row tile has few accumulators, so each would see four dependent
    // multiply-adds per block; two sets (even and odd slots) halve that latency chain.
    const int64_t sets = rt == 1 && dot.isa != DotIsa::Generic ? 2 : 1;
    auto accIndex = [&](int64_t set, int64_t r, int64_t c) { return (set * rt + r) * nt + c; };
    auto sumIndex = [&](int64_t set, int64_t r) { return sets * rt * nt + set * numSums + r; };
    SmallVector<Value> init(sets * (rt * nt + numSums), constInt(b, accType, 0));

    SmallVector<Value> qRow(rt), wRow(nt);
    for (int64_t r = 0; r < rt; ++r)
      qRow[r] = arith::MulIOp::create(
          b, arith::AddIOp::create(b, t, constIndex(b, r)), constIndex(b, p.k));
    for (int64_t c = 0; c < nt; ++c)
      wRow[c] = arith::MulIOp::create(
          b, arith::AddIOp::create(b, j, constIndex(b, c)), constIndex(b, p.rowBytes));

    auto blockStep = [&](ImplicitLocOpBuilder &nb, Value block, int64_t validWeights,
                         ValueRange carried) -> SmallVector<Value> {
      SmallVector<Value> acc(carried);
      Value wOffset = arith::MulIOp::create(nb, block, constIndex(nb, kBlockBytes));
      Value qOffset = arith::MulIOp::create(nb, block, constIndex(nb, kBlockWeights));
      SmallVector<Value> packed(nt);
      for (int64_t c = 0; c < nt; ++c)
        packed[c] = loadVector(nb, w, arith::AddIOp::create(nb, wRow[c], wOffset), kBlockBytes);
      auto v32i8 = VectorType::get({32}, nb.getI8Type());
      for (int64_t s = 0; s < 4; ++s) {
        const int64_t valid = std::clamp<int64_t>(validWeights - s * kSlotWeights, 0, 32);
        if (valid == 0)
          break; // padding only: zero weights contribute nothing
        SmallVector<Value> acts(rt);
        for (int64_t r = 0; r < rt; ++r) {
          Value at = arith::AddIOp::create(
              nb, arith::AddIOp::create(nb, qRow[r], qOffset), constIndex(nb, s * kSlotWeights));
          if (valid == 32) {
            acts[r] = loadVector(nb, q, at, 32);
          } else {
            // The activation row ends inside this slot: read only its |valid| bytes, zero the
            // rest (their weights are padding).
            Value part = loadVector(nb, q, at, valid);
            acts[r] = vector::InsertStridedSliceOp::create(nb, part, constInt(nb, v32i8, 0),
                                                           ArrayRef<int64_t>{0},
                                                           ArrayRef<int64_t>{1});
          }
        }
        for (int64_t c = 0; c < nt; ++c) {
          Value codes = packed[c];
          if (s > 0)
            codes = arith::ShRUIOp::create(nb, codes, constInt(nb, v32i8, 2 * s));
          codes = arith::AndIOp::create(nb, codes, constInt(nb, v32i8, 3));
          for (int64_t r = 0; r < rt; ++r) {
            Value &a = acc[accIndex(s % sets, r, c)];
            a = dot.dotCodes(nb, a, codes, acts[r]);
          }
        }
        for (int64_t r = 0; r < numSums; ++r) {
          Value &a = acc[sumIndex(s % sets, r)];
          a = dot.sumActs(nb, a, acts[r]);
        }
      }
      return acc;
    };

    SmallVector<Value> acc = init;
    if (p.fullBlocks > 0)
      acc = forLoop(b, constIndex(b, 0), constIndex(b, p.fullBlocks), constIndex(b, 1), acc,
                    [&](ImplicitLocOpBuilder &nb, Value block, ValueRange carried) {
                      return blockStep(nb, block, kBlockWeights, carried);
                    });
    if (p.tailWeights > 0)
      acc = blockStep(b, constIndex(b, p.fullBlocks), p.tailWeights, acc);

    Type f32 = b.getF32Type(), f64 = b.getF64Type();
    for (int64_t r = 0; r < rt; ++r) {
      Value row = arith::AddIOp::create(b, t, constIndex(b, r));
      Value qs = extF(b, f64, memref::LoadOp::create(b, qscale, ValueRange{row}));
      for (int64_t c = 0; c < nt; ++c) {
        Value lanes = acc[accIndex(0, r, c)];
        for (int64_t set = 1; set < sets; ++set)
          lanes = arith::AddIOp::create(b, lanes, acc[accIndex(set, r, c)]);
        for (int64_t set = 0; set < sets && numSums; ++set)
          lanes = arith::SubIOp::create(b, lanes, acc[sumIndex(set, r)]);
        Value dotValue = reduceAdd(b, lanes);
        Value col = arith::AddIOp::create(b, j, constIndex(b, c));
        Value ws = extF(b, f64, memref::LoadOp::create(b, wscale, ValueRange{col}));
        // Scaled in double like the reference, then rounded once to float.
        Value sum = arith::SIToFPOp::create(b, f64, dotValue);
        sum = p.divideByScale ? Value(arith::DivFOp::create(b, sum, ws))
                              : Value(arith::MulFOp::create(b, sum, ws));
        Value out = arith::TruncFOp::create(b, f32, arith::DivFOp::create(b, sum, qs));
        Value at = arith::AddIOp::create(b, arith::MulIOp::create(b, row, constIndex(b, p.n)), col);
        memref::StoreOp::create(b, out, y, ValueRange{at});
      }
    }
  }

private:
  const TernaryParams &p;
  DotEmitter dot;
  Value q, qscale, w, wscale, y;
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
  if (packing != "i2_b128")
    return kernelError(fn, spec, "packing '" + packing + "' is not supported (known: i2_b128)");
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
  // Register tiles: accumulators RT * NT + RT sums + NT packed blocks + RT activations must fit
  // the register file (32 vector registers with AVX-512, 16 otherwise).
  const int64_t rowTile = dot.isa == DotIsa::VNNI ? 4 : dot.isa == DotIsa::AVX2 ? 2 : 1;
  const int64_t colTile = dot.isa == DotIsa::Generic ? 1
                          : p.nBlock % 4 == 0        ? 4
                          : p.nBlock % 2 == 0        ? 2
                                                     : 1;

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type i8 = b.getI8Type(), f32 = b.getF32Type();
  Value q = bindFlat(b, args, 0, i8, arith::MulIOp::create(b, args.rows, constIndex(b, p.k))); // (rows, k)
  Value qscale = bindFlat(b, args, 1, f32, args.rows);        // (rows)
  Value w = bindFlat(b, args, 2, i8, p.n * p.rowBytes);       // (n, rowBytes) packed
  Value wscale = bindFlat(b, args, 3, f32, p.n);              // (n)
  Value y = bindFlat(b, args, 4, f32, arith::MulIOp::create(b, args.rows, constIndex(b, p.n))); // (rows, n)
  TernaryMatmulEmitter emitter(p, dot, q, qscale, w, wscale, y);

  forLoop(b, args.begin, args.end, constIndex(b, 1), [&](ImplicitLocOpBuilder &ib, Value item) {
    Value firstCol = arith::MulIOp::create(ib, item, constIndex(ib, p.nBlock));
    Value lastCol = arith::AddIOp::create(ib, firstCol, constIndex(ib, p.nBlock));
    auto rowsOf = [&](ImplicitLocOpBuilder &rb, Value t0, int64_t rt) {
      forLoop(rb, firstCol, lastCol, constIndex(rb, colTile),
              [&](ImplicitLocOpBuilder &cb, Value j) { emitter.emitTile(cb, t0, j, rt, colTile); });
    };
    // Full row tiles, then the remaining rows one at a time.
    Value tiled = constIndex(ib, 0);
    if (rowTile > 1) {
      Value tileCount = arith::DivUIOp::create(ib, args.rows, constIndex(ib, rowTile));
      tiled = arith::MulIOp::create(ib, tileCount, constIndex(ib, rowTile));
      forLoop(ib, constIndex(ib, 0), tiled, constIndex(ib, rowTile),
              [&](ImplicitLocOpBuilder &rb, Value t0) { rowsOf(rb, t0, rowTile); });
    }
    forLoop(ib, tiled, args.rows, constIndex(ib, 1),
            [&](ImplicitLocOpBuilder &rb, Value t0) { rowsOf(rb, t0, 1); });
  });
  return success();
}

} // namespace tern::cpu
