// ternary_matmul prefill on int8 tensor cores (see TernaryMma.h).
//
// A block of 4 warps computes 64 activation rows x 32 weight rows; each warp 16 rows against
// the block's four 8-row weight tiles, one mma.sync.m16n8k32.s8.s8 per tile and 32 weights,
// accumulating the exact dot in int32. Per 128-weight block of a row (32 bytes of i2_b128),
// lane (g, t) of a warp (g = lane / 4, t = lane % 4) loads words 2t and 2t + 1 of weight row
// g of each tile: word w holds the codes of weights 32s + 4w .. + 3, slot s in bits 2s, 2s+1
// of each byte. So slot s of the two words gives the B fragment of step s, and the A fragment
// is the activations at 32s + 8t .. + 7 of rows g and g + 8: the mma's k order is permuted
// the same way for both operands, which leaves the dot unchanged. Codes (value + 1) become
// signed bytes with three bit operations, so no activation sums are needed. The next block's
// loads are issued before this block's mmas (carried through the loop).
#include "codegen/GPU/TernaryMma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <algorithm>

namespace tern::gpu {

using namespace mlir;

namespace {

constexpr int64_t kWarps = 4;
constexpr int64_t kRowsPerWarp = 16;
constexpr int64_t kBlockRows = kWarps * kRowsPerWarp; // activation rows per block
constexpr int64_t kTiles = 4;                          // 8-row weight tiles per block
constexpr int64_t kBlockN = 8 * kTiles;                // weight rows per block
constexpr int64_t kWeightsPerBlock = 128;              // i2_b128

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

Value c32(ImplicitLocOpBuilder &b, int64_t v) { return constI32(b, v); }
Value add(ImplicitLocOpBuilder &b, Value x, Value y) { return arith::AddIOp::create(b, x, y); }
Value mul(ImplicitLocOpBuilder &b, Value x, Value y) { return arith::MulIOp::create(b, x, y); }
Value minI(ImplicitLocOpBuilder &b, Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
Value lt(ImplicitLocOpBuilder &b, Value x, Value y) {
  return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y);
}

// Four codes (bytes 0..2, value + 1) as signed bytes -1..1: the low bit is !bit0, and the
// other seven are set only for code 0 (-1 = 0xFF).
Value signedTernary(ImplicitLocOpBuilder &b, Value codes) {
  Value notCodes = arith::XOrIOp::create(b, codes, c32(b, -1));
  Value low = andI(b, notCodes, 0x01010101);
  Value zero = arith::AndIOp::create(b, low, andI(b, shrU(b, notCodes, 1), 0x01010101));
  return arith::OrIOp::create(b, low, mul(b, zero, c32(b, 0xFE)));
}

// d = a x b + c for one 16 x 8 x 32 int8 tile (a: 4 registers, b: 2, c and d: 4).
SmallVector<Value> mma(ImplicitLocOpBuilder &b, ArrayRef<Value> a, ArrayRef<Value> bw,
                       ArrayRef<Value> c) {
  Type i32 = b.getI32Type();
  auto result = LLVM::LLVMStructType::getLiteral(b.getContext(), {i32, i32, i32, i32});
  SmallVector<Value> operands(a.begin(), a.end());
  operands.append(bw.begin(), bw.end());
  operands.append(c.begin(), c.end());
  auto op = LLVM::InlineAsmOp::create(
      b, result, operands,
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {$0, $1, $2, $3}, {$4, $5, $6, $7}, "
      "{$8, $9}, {$10, $11, $12, $13};",
      "=r,=r,=r,=r,r,r,r,r,r,r,r,r,r,r", /*has_side_effects=*/false, /*is_align_stack=*/false,
      LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr());
  SmallVector<Value> d;
  for (int64_t i = 0; i < 4; ++i)
    d.push_back(LLVM::ExtractValueOp::create(b, op.getResult(0), ArrayRef<int64_t>{i}));
  return d;
}

} // namespace

bool ternaryMmaApplies(const TernaryMmaShape &shape) {
  return shape.k > 0 && shape.k % kWeightsPerBlock == 0 && shape.n > 0;
}

int64_t ternaryMmaBlocks(const TernaryMmaShape &shape, int64_t maxRows) {
  return ceilDiv(shape.n, kBlockN) * ceilDiv(std::max<int64_t>(1, maxRows), kBlockRows);
}

void emitTernaryMmaPrefill(ImplicitLocOpBuilder &b, const TernaryMmaShape &shape, Value bid,
                           Value rows, Value q, Value weights, Value out,
                           const MmaFinish &finish) {
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto pair = VectorType::get({2}, i32);
  const int64_t nTiles = ceilDiv(shape.n, kBlockN);
  const int64_t kBlocks = shape.k / kWeightsPerBlock;
  Value rows32 = toI32(b, rows);
  Value tid = threadIdX(b);
  Value lane = andI(b, tid, 31), warp = shrU(b, tid, 5);
  Value g = shrU(b, lane, 2), t = andI(b, lane, 3);
  Value j0 = mul(b, arith::RemUIOp::create(b, bid, c32(b, nTiles)), c32(b, kBlockN));
  Value m0 = add(b, mul(b, arith::DivUIOp::create(b, bid, c32(b, nTiles)), c32(b, kBlockRows)),
                 mul(b, warp, c32(b, kRowsPerWarp)));
  // Warps past the call's rows skip the tile (warp-uniform, as mma.sync needs).
  ifThen(b, lt(b, m0, rows32), [&](ImplicitLocOpBuilder &b) {
    Value lastRow = add(b, rows32, c32(b, -1));
    // Bytes of this lane's 8 activations (rows g and g + 8, clamped) and 2 code words (row g
    // of each tile, clamped) in 128-weight block 0; block kb is kb * 128 and kb * 32 further.
    SmallVector<Value> actBase, weightBase;
    for (int64_t half = 0; half < 2; ++half) {
      Value row = minI(b, add(b, m0, add(b, g, c32(b, 8 * half))), lastRow);
      actBase.push_back(add(b, mul(b, toI64(b, row), constI64(b, shape.k)),
                            toI64(b, mul(b, t, c32(b, 8)))));
    }
    for (int64_t tile = 0; tile < kTiles; ++tile) {
      Value j = minI(b, add(b, j0, add(b, g, c32(b, 8 * tile))), c32(b, shape.n - 1));
      weightBase.push_back(add(b, mul(b, toI64(b, j), constI64(b, shape.rowBytes)),
                               toI64(b, mul(b, t, c32(b, 8)))));
    }
    // A block's raw loads: per half, per slot s, the 8 activation bytes; per tile the 2 words.
    auto loadBlock = [&](ImplicitLocOpBuilder &b, Value kb) {
      SmallVector<Value> raw;
      Value kb64 = toI64(b, kb);
      Value actAt = arith::MulIOp::create(b, kb64, constI64(b, kWeightsPerBlock));
      for (Value base : actBase)
        for (int64_t s = 0; s < 4; ++s)
          raw.push_back(load(b, pair, byteAddress(b, q, add(b, add(b, base, actAt), constI64(b, 32 * s))), 8));
      Value weightAt = arith::MulIOp::create(b, kb64, constI64(b, 32));
      for (Value base : weightBase)
        raw.push_back(loadReadOnly(b, pair, byteAddress(b, weights, add(b, base, weightAt)), 8));
      return raw;
    };
    Value zero = c32(b, 0);
    SmallVector<Value> init(kTiles * 4, zero);
    SmallVector<Value> first = loadBlock(b, zero);
    init.append(first.begin(), first.end());
    SmallVector<Value> result = forLoop(
        b, zero, c32(b, kBlocks), c32(b, 1), init,
        [&](ImplicitLocOpBuilder &b, Value kb, ValueRange carried) {
          SmallVector<Value> acc(carried.begin(), carried.begin() + kTiles * 4);
          SmallVector<Value> raw(carried.begin() + kTiles * 4, carried.end());
          // The next block's loads go out first (the last block reloads itself).
          Value next = minI(b, add(b, kb, c32(b, 1)), c32(b, kBlocks - 1));
          SmallVector<Value> nextRaw = loadBlock(b, next);
          for (int64_t s = 0; s < 4; ++s) {
            // A: (row g, k 0..15), (row g + 8, 0..15), (row g, 16..31), (row g + 8, 16..31).
            Value lo0 = extractLane(b, raw[s], 0), hi0 = extractLane(b, raw[s], 1);
            Value lo1 = extractLane(b, raw[4 + s], 0), hi1 = extractLane(b, raw[4 + s], 1);
            SmallVector<Value> a = {lo0, lo1, hi0, hi1};
            for (int64_t tile = 0; tile < kTiles; ++tile) {
              Value words = raw[8 + tile];
              SmallVector<Value> bw;
              for (int64_t w = 0; w < 2; ++w)
                bw.push_back(signedTernary(
                    b, andI(b, shrU(b, extractLane(b, words, w), 2 * s), 0x03030303)));
              SmallVector<Value> d = mma(b, a, bw, ArrayRef<Value>(acc).slice(tile * 4, 4));
              std::copy(d.begin(), d.end(), acc.begin() + tile * 4);
            }
          }
          acc.append(nextRaw.begin(), nextRaw.end());
          return acc;
        });
    // D: registers 0, 1 are row g, columns 2t, 2t + 1; registers 2, 3 row g + 8.
    for (int64_t tile = 0; tile < kTiles; ++tile)
      for (int64_t r = 0; r < 4; ++r) {
        Value row = add(b, m0, add(b, g, c32(b, r < 2 ? 0 : 8)));
        Value j = add(b, j0, add(b, c32(b, 8 * tile + r % 2), mul(b, t, c32(b, 2))));
        Value ok = arith::AndIOp::create(b, lt(b, row, rows32), lt(b, j, c32(b, shape.n)));
        ifThen(b, ok, [&](ImplicitLocOpBuilder &b) {
          Value y = finish(b, result[tile * 4 + r], row, j);
          Value index = add(b, mul(b, toI64(b, row), constI64(b, shape.n)), toI64(b, j));
          store(b, y, elementAddress(b, out, f32, index), 4);
        });
      }
  });
}

} // namespace tern::gpu
