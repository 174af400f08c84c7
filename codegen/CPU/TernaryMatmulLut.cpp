// ternary_matmul's prefill rows by lookup tables: the GEMM of i2_b128 weights on AVX2 cores
// whose one vpmaddubsw pipe bounds the multiply-add kernel (AMD Zen 1-3).
//
// A weight row's 8-byte word of block b, byte offset 8u, holds 32 codes (value + 1): code c
// (bits 2c, 2c + 1) is byte c / 4's slot c % 4, the weight 128b + 8u + c / 4 + 32 (c % 4). The
// word is read as ten groups of three adjacent codes (bits 6g .. 6g + 5) and one pair (bits
// 60 .. 63). For each group and 32 activation rows a table holds the 27 (or 9) sums
// sum_i (c_i - 1) a[k_i] as int16 at entry c0 + 4 c1 + 16 c2 -- the group's bits as they
// stand -- 64 bytes (32 rows) per entry. The dot of a weight row with the 32 activation rows is
// the sum over groups of the entry each group selects: per group one rotate (rorx) and one and
// give the entry's byte offset, and two vpaddw with a memory operand add its 32 rows, 96
// multiply-adds. Table entries are read through the two load ports instead of the multiplier,
// which is why this beats vpmaddubsw where that instruction issues once per cycle; groups of
// three take 11 lookups per word where pairs took 16 (1.25x the pairs' speed on Zen 2).
//
// The 11 tables of one word step (28 KiB, 43 entries of 64 bytes for a group of three, 27 of
// them used) stay in L1 while every weight row of a column block reads its word (loaded two
// rows ahead); a row's lookups add up in int16 over the four steps of an i2_b128 block (at most
// 4 x 32 x 128 in magnitude), then into its int32 dots in a stack buffer, which the epilogue
// reads back in 8 x 8 squares transposed in registers. Activations are first transposed to
// k-major order, 32 bytes per k, so a table's rows load as one vector. The sums are the exact
// integer dots (the tables hold the weights' values, not codes, so no activation sums are
// needed), and the epilogue scales in double like the reference: outputs are bit-identical to
// the vector path's.
#include "codegen/CPU/TernaryMatmulLut.h"
#include "codegen/CPU/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <string>

namespace tern::cpu {

using namespace mlir;

namespace {

constexpr int64_t kRows = kLutRowStep;
constexpr int64_t kWordBytes = 8;                     // one step of a weight row
constexpr int64_t kWordsPerBlock = 4;                 // i2_b128 blocks are 32 bytes
constexpr int64_t kBlockWeights = 128;
constexpr int64_t kEntryBytes = kRows * 2;            // kRows x int16: two ymm
constexpr int64_t kEntryShift = 6;                    // log2(kEntryBytes)
// Weight rows whose dots stay in scratch: each block builds the tables once per step, about 4%
// of a block of 1024 rows on Zen 2 (512: 5% slower, 2048: 1% slower).
constexpr int64_t kColumnBlock = 1024;
constexpr int64_t kPartialBytes = kColumnBlock * kRows * 2; // int16 sums of one block's steps
constexpr int64_t kDotsBytes = kColumnBlock * kRows * 4;
constexpr int64_t kLanes = 8;                         // f64 lanes of the epilogue's vectors
constexpr int64_t kWordsAhead = 2;                    // rows between a word's load and its use
constexpr int64_t kCacheLineBytes = 64;               // two i2_b128 blocks of a row
static_assert(kEntryBytes == int64_t{1} << kEntryShift);

// A word's 32 codes as ten groups of three adjacent codes (bits 6g .. 6g + 5) and one pair (bits
// 60 .. 63). A group's table entry for codes c0, c1, c2 is entry c0 + 4 c1 + 16 c2, the group's
// bits as they stand, so one rotate and one mask give the entry's byte offset; 43 entries for a
// triple (27 used) and 11 for the pair (9 used).
struct CodeGroup {
  int64_t firstCode, codes, tableOffset;
};
constexpr int64_t kTriples = 10, kGroupsPerWord = kTriples + 1;
constexpr int64_t kTripleEntries = 43, kPairEntries = 11;
constexpr int64_t kStepTableBytes = (kTriples * kTripleEntries + kPairEntries) * kEntryBytes;

CodeGroup codeGroup(int64_t g) {
  return g < kTriples ? CodeGroup{3 * g, 3, g * kTripleEntries * kEntryBytes}
                      : CodeGroup{3 * kTriples, 2, kTriples * kTripleEntries * kEntryBytes};
}

// Weight index, from byte 0 of its word, of a word's code c: byte c / 4, slot c % 4.
int64_t codeWeight(int64_t c) { return c / 4 + 32 * (c % 4); }

class LutTernaryEmitter {
public:
  LutTernaryEmitter(const TernaryPrefillShape &shape, const LutTernaryOperands &ops,
                    const LutScratch &scratch)
      : shape(shape), ops(ops), scratch(scratch) {}

  int64_t paddedK() const { return shape.rowBytes * 4; }

  // Activation rows m0 .. m0 + 31 into the scratch, k-major: byte 32 kk + r is row m0 + r's
  // code kk, and zero past k (the padding weights are zeros too, but the tables read every k).
  // A select, not a separate loop of zero stores, which LLVM would make a memset call the
  // kernel library cannot resolve.
  void transposeActivations(ImplicitLocOpBuilder &b, Value m0) const {
    SmallVector<Value> rowStarts;
    for (int64_t r = 0; r < kRows; ++r)
      rowStarts.push_back(arith::MulIOp::create(
          b, arith::AddIOp::create(b, m0, constIndex(b, r)), constIndex(b, shape.k)));
    Value lastK = constIndex(b, shape.k - 1);
    Value zero = constInt(b, b.getI8Type(), 0);
    forLoop(b, constIndex(b, 0), constIndex(b, paddedK()), constIndex(b, 1),
            [&](ImplicitLocOpBuilder &kb, Value kk) {
              Value column = arith::MulIOp::create(kb, kk, constIndex(kb, kRows));
              Value inside = arith::CmpIOp::create(kb, arith::CmpIPredicate::ule, kk, lastK);
              Value clamped = arith::MinUIOp::create(kb, kk, lastK);
              for (int64_t r = 0; r < kRows; ++r) {
                Value code = memref::LoadOp::create(
                    kb, ops.q, ValueRange{arith::AddIOp::create(kb, rowStarts[r], clamped)});
                LLVM::StoreOp::create(
                    kb, arith::SelectOp::create(kb, inside, code, zero),
                    bytePointer(kb, scratch.activations,
                                arith::AddIOp::create(kb, column, constIndex(kb, r))));
              }
            });
  }

  // The tables of word step |step| (byte 8 * step of every weight row).
  void buildTables(ImplicitLocOpBuilder &b, Value step) const {
    auto i8Row = VectorType::get({kRows}, b.getI8Type());
    auto i16Row = VectorType::get({kRows}, b.getI16Type());
    // Weight index of byte 0 of this word: 128 (step / 4) + 8 (step % 4).
    Value first = arith::AddIOp::create(
        b,
        arith::MulIOp::create(b, arith::DivUIOp::create(b, step, constIndex(b, kWordsPerBlock)),
                              constIndex(b, kBlockWeights)),
        arith::MulIOp::create(b, arith::RemUIOp::create(b, step, constIndex(b, kWordsPerBlock)),
                              constIndex(b, kWordBytes)));
    auto activationsAt = [&](int64_t offset) {
      Value kk = arith::AddIOp::create(b, first, constIndex(b, offset));
      Value at = bytePointer(b, scratch.activations,
                             arith::MulIOp::create(b, kk, constIndex(b, kRows)));
      Value codes = LLVM::LoadOp::create(b, i8Row, at, /*alignment=*/kRows);
      return Value(arith::ExtSIOp::create(b, i16Row, codes));
    };
    // Sums as values, with a null Value for zero (so no add of a zero is emitted).
    auto add = [&](Value x, Value y) {
      return !x ? y : !y ? x : Value(arith::AddIOp::create(b, x, y));
    };
    Value zero = constInt(b, i16Row, 0);
    for (int64_t g = 0; g < kGroupsPerWord; ++g) {
      const CodeGroup group = codeGroup(g);
      // Weight value (code - 1) times activation for codes 0, 1, 2 of each of the group's codes;
      // entry sums over the codes built up one code at a time (3, 9, then 27 sums).
      SmallVector<std::pair<int64_t, Value>> sums = {{0, Value()}};
      for (int64_t i = 0; i < group.codes; ++i) {
        Value a = activationsAt(codeWeight(group.firstCode + i));
        const Value terms[3] = {arith::SubIOp::create(b, zero, a), Value(), a};
        SmallVector<std::pair<int64_t, Value>> next;
        for (int64_t c = 0; c < 3; ++c)
          for (auto [entry, sum] : sums)
            next.push_back({entry + (c << (2 * i)), add(sum, terms[c])});
        sums = std::move(next);
      }
      for (auto [entry, sum] : sums) {
        const int64_t at = group.tableOffset + entry * kEntryBytes;
        LLVM::StoreOp::create(b, sum ? sum : zero,
                              bytePointer(b, scratch.tables, constIndex(b, at)),
                              /*alignment=*/kEntryBytes);
      }
    }
  }

  // Weight row n's word of step |step|.
  Value loadWord(ImplicitLocOpBuilder &b, Value step, Value n) const {
    return LLVM::LoadOp::create(b, b.getI64Type(), bytePointer(b, ops.wPtr, wordAt(b, step, n)),
                                /*alignment=*/kWordBytes);
  }

  // Asks L2 for the cache line after weight row n's word of step |step|: at the first step of
  // a block, the row's words two blocks later. A column block's rows are rowBytes apart, a
  // stride the hardware prefetcher did not follow from memory: without this the model's
  // prefill ran 10% slower than the same kernels on weights already in cache.
  void prefetchNextLine(ImplicitLocOpBuilder &b, Value step, Value n) const {
    Value at = arith::AddIOp::create(b, wordAt(b, step, n), constIndex(b, kCacheLineBytes));
    prefetchByte(b, ops.wPtr, at, /*locality=*/2);
  }

  // Byte offset of weight row n's word of step |step|.
  Value wordAt(ImplicitLocOpBuilder &b, Value step, Value n) const {
    return arith::AddIOp::create(b, arith::MulIOp::create(b, n, constIndex(b, shape.rowBytes)),
                                 arith::MulIOp::create(b, step, constIndex(b, kWordBytes)));
  }

  // Where a word step stands in its i2_b128 block and the block in the row.
  struct StepPlace {
    bool firstStep, lastStep, firstBlock;
  };

  // Adds weight row n's sums for |word| (its word of the current step) to its int16 partial
  // sums (slot n - n0), or stores them for the first step of a block; at the last step of a
  // block, adds the block's sums to the row's int32 dots instead (stores them for the first
  // block). Stores rather than a zeroing pass, which LLVM would make a memset call the kernel
  // library cannot resolve.
  void accumulateRow(ImplicitLocOpBuilder &b, Value word, Value n, Value n0,
                     StepPlace place) const {
    Type i64 = b.getI64Type();
    auto i16Row = VectorType::get({kRows}, b.getI16Type());
    // Two sums (even and odd groups), so no one chain of adds holds every lookup.
    Value sums[2] = {constInt(b, i16Row, 0), constInt(b, i16Row, 0)};
    for (int64_t g = 0; g < kGroupsPerWord; ++g) {
      const CodeGroup group = codeGroup(g);
      // The group's bits moved to bit kEntryShift (x 32 bytes per entry) by a rotate, then a
      // mask. Written as rorx (BMI2: no copy of the word, no flags), because LLVM turns a
      // rotate whose wrapped bits are masked off into a copy and a shift: one instruction more
      // per lookup, which measured 20-25% slower on Zen 2 in a stand-alone model of this loop.
      const int64_t rotate = (2 * group.firstCode - kEntryShift + 64) % 64;
      const int64_t mask = ((int64_t{1} << (2 * group.codes)) - 1) << kEntryShift;
      const std::string rorx = "rorxq $$" + std::to_string(rotate) + ", $1, $0";
      Value rotated = LLVM::InlineAsmOp::create(
                          b, i64, ValueRange{word}, rorx, "=r,r", /*has_side_effects=*/false,
                          /*is_align_stack=*/false, LLVM::tailcallkind::TailCallKind::None,
                          LLVM::AsmDialectAttr(), ArrayAttr())
                          .getResult(0);
      Value entryAt = arith::AddIOp::create(b, arith::AndIOp::create(b, rotated, constInt(b, i64, mask)),
                                            constInt(b, i64, group.tableOffset));
      Value entry = LLVM::LoadOp::create(b, i16Row, bytePointer(b, scratch.tables, entryAt),
                                         /*alignment=*/kEntryBytes);
      sums[g % 2] = arith::AddIOp::create(b, sums[g % 2], entry);
    }
    Value stepSums = arith::AddIOp::create(b, sums[0], sums[1]);
    Value slot = arith::SubIOp::create(b, n, n0);
    Value partialAt = bytePointer(b, scratch.partials,
                                  arith::MulIOp::create(b, slot, constIndex(b, kRows * 2)));
    if (!place.firstStep)
      stepSums = arith::AddIOp::create(
          b, LLVM::LoadOp::create(b, i16Row, partialAt, /*alignment=*/kEntryBytes), stepSums);
    if (!place.lastStep) {
      LLVM::StoreOp::create(b, stepSums, partialAt, /*alignment=*/kEntryBytes);
      return;
    }
    auto i32Row = VectorType::get({kRows}, b.getI32Type());
    Value dotsAt =
        bytePointer(b, scratch.dots, arith::MulIOp::create(b, slot, constIndex(b, kRows * 4)));
    Value dots = arith::ExtSIOp::create(b, i32Row, stepSums);
    if (!place.firstBlock)
      dots = arith::AddIOp::create(
          b, LLVM::LoadOp::create(b, i32Row, dotsAt, /*alignment=*/kEntryBytes), dots);
    LLVM::StoreOp::create(b, dots, dotsAt, /*alignment=*/kEntryBytes);
  }

  // y[m0 + r][n] = dot * ws[n] (or / ws[n]) / qs[m0 + r], in double, rounded once to float
  // (as the reference and the vector path do), for n in [n0, n1). The dots are held per
  // column; each 8 x 8 square is transposed in registers so that y is written along its rows:
  // storing down a column put 32 rows n * 4 bytes apart, which for n = 2560 or 13824 fall in
  // two L1 sets, and the conflict misses cost up to a fifth of the kernel.
  void storeOutputs(ImplicitLocOpBuilder &b, Value m0, Value n0, Value n1,
                    ArrayRef<Value> qs) const {
    Type f64 = b.getF64Type();
    auto i32Lanes = VectorType::get({kLanes}, b.getI32Type());
    auto f64Lanes = VectorType::get({kLanes}, f64);
    auto f32Lanes = VectorType::get({kLanes}, b.getF32Type());
    auto dotsOf = [&](ImplicitLocOpBuilder &nb, Value n, int64_t g) {
      Value at = arith::AddIOp::create(
          nb,
          arith::MulIOp::create(nb, arith::SubIOp::create(nb, n, n0), constIndex(nb, kRows * 4)),
          constIndex(nb, g * kLanes * 4));
      return Value(LLVM::LoadOp::create(nb, i32Lanes, bytePointer(nb, scratch.dots, at),
                                        /*alignment=*/kLanes * 4));
    };
    auto scale = [&](ImplicitLocOpBuilder &nb, Value dots, Value ws, Value qsRow) {
      Value scaled = arith::SIToFPOp::create(nb, f64Lanes, dots);
      scaled = shape.divideByScale ? Value(arith::DivFOp::create(nb, scaled, ws))
                                   : Value(arith::MulFOp::create(nb, scaled, ws));
      scaled = arith::DivFOp::create(nb, scaled, qsRow);
      return Value(arith::TruncFOp::create(nb, f32Lanes, scaled));
    };
    auto rowIndex = [&](ImplicitLocOpBuilder &nb, int64_t r, Value n) {
      Value row = arith::AddIOp::create(nb, m0, constIndex(nb, r));
      return Value(arith::AddIOp::create(
          nb, arith::MulIOp::create(nb, row, constIndex(nb, shape.n)), n));
    };
    Value width = arith::SubIOp::create(b, n1, n0);
    Value squares = arith::AddIOp::create(
        b, n0,
        arith::MulIOp::create(b, arith::DivUIOp::create(b, width, constIndex(b, kLanes)),
                              constIndex(b, kLanes)));
    forLoop(b, n0, squares, constIndex(b, kLanes), [&](ImplicitLocOpBuilder &nb, Value n) {
      Value ws = extF(nb, f64Lanes, loadVector(nb, ops.wscale, n, kLanes));
      for (int64_t g = 0; g < kRows / kLanes; ++g) {
        SmallVector<Value> columns;
        for (int64_t c = 0; c < kLanes; ++c)
          columns.push_back(dotsOf(nb, arith::AddIOp::create(nb, n, constIndex(nb, c)), g));
        SmallVector<Value> rows = transpose8x8(nb, columns);
        for (int64_t l = 0; l < kLanes; ++l) {
          Value qsRow =
              vector::BroadcastOp::create(nb, f64Lanes, vector::ExtractOp::create(nb, qs[g], l));
          storeVector(nb, scale(nb, rows[l], ws, qsRow), ops.y, rowIndex(nb, g * kLanes + l, n));
        }
      }
    });
    // Columns past the last square (slices whose width is not a multiple of 8).
    forLoop(b, squares, n1, constIndex(b, 1), [&](ImplicitLocOpBuilder &nb, Value n) {
      Value ws = vector::BroadcastOp::create(
          nb, f64Lanes, extF(nb, f64, memref::LoadOp::create(nb, ops.wscale, ValueRange{n})));
      for (int64_t g = 0; g < kRows / kLanes; ++g) {
        Value out = scale(nb, dotsOf(nb, n, g), ws, qs[g]);
        for (int64_t l = 0; l < kLanes; ++l)
          memref::StoreOp::create(nb, vector::ExtractOp::create(nb, out, l), ops.y,
                                  ValueRange{rowIndex(nb, g * kLanes + l, n)});
      }
    });
  }

  // Rows m0 .. m0 + 31 x columns [firstCol, lastCol), in column blocks of kColumnBlock.
  void emitRowStep(ImplicitLocOpBuilder &b, Value m0, Value firstCol, Value lastCol) const {
    transposeActivations(b, m0);
    SmallVector<Value> qs;
    for (int64_t g = 0; g < kRows / kLanes; ++g)
      qs.push_back(extF(b, VectorType::get({kLanes}, b.getF64Type()),
                        loadVector(b, ops.qscale,
                                   arith::AddIOp::create(b, m0, constIndex(b, g * kLanes)),
                                   kLanes)));
    forLoop(b, firstCol, lastCol, constIndex(b, kColumnBlock),
            [&](ImplicitLocOpBuilder &cb, Value n0) {
              Value n1 = arith::MinUIOp::create(
                  cb, arith::AddIOp::create(cb, n0, constIndex(cb, kColumnBlock)), lastCol);
              auto wordStep = [&](ImplicitLocOpBuilder &sb, Value step, StepPlace place) {
                buildTables(sb, step);
                // Each row's word is loaded two rows ahead and carried: loaded in the row's own
                // iteration (or one ahead), after the previous row's partial-sum stores, Zen 2
                // let the rows' lookups overlap less, and the loop ran at 118-126 GMAC/s
                // against 150-154 (three or four ahead: no better).
                Value last = arith::SubIOp::create(sb, n1, constIndex(sb, 1));
                auto wordOf = [&](ImplicitLocOpBuilder &wb, Value n, int64_t ahead) {
                  return loadWord(wb, step, arith::MinUIOp::create(
                      wb, arith::AddIOp::create(wb, n, constIndex(wb, ahead)), last));
                };
                SmallVector<Value> init;
                for (int64_t a = 0; a < kWordsAhead; ++a)
                  init.push_back(wordOf(sb, n0, a));
                forLoop(sb, n0, n1, constIndex(sb, 1), init,
                        [&](ImplicitLocOpBuilder &nb, Value n, ValueRange carried) {
                          Value ahead = wordOf(nb, n, kWordsAhead);
                          if (place.firstStep)
                            prefetchNextLine(nb, step, n);
                          accumulateRow(nb, carried[0], n, n0, place);
                          SmallVector<Value> next(carried.drop_front());
                          next.push_back(ahead);
                          return next;
                        });
              };
              // The four word steps of an i2_b128 block add at most 4 x 32 x 128 in magnitude
              // to a partial sum: int16 holds them. Blocks then add up in int32, at the last
              // step (a pass of its own over the rows' partial sums measured 2-6% slower).
              auto block = [&](ImplicitLocOpBuilder &kb, Value blockIndex, bool first) {
                Value step0 = arith::MulIOp::create(kb, blockIndex, constIndex(kb, kWordsPerBlock));
                wordStep(kb, step0, {/*firstStep=*/true, /*lastStep=*/false, first});
                forLoop(kb, constIndex(kb, 1), constIndex(kb, kWordsPerBlock - 1),
                        constIndex(kb, 1), [&](ImplicitLocOpBuilder &sb, Value s) {
                          wordStep(sb, arith::AddIOp::create(sb, step0, s),
                                   {/*firstStep=*/false, /*lastStep=*/false, first});
                        });
                wordStep(kb, arith::AddIOp::create(kb, step0, constIndex(kb, kWordsPerBlock - 1)),
                         {/*firstStep=*/false, /*lastStep=*/true, first});
              };
              block(cb, constIndex(cb, 0), /*first=*/true);
              const int64_t blocks = shape.rowBytes / (kWordBytes * kWordsPerBlock);
              forLoop(cb, constIndex(cb, 1), constIndex(cb, blocks), constIndex(cb, 1),
                      [&](ImplicitLocOpBuilder &kb, Value blockIndex) {
                        block(kb, blockIndex, /*first=*/false);
                      });
              storeOutputs(cb, m0, n0, n1, qs);
            });
  }

private:
  const TernaryPrefillShape &shape;
  const LutTernaryOperands &ops;
  const LutScratch &scratch;
};

} // namespace

bool lutTernaryApplies(const CpuTarget &target, int64_t k) {
  return target.lutPrefill && k <= kLutMaxK;
}

LutScratch allocateLutScratch(ImplicitLocOpBuilder &b, const TernaryPrefillShape &shape) {
  return {stackBuffer(b, shape.rowBytes * 4 * kRows, kEntryBytes),
          // Past the last table, room for the entries of codes 3 (not ternary): never read for
          // weights the packer wrote, but a lookup must not leave the buffer either way.
          stackBuffer(b, kStepTableBytes + (64 - kTripleEntries) * kEntryBytes, kEntryBytes), stackBuffer(b, kPartialBytes, kEntryBytes),
          stackBuffer(b, kDotsBytes, kEntryBytes)};
}

Value emitLutTernaryRows(ImplicitLocOpBuilder &b, const TernaryPrefillShape &shape,
                         const LutTernaryOperands &ops, const LutScratch &scratch, Value rows,
                         Value firstCol, Value lastCol) {
  LutTernaryEmitter emitter(shape, ops, scratch);
  return emitWholeRowSteps(b, rows, kLutRowStep, [&](ImplicitLocOpBuilder &ib, Value lutRows) {
    forLoop(ib, constIndex(ib, 0), lutRows, constIndex(ib, kLutRowStep),
            [&](ImplicitLocOpBuilder &mb, Value m0) {
              emitter.emitRowStep(mb, m0, firstCol, lastCol);
            });
  });
}

} // namespace tern::cpu
