// quantized_matmul on NVIDIA GPUs: int8 activations against q8_b32, q6_b32 or q4_b32 weights.
//
// Each 32-weight block's dot product is exact in int32 (dp4a), converted once and multiplied
// by the block's f16 scale in an f32 FMA, as the formats are meant to be used. Chunks are 16
// bytes of codes: half a q8 block (16 weights), or half a q4 group (32 bytes: byte j holds
// weight j of the group's first block in its low nibble and weight 32 + j of the second in
// its high one), so a chunk feeds two blocks; q6 adds the group's 16-byte plane of high bits,
// which both halves of the group read. The unsigned codes c + 8 / c + 32 go into dp4a as they
// are, and -8 * sum(q) / -32 * sum(q) of the block comes from one more dp4a per activation
// word, computed once per activation row and shared by every weight row of a tile.
// Activations are staged as in ternary_matmul, in 16-byte planes: plane 0 the chunk's
// low-nibble block, plane 1 its high-nibble block (q8: one plane).
#include "codegen/GPU/GPURowDot.h"
#include "codegen/GPU/GPUKernelGenerators.h"

#include "packing/QuantizedPacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace tern::gpu {

using namespace mlir;

namespace {

struct QuantParams {
  int64_t n = 0, k = 0;
  packing::QuantFormat format = packing::QuantFormat::Q8B32;
};

llvm::Expected<QuantParams> parse(const KernelSpec &spec) {
  QuantParams p;
  p.n = spec.getInt("n");
  p.k = spec.getInt("k");
  if (p.n <= 0 || p.k <= 0)
    return llvm::createStringError("quantized_matmul: parameters 'n' (%lld) and 'k' (%lld) must "
                                   "be positive",
                                   (long long)p.n, (long long)p.k);
  if (p.n >= (int64_t(1) << 31) || p.k >= (int64_t(1) << 30))
    return llvm::createStringError("quantized_matmul: n x k = %lld x %lld is beyond 32-bit "
                                   "indices",
                                   (long long)p.n, (long long)p.k);
  const std::string format = spec.getString("format");
  if (!packing::quantFormatFromName(format.c_str(), &p.format))
    return llvm::createStringError("quantized_matmul: parameter 'format' is '%s'; expected "
                                   "q8_b32, q6_b32 or q4_b32",
                                   format.c_str());
  if (!packing::quantSupportsWidth(p.k))
    return llvm::createStringError("quantized_matmul: %s weights need k to be a multiple of 32, "
                                   "got %lld",
                                   format.c_str(), (long long)p.k);
  return p;
}

RowDotShape shapeOf(const QuantParams &p) {
  RowDotShape shape;
  shape.n = p.n;
  shape.planeBytes = 16;
  if (p.format == packing::QuantFormat::Q8B32) {
    shape.chunks = p.k / 16;
    shape.planes = 1;
  } else {
    shape.chunks = (p.k + 63) / 64 * 2; // two chunks per 64-weight group
    shape.planes = 2;
  }
  return shape;
}

} // namespace

llvm::Expected<LaunchShape> launchQuantizedMatmul(const KernelSpec &spec, int64_t maxRows,
                                                  const GpuTarget &) {
  auto p = parse(spec);
  if (!p)
    return p.takeError();
  auto shape = withOneRowParam(spec, shapeOf(*p));
  if (!shape)
    return shape.takeError();
  return rowDotLaunch(*shape, maxRows);
}

LogicalResult generateQuantizedMatmul(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                      const GpuTarget &target) {
  auto parsed = parse(spec);
  if (!parsed)
    return gpuKernelError(fn, spec, llvm::toString(parsed.takeError()));
  const QuantParams p = *parsed;
  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Value q = args.bindings[0], qscale = args.bindings[1], weights = args.bindings[2],
        y = args.bindings[3];
  Type i16 = b.getI16Type(), i32 = b.getI32Type(), f32 = b.getF32Type();
  auto words = VectorType::get({4}, i32);
  const bool q8 = p.format == packing::QuantFormat::Q8B32;
  const bool q6 = p.format == packing::QuantFormat::Q6B32;
  const int64_t rowBytes = packing::quantRowCodeBytes(p.format, p.k);
  const int64_t blocks = p.k / packing::kQuantBlock;
  Value scales = byteAddress(b, weights, constI64(b, packing::quantScaleOffset(p.format, p.n, p.k)));

  RowDotFormat format;
  auto shape = withOneRowParam(spec, shapeOf(p));
  if (!shape)
    return gpuKernelError(fn, spec, llvm::toString(shape.takeError()));
  format.shape = *shape;
  format.k = p.k;
  format.actRowStride = p.k;
  format.intActivations = true;
  format.actAligned16 = true; // k % 32 == 0
  format.intAccumulator = false;
  format.pieceStart = [&](ImplicitLocOpBuilder &nb, Value chunk, Value plane) -> Value {
    if (q8)
      return shlI(nb, chunk, 4);
    // Chunk c is half c % 2 of group c / 2; plane 1 is the group's second block.
    Value group = shlI(nb, shrU(nb, chunk, 1), 6);
    Value half = shlI(nb, andI(nb, chunk, 1), 4);
    return arith::AddIOp::create(nb, arith::AddIOp::create(nb, group, half), shlI(nb, plane, 5));
  };
  auto load4 = [&](ImplicitLocOpBuilder &nb, Value offset, llvm::SmallVector<Value> &raw) {
    Value v = loadReadOnly(nb, words, byteAddress(nb, weights, offset), 16);
    for (int64_t w = 0; w < 4; ++w)
      raw.push_back(LLVM::ExtractElementOp::create(nb, v, constI32(nb, w)));
  };
  // The f16 scale bits of block |block| of row |row| (i32 values), or 0 past the row's blocks.
  auto scaleBits = [&](ImplicitLocOpBuilder &nb, Value row, Value block) -> Value {
    Value valid = arith::CmpIOp::create(nb, arith::CmpIPredicate::slt, block, constI32(nb, blocks));
    Value clamped = arith::SelectOp::create(nb, valid, block, constI32(nb, 0));
    Value index = arith::AddIOp::create(
        nb, arith::MulIOp::create(nb, toI64(nb, row), constI64(nb, blocks)), toI64(nb, clamped));
    Value bits = loadReadOnly(nb, i16, elementAddress(nb, scales, i16, index), 2);
    return arith::SelectOp::create(nb, valid, arith::ExtUIOp::create(nb, i32, bits),
                                   constI32(nb, 0));
  };
  format.loadChunk = [&](ImplicitLocOpBuilder &nb, Value row, Value chunk) {
    llvm::SmallVector<Value> raw;
    Value rowStart = arith::MulIOp::create(nb, toI64(nb, row), constI64(nb, rowBytes));
    if (q8) {
      load4(nb, arith::AddIOp::create(nb, rowStart, toI64(nb, shlI(nb, chunk, 4))), raw);
      raw.push_back(scaleBits(nb, row, shrU(nb, chunk, 1)));
      return raw;
    }
    Value group = shrU(nb, chunk, 1), half = andI(nb, chunk, 1);
    if (q6) {
      Value groupStart = arith::AddIOp::create(
          nb, rowStart, toI64(nb, arith::MulIOp::create(nb, group, constI32(nb, 48))));
      load4(nb, arith::AddIOp::create(nb, groupStart, toI64(nb, shlI(nb, half, 4))), raw);
      load4(nb, arith::AddIOp::create(nb, groupStart, constI64(nb, 32)), raw);
    } else {
      load4(nb, arith::AddIOp::create(nb, rowStart, toI64(nb, shlI(nb, chunk, 4))), raw);
    }
    Value first = shlI(nb, group, 1);
    if (blocks % 2 == 0) {
      // Both scales in one 4-byte load: the row's scales start 4-byte aligned.
      Value index = arith::AddIOp::create(
          nb, arith::MulIOp::create(nb, toI64(nb, row), constI64(nb, blocks)), toI64(nb, first));
      Value pair = loadReadOnly(nb, i32, byteAddress(nb, scales, arith::MulIOp::create(
                                                                   nb, index, constI64(nb, 2))),
                                4);
      raw.push_back(andI(nb, pair, 0xffff));
      raw.push_back(shrU(nb, pair, 16));
    } else {
      raw.push_back(scaleBits(nb, row, first));
      raw.push_back(scaleBits(nb, row, arith::AddIOp::create(nb, first, constI32(nb, 1))));
    }
    if (q6)
      raw.push_back(shlI(nb, half, 1)); // the half's high-bit pair within a byte
    return raw;
  };
  format.decodePlane = [&](ImplicitLocOpBuilder &nb, llvm::ArrayRef<Value> raw, int64_t plane) {
    llvm::SmallVector<Value> codes;
    for (int64_t m = 0; m < 4; ++m) {
      if (q8) {
        codes.push_back(raw[m]);
        continue;
      }
      Value u = andI(nb, shrU(nb, raw[m], 4 * plane), 0x0f0f0f0f);
      if (q6) {
        // Byte x of high word m holds the top two bits of weights 16 p + 4 m + x in bits
        // 2p..2p+1, p = 2 * plane + half.
        Value shift = arith::AddIOp::create(nb, raw[10], constI32(nb, 4 * plane));
        Value top = andI(nb, arith::ShRUIOp::create(nb, raw[4 + m], shift), 0x03030303);
        u = arith::OrIOp::create(nb, u, shlI(nb, top, 4));
      }
      codes.push_back(u);
    }
    return codes;
  };
  if (!q8)
    format.prepare = [&](ImplicitLocOpBuilder &nb, llvm::ArrayRef<Value> act, int64_t) {
      // -offset * sum(q) over the plane: the unsigned codes carry +8 (q4) or +32 (q6).
      Value minusOffset = constI32(nb, q6 ? int32_t(0xe0e0e0e0u) : int32_t(0xf8f8f8f8u));
      Value sum = constI32(nb, 0);
      for (Value word : act)
        sum = dp4a(nb, minusOffset, true, word, true, sum);
      return sum;
    };
  format.dot = [&](ImplicitLocOpBuilder &nb, Value acc, llvm::ArrayRef<Value> codes,
                   llvm::ArrayRef<Value> raw, llvm::ArrayRef<Value> act, Value prepared,
                   int64_t plane) {
    Value dot = prepared ? prepared : constI32(nb, 0);
    for (int64_t m = 0; m < 4; ++m)
      dot = dp4a(nb, codes[m], /*aSigned=*/q8, act[m], /*bSigned=*/true, dot);
    Value d = halfBitsToF32(nb, raw[4 * (q6 ? 2 : 1) + plane]);
    return LLVM::FMAOp::create(nb, arith::SIToFPOp::create(nb, f32, dot), d, acc).getResult();
  };
  format.finish = [&](ImplicitLocOpBuilder &nb, Value acc, Value t, Value, Value) {
    Value qs = load(nb, f32, elementAddress(nb, qscale, f32, t), 4);
    return arith::DivFOp::create(nb, acc, qs).getResult();
  };
  format.weightRows = weights;
  format.weightRowBytes = rowBytes;
  emitRowDotKernel(fn, b, args, format, q, y, target);
  return success();
}

} // namespace tern::gpu
