// matmul on NVIDIA GPUs: f32 activations (rows with a stride) against f32, f16, bf16 or q8_0
// weights, y = x W^T with f32 FMA accumulation.
//
// The row-dot skeleton (emitRowDotKernel) streams weight rows in chunks: 16 bytes (8 f16 or
// bf16, 4 f32) where k allows vector loads, else single elements; one q8_0 block (34 bytes,
// 2-byte aligned, so seventeen 2-byte loads) for q8_0. Activations are staged in shared memory
// as f32, in planes of up to 4 values per chunk, so a lane's plane is one shared-memory load
// and the lanes of a group read consecutive words. The lm_head (128256 x 2560 in f16) at
// decode is a GEMV that streams 656 MB: one warp per row, 16-byte loads, 8 in flight per lane.
#include "codegen/GPU/GPURowDot.h"
#include "codegen/GPU/GPUKernelGenerators.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace tern::gpu {

using namespace mlir;

namespace {

enum class DType { F32, F16, BF16, Q8_0 };

constexpr int64_t kQ8Block = 32;      // weights per q8_0 block
constexpr int64_t kQ8BlockBytes = 34; // f16 scale + 32 int8

struct MatmulParams {
  int64_t n = 0, k = 0, xStride = 0;
  DType dtype = DType::F32;
  int64_t elementBytes = 4;
  int64_t vector = 1; // weights per chunk
};

llvm::Expected<MatmulParams> parse(const KernelSpec &spec) {
  MatmulParams p;
  p.n = spec.getInt("n");
  p.k = spec.getInt("k");
  p.xStride = spec.getInt("x_stride", p.k);
  if (p.n <= 0 || p.k <= 0)
    return llvm::createStringError("matmul: parameters 'n' (%lld) and 'k' (%lld) must be positive",
                                   (long long)p.n, (long long)p.k);
  if (p.n >= (int64_t(1) << 31) || p.k >= (int64_t(1) << 30))
    return llvm::createStringError("matmul: n x k = %lld x %lld is beyond 32-bit indices",
                                   (long long)p.n, (long long)p.k);
  if (p.xStride < p.k)
    return llvm::createStringError("matmul: parameter 'x_stride' (%lld) is less than k (%lld)",
                                   (long long)p.xStride, (long long)p.k);
  const std::string dtype = spec.getString("dtype", "f32");
  if (dtype == "f32")
    p.dtype = DType::F32;
  else if (dtype == "f16")
    p.dtype = DType::F16;
  else if (dtype == "bf16")
    p.dtype = DType::BF16;
  else if (dtype == "q8_0")
    p.dtype = DType::Q8_0;
  else
    return llvm::createStringError("matmul: parameter 'dtype' is '%s'; expected f32, f16, bf16 "
                                   "or q8_0",
                                   dtype.c_str());
  if (p.dtype == DType::Q8_0) {
    if (p.k % kQ8Block)
      return llvm::createStringError("matmul: q8_0 weights need k to be a multiple of 32, got %lld",
                                     (long long)p.k);
    p.vector = kQ8Block;
    return p;
  }
  p.elementBytes = p.dtype == DType::F32 ? 4 : 2;
  // The widest load of at most 16 bytes that every row start keeps aligned (sections are
  // 64-byte aligned, rows are k elements).
  p.vector = 16 / p.elementBytes;
  while (p.k % p.vector)
    p.vector /= 2;
  return p;
}

RowDotShape shapeOf(const MatmulParams &p) {
  RowDotShape shape;
  shape.n = p.n;
  shape.chunks = p.k / p.vector;
  const int64_t planeFloats = std::min<int64_t>(4, p.vector);
  shape.planes = p.vector / planeFloats;
  shape.planeBytes = planeFloats * 4;
  return shape;
}

} // namespace

llvm::Expected<LaunchShape> launchMatmul(const KernelSpec &spec, int64_t maxRows,
                                         const GpuTarget &) {
  auto p = parse(spec);
  if (!p)
    return p.takeError();
  auto shape = withOneRowParam(spec, shapeOf(*p));
  if (!shape)
    return shape.takeError();
  return rowDotLaunch(*shape, maxRows);
}

LogicalResult generateMatmul(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                             const GpuTarget &target) {
  auto parsed = parse(spec);
  if (!parsed)
    return gpuKernelError(fn, spec, llvm::toString(parsed.takeError()));
  const MatmulParams p = *parsed;
  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Value x = args.bindings[0], weights = args.bindings[1], y = args.bindings[2];
  Type i16 = b.getI16Type(), i32 = b.getI32Type(), f32 = b.getF32Type();
  auto oneRowShape = withOneRowParam(spec, shapeOf(p));
  if (!oneRowShape)
    return gpuKernelError(fn, spec, llvm::toString(oneRowShape.takeError()));
  const RowDotShape shape = *oneRowShape;
  const int64_t planeFloats = shape.planeBytes / 4;

  RowDotFormat format;
  format.shape = shape;
  format.k = p.k;
  format.actRowStride = p.xStride;
  format.intActivations = false;
  format.intAccumulator = false;
  format.pieceStart = [&](ImplicitLocOpBuilder &nb, Value chunk, Value plane) {
    return arith::AddIOp::create(nb, arith::MulIOp::create(nb, chunk, constI32(nb, p.vector)),
                                 arith::MulIOp::create(nb, plane, constI32(nb, planeFloats)))
        .getResult();
  };
  format.loadChunk = [&](ImplicitLocOpBuilder &nb, Value row, Value chunk) {
    llvm::SmallVector<Value> raw;
    Value row64 = toI64(nb, row), chunk64 = toI64(nb, chunk);
    if (p.dtype == DType::Q8_0) {
      Value block = arith::AddIOp::create(
          nb, arith::MulIOp::create(nb, row64, constI64(nb, p.k / kQ8Block)), chunk64);
      Value base = byteAddress(nb, weights, arith::MulIOp::create(nb, block, constI64(nb, kQ8BlockBytes)));
      for (int64_t h = 0; h < kQ8BlockBytes / 2; ++h)
        raw.push_back(loadReadOnly(nb, i16, byteAddress(nb, base, constI64(nb, 2 * h)), 2));
      return raw;
    }
    Value element = arith::AddIOp::create(
        nb, arith::MulIOp::create(nb, row64, constI64(nb, p.k)),
        arith::MulIOp::create(nb, chunk64, constI64(nb, p.vector)));
    Value address = byteAddress(nb, weights, arith::MulIOp::create(nb, element, constI64(nb, p.elementBytes)));
    const int64_t bytes = p.vector * p.elementBytes;
    if (bytes < 4) { // one f16 / bf16
      raw.push_back(loadReadOnly(nb, i16, address, 2));
      return raw;
    }
    if (bytes == 4) {
      raw.push_back(loadReadOnly(nb, i32, address, 4));
      return raw;
    }
    Value v = loadReadOnly(nb, VectorType::get({bytes / 4}, i32), address, unsigned(bytes));
    for (int64_t w = 0; w < bytes / 4; ++w)
      raw.push_back(LLVM::ExtractElementOp::create(nb, v, constI32(nb, w)));
    return raw;
  };
  format.decodePlane = [&](ImplicitLocOpBuilder &nb, llvm::ArrayRef<Value> raw, int64_t plane) {
    llvm::SmallVector<Value> w;
    if (p.dtype == DType::Q8_0) {
      // The reference decodes d * float(code), rounded once: the same product here.
      Value d = halfBitsToF32(nb, raw[0]);
      for (int64_t e = 4 * plane; e < 4 * plane + 4; ++e) {
        Value pair = raw[1 + e / 2];
        Value byte = arith::TruncIOp::create(nb, nb.getI8Type(), shrU(nb, pair, 8 * (e % 2)));
        w.push_back(arith::MulFOp::create(nb, d, arith::SIToFPOp::create(nb, f32, byte)));
      }
      return w;
    }
    for (int64_t e = plane * planeFloats; e < (plane + 1) * planeFloats; ++e) {
      switch (p.dtype) {
      case DType::F32:
        w.push_back(arith::BitcastOp::create(nb, f32, raw[e]));
        break;
      case DType::F16: {
        Value word = raw[e * 2 / 4];
        w.push_back(halfBitsToF32(nb, word.getType().isInteger(16) ? word
                                                                    : shrU(nb, word, 16 * (e % 2))));
        break;
      }
      case DType::BF16: {
        // bf16 is the top half of an f32.
        Value word = raw[e * 2 / 4];
        Value bits = word.getType().isInteger(16)
                         ? shlI(nb, arith::ExtUIOp::create(nb, i32, word), 16)
                         : (e % 2 ? andI(nb, word, int64_t(int32_t(0xffff0000u)))
                                  : shlI(nb, word, 16));
        w.push_back(arith::BitcastOp::create(nb, f32, bits));
        break;
      }
      case DType::Q8_0:
        break;
      }
    }
    return w;
  };
  format.dot = [](ImplicitLocOpBuilder &nb, Value acc, llvm::ArrayRef<Value> w,
                  llvm::ArrayRef<Value>, llvm::ArrayRef<Value> xs, Value, int64_t) {
    for (size_t e = 0; e < w.size(); ++e)
      acc = LLVM::FMAOp::create(nb, w[e], xs[e], acc);
    return acc;
  };
  format.finish = [](ImplicitLocOpBuilder &, Value acc, Value, Value, Value) { return acc; };
  format.weightRows = weights;
  format.weightRowBytes =
      p.dtype == DType::Q8_0 ? p.k / kQ8Block * kQ8BlockBytes : p.k * p.elementBytes;
  emitRowDotKernel(fn, b, args, format, x, y, target);
  return success();
}

} // namespace tern::gpu
