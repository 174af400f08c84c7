// embedding: out[t] = row tokens[t] of the table (f32, f16, bf16, q8_0, q8_b32, q6_b32 or
// q4_b32), decoded to f32. position_embedding: out[t] = row pos + t of a (positions, width)
// table (learned absolute positions), the same gather with the row index from the position.
//
// Token ids are checked against the vocabulary by the runtime before the call, and positions
// against the context, which the compiler keeps within the position table, so the kernel
// reads rows unchecked. f16 uses vcvtph2ps where the target has F16C and the exact integer
// conversion on the baseline (which would otherwise call compiler-rt); q8_0 rows are blocks of
// an f16 scale and 32 int8 codes, decoded as scale * code with one rounding, like the source.
// q8_b32 / q6_b32 / q4_b32 (the tied lm_head quantized by `--lm-head=q8|q6|q4`) keep codes and
// scales in two planes (packing/QuantizedPacking.h); a row is decoded the same way, scale * code.
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/KernelGenerators.h"

#include "packing/QuantizedPacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace tern::cpu {

using namespace mlir;

namespace {

constexpr int64_t kQ8Block = 32;      // codes per q8_0 block
constexpr int64_t kQ8BlockBytes = 34; // f16 scale + 32 int8

} // namespace

LogicalResult generateEmbedding(func::FuncOp fn, const KernelSpec &spec, const CpuTarget &target) {
  const bool positional = spec.family == "position_embedding";
  const std::string rowsName = positional ? "positions" : "vocab";
  const int64_t vocab = spec.getInt(rowsName); // rows of the table
  const int64_t width = spec.getInt("width");
  const std::string dtype = spec.getString("dtype", "f32");
  if (vocab <= 0 || width <= 0)
    return kernelError(fn, spec,
                       "parameters '" + rowsName + "' and 'width' must be positive, got " +
                           rowsName + "=" + llvm::Twine(vocab) + " width=" + llvm::Twine(width));
  packing::QuantFormat format;
  const bool quantized = packing::quantFormatFromName(dtype.c_str(), &format);
  if (dtype != "f32" && dtype != "f16" && dtype != "bf16" && dtype != "q8_0" && !quantized)
    return kernelError(fn, spec, "dtype '" + dtype + "' is not supported (known: f32, f16, "
                                 "bf16, q8_0, q8_b32, q6_b32, q4_b32)");
  if ((dtype == "q8_0" || quantized) && width % kQ8Block != 0)
    return kernelError(fn, spec, dtype + " tables need width to be a multiple of 32, got width=" +
                                     llvm::Twine(width));
  const int64_t lanes = f32Lanes(target);

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type f32 = b.getF32Type();
  Value table;
  int64_t rowElements = width; // table elements (of the memref's type) per row
  if (dtype == "f32") {
    table = bindFlat(b, args, 0, f32, vocab * width); // (vocab, width)
  } else if (dtype == "f16" || dtype == "bf16") {
    table = bindFlat(b, args, 0, b.getI16Type(), vocab * width); // (vocab, width) raw bits
  } else if (quantized) {
    rowElements = packing::quantRowCodeBytes(format, width);
    table = bindFlat(b, args, 0, b.getI8Type(),
                     packing::quantPackedBytes(format, vocab, width)); // codes, then scales
  } else {
    rowElements = width / kQ8Block * kQ8BlockBytes;
    table = bindFlat(b, args, 0, b.getI8Type(), vocab * rowElements); // (vocab, width / 32) blocks
  }
  // position_embedding binds no tokens: (table, out).
  Value tokens = positional ? Value() : bindFlat(b, args, 1, b.getI32Type(), args.rows); // (rows)
  Value out = bindFlat(b, args, positional ? 1 : 2, f32,
                       arith::MulIOp::create(b, args.rows, constIndex(b, width))); // (rows, width)

  forLoop(b, constIndex(b, 0), args.rows, constIndex(b, 1), [&](ImplicitLocOpBuilder &rb, Value t) {
    // The table row: the token's id, or the row's position.
    Value token = positional ? Value(arith::AddIOp::create(rb, args.pos, t))
                             : Value(arith::IndexCastOp::create(
                                   rb, rb.getIndexType(),
                                   memref::LoadOp::create(rb, tokens, ValueRange{t})));
    Value src = arith::MulIOp::create(rb, token, constIndex(rb, rowElements));
    Value dst = arith::MulIOp::create(rb, t, constIndex(rb, width));

    if (quantized) {
      // Codes of the row at src; its scales at scaleOffset + token * (width / 32) * 2.
      const bool q4 = format == packing::QuantFormat::Q4B32;
      const bool q6 = format == packing::QuantFormat::Q6B32;
      // q6: a chunk of at most 16 codes shares one shift of the high-bit bytes.
      const int64_t step = std::min<int64_t>(lanes, q6 ? 16 : kQ8Block);
      auto vecType = VectorType::get({step}, f32);
      auto codeType = VectorType::get({step}, rb.getI8Type());
      Value scales = arith::AddIOp::create(
          rb, constIndex(rb, packing::quantScaleOffset(format, vocab, width)),
          arith::MulIOp::create(rb, token, constIndex(rb, width / kQ8Block * 2)));
      forLoop(rb, constIndex(rb, 0), constIndex(rb, width / kQ8Block), constIndex(rb, 1),
              [&](ImplicitLocOpBuilder &nb, Value block) {
                Value bits = vector::BitCastOp::create(
                    nb, VectorType::get({1}, nb.getI16Type()),
                    loadVector(nb, table,
                               arith::AddIOp::create(
                                   nb, scales, arith::MulIOp::create(nb, block, constIndex(nb, 2))),
                               2));
                Value scale = vector::BroadcastOp::create(
                    nb, vecType,
                    vector::ExtractOp::create(nb, halfBitsToF32(nb, bits), ArrayRef<int64_t>{0}));
                // q8: 32 bytes per block; q4: block 2i in the low nibbles of group i (32 bytes),
                // block 2i + 1 in the high nibbles; q6: the same nibbles in the first 32 bytes
                // of 48-byte group i, weight 32 * (block % 2) + m's high 2 bits in byte
                // 32 + m % 16, bits 2 * (2 * (block % 2) + m / 16) and up.
                Value codeBase = arith::AddIOp::create(
                    nb, src, arith::MulIOp::create(nb, q4 ? arith::DivUIOp::create(
                                                                nb, block, constIndex(nb, 2))
                                                          : block,
                                                   constIndex(nb, 32)));
                Value groupBase;
                if (q6) {
                  groupBase = arith::AddIOp::create(
                      nb, src,
                      arith::MulIOp::create(
                          nb, arith::DivUIOp::create(nb, block, constIndex(nb, 2)),
                          constIndex(nb, 48)));
                  codeBase = groupBase;
                }
                Value high = arith::AndIOp::create(nb, block, constIndex(nb, 1));
                Value shift = vector::BroadcastOp::create(
                    nb, codeType,
                    arith::IndexCastOp::create(
                        nb, nb.getI8Type(),
                        arith::MulIOp::create(nb, high, constIndex(nb, 4))));
                Value outBase = arith::AddIOp::create(
                    nb, dst, arith::MulIOp::create(nb, block, constIndex(nb, kQ8Block)));
                for (int64_t sub = 0; sub < kQ8Block; sub += step) {
                  Value codes = loadVector(
                      nb, table, arith::AddIOp::create(nb, codeBase, constIndex(nb, sub)), step);
                  if (q4)
                    codes = arith::SubIOp::create(
                        nb,
                        arith::AndIOp::create(nb, arith::ShRUIOp::create(nb, codes, shift),
                                              constInt(nb, codeType, 0x0f)),
                        constInt(nb, codeType, 8));
                  if (q6) {
                    Value highBits = loadVector(
                        nb, table,
                        arith::AddIOp::create(nb, groupBase, constIndex(nb, 32 + sub % 16)),
                        step);
                    Value highShift = vector::BroadcastOp::create(
                        nb, codeType,
                        arith::IndexCastOp::create(
                            nb, nb.getI8Type(),
                            arith::AddIOp::create(
                                nb, arith::MulIOp::create(nb, high, constIndex(nb, 4)),
                                constIndex(nb, sub / 16 * 2))));
                    Value low = arith::AndIOp::create(nb, arith::ShRUIOp::create(nb, codes, shift),
                                                      constInt(nb, codeType, 0x0f));
                    Value pair = arith::ShLIOp::create(
                        nb,
                        arith::AndIOp::create(nb, arith::ShRUIOp::create(nb, highBits, highShift),
                                              constInt(nb, codeType, 3)),
                        constInt(nb, codeType, 4));
                    codes = arith::SubIOp::create(nb, arith::OrIOp::create(nb, low, pair),
                                                  constInt(nb, codeType, 32));
                  }
                  Value values =
                      arith::MulFOp::create(nb, scale, arith::SIToFPOp::create(nb, vecType, codes));
                  storeVector(nb, values, out,
                              arith::AddIOp::create(nb, outBase, constIndex(nb, sub)));
                }
              });
      return;
    }

    if (dtype == "q8_0") {
      const int64_t step = std::min<int64_t>(lanes, kQ8Block);
      auto vecType = VectorType::get({step}, f32);
      forLoop(rb, constIndex(rb, 0), constIndex(rb, width / kQ8Block), constIndex(rb, 1),
              [&](ImplicitLocOpBuilder &nb, Value block) {
                Value base = arith::AddIOp::create(
                    nb, src, arith::MulIOp::create(nb, block, constIndex(nb, kQ8BlockBytes)));
                Value bits = vector::BitCastOp::create(nb, VectorType::get({1}, nb.getI16Type()),
                                                       loadVector(nb, table, base, 2));
                Value scale = vector::BroadcastOp::create(
                    nb, vecType,
                    vector::ExtractOp::create(nb, halfBitsToF32(nb, bits), ArrayRef<int64_t>{0}));
                Value outBase = arith::AddIOp::create(
                    nb, dst, arith::MulIOp::create(nb, block, constIndex(nb, kQ8Block)));
                for (int64_t sub = 0; sub < kQ8Block; sub += step) {
                  Value codes = loadVector(
                      nb, table, arith::AddIOp::create(nb, base, constIndex(nb, 2 + sub)), step);
                  Value values =
                      arith::MulFOp::create(nb, scale, arith::SIToFPOp::create(nb, vecType, codes));
                  storeVector(nb, values, out,
                              arith::AddIOp::create(nb, outBase, constIndex(nb, sub)));
                }
              });
      return;
    }

    forChunks(rb, width, lanes, ValueRange{},
              [&](ImplicitLocOpBuilder &nb, Value offset, int64_t n, ValueRange) {
                Value raw = loadVector(nb, table, arith::AddIOp::create(nb, src, offset), n);
                Value values = raw;
                if (dtype == "f16") {
                  if (target.hasAVX2)
                    values = extF(nb, VectorType::get({n}, f32),
                                  vector::BitCastOp::create(
                                      nb, VectorType::get({n}, nb.getF16Type()), raw));
                  else
                    values = halfBitsToF32(nb, raw);
                } else if (dtype == "bf16") {
                  values = bf16BitsToF32(nb, raw);
                }
                storeVector(nb, values, out, arith::AddIOp::create(nb, dst, offset));
                return SmallVector<Value>{};
              });
  });
  return success();
}

} // namespace tern::cpu
