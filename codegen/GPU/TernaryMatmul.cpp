// ternary_matmul on NVIDIA GPUs: i2_b128 weights against int8 activations with dp4a.
//
// A 16-byte chunk of an i2_b128 row (half of a 32-byte block b) holds, in its 32-bit word w,
// the value + 1 codes of weights 128 b + 32 s + 16 h + 4 w .. + 3 in bits 2s..2s+1 of each
// byte (h the chunk's half). One shift and one mask per slot s give four unsigned bytes, the
// operand of one dp4a against the four int8 activations at those positions; the +1 offset
// leaves sum(q) in the dot, taken off once per activation row (the skeleton stages that sum).
// The skeleton (emitRowDotKernel) stages activations in four planes per chunk, plane s
// holding activations 128 b + 32 s + 16 h .. + 15, so each slot's words are one 16-byte
// shared-memory load. Decode streams the 2-bit weights with 16-byte read-only loads, one
// lane group per weight row. Prefill runs on int8 tensor cores (TernaryMma.cpp) when rows
// are whole 128-weight blocks, else on the skeleton's dp4a tiles, which reuse each chunk for
// several activation rows and each activation word for several weight rows. The dot is
// exact in int32; the scales apply once.
#include "codegen/GPU/GPURowDot.h"
#include "codegen/GPU/GPUKernelGenerators.h"
#include "codegen/GPU/TernaryMma.h"

#include "packing/TernaryPacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <algorithm>

namespace tern::gpu {

using namespace mlir;

namespace {

constexpr int64_t kBlockWeights = 128; // i2_b128
constexpr int64_t kChunkWeights = 64;  // a 16-byte chunk: 4 slots x 16 bytes

struct TernaryParams {
  int64_t n = 0, k = 0, paddedK = 0;
  bool divide = false;
};

llvm::Expected<TernaryParams> parse(const KernelSpec &spec) {
  TernaryParams p;
  p.n = spec.getInt("n");
  p.k = spec.getInt("k");
  if (p.n <= 0 || p.k <= 0)
    return llvm::createStringError("ternary_matmul: parameters 'n' (%lld) and 'k' (%lld) must "
                                   "be positive",
                                   (long long)p.n, (long long)p.k);
  if (p.n >= (int64_t(1) << 31) || p.k >= (int64_t(1) << 30))
    return llvm::createStringError("ternary_matmul: n x k = %lld x %lld is beyond 32-bit indices",
                                   (long long)p.n, (long long)p.k);
  const std::string packing = spec.getString("packing");
  if (packing != "i2_b128")
    return llvm::createStringError("ternary_matmul: parameter 'packing' is '%s'; the GPU kernels "
                                   "read i2_b128 (run tern-select-packing for a GPU target)",
                                   packing.c_str());
  const int64_t divide = spec.getInt("divide_by_scale", 0);
  if (divide != 0 && divide != 1)
    return llvm::createStringError("ternary_matmul: parameter 'divide_by_scale' is %lld, "
                                   "expected 0 or 1",
                                   (long long)divide);
  p.divide = divide == 1;
  p.paddedK = (p.k + kBlockWeights - 1) / kBlockWeights * kBlockWeights;
  return p;
}

RowDotShape shapeOf(const TernaryParams &p) {
  RowDotShape shape;
  shape.n = p.n;
  shape.chunks = p.paddedK / kChunkWeights;
  shape.planes = 4;
  shape.planeBytes = 16;
  return shape;
}

TernaryMmaShape mmaShapeOf(const TernaryParams &p) {
  return {p.n, p.k, packing::packedRowBytes(packing::TernaryLayout::I2B128, p.k)};
}

} // namespace

llvm::Expected<LaunchShape> launchTernaryMatmul(const KernelSpec &spec, int64_t maxRows,
                                                const GpuTarget &) {
  auto p = parse(spec);
  if (!p)
    return p.takeError();
  auto shape = withOneRowParam(spec, shapeOf(*p));
  if (!shape)
    return shape.takeError();
  const TernaryMmaShape mma = mmaShapeOf(*p);
  if (maxRows <= 1 || shape->oneRow || !ternaryMmaApplies(mma))
    return rowDotLaunch(*shape, maxRows);
  // Decode's blocks, or the tensor-core tiles of prefill (both 128 threads).
  auto decodeLaunch = rowDotLaunch(*shape, 1);
  if (!decodeLaunch)
    return decodeLaunch.takeError();
  LaunchShape launch = *decodeLaunch;
  launch.grid[0] = uint32_t(std::max<int64_t>(launch.grid[0], ternaryMmaBlocks(mma, maxRows)));
  return launch;
}

LogicalResult generateTernaryMatmul(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                    const GpuTarget &target) {
  auto parsed = parse(spec);
  if (!parsed)
    return gpuKernelError(fn, spec, llvm::toString(parsed.takeError()));
  const TernaryParams p = *parsed;
  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Value q = args.bindings[0], qscale = args.bindings[1], weights = args.bindings[2],
        wscale = args.bindings[3], y = args.bindings[4];
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  const int64_t rowBytes = packing::packedRowBytes(packing::TernaryLayout::I2B128, p.k);

  RowDotFormat format;
  auto shape = withOneRowParam(spec, shapeOf(p));
  if (!shape)
    return gpuKernelError(fn, spec, llvm::toString(shape.takeError()));
  format.shape = *shape;
  format.k = p.k;
  format.actRowStride = p.k;
  format.intActivations = true;
  format.actAligned16 = p.k % 16 == 0;
  format.intAccumulator = true;
  format.activationSums = true;
  format.pieceStart = [](ImplicitLocOpBuilder &nb, Value chunk, Value plane) {
    // Chunk c is half c % 2 of block c / 2; plane s holds slot s's 16 activations.
    Value block = shlI(nb, shrU(nb, chunk, 1), 7);
    Value half = shlI(nb, andI(nb, chunk, 1), 4);
    return arith::AddIOp::create(nb, arith::AddIOp::create(nb, block, half),
                                 shlI(nb, plane, 5))
        .getResult();
  };
  format.loadChunk = [&](ImplicitLocOpBuilder &nb, Value row, Value chunk) {
    Value offset = arith::AddIOp::create(
        nb, arith::MulIOp::create(nb, toI64(nb, row), constI64(nb, rowBytes)),
        toI64(nb, shlI(nb, chunk, 4)));
    Value v = loadReadOnly(nb, VectorType::get({4}, i32), byteAddress(nb, weights, offset), 16);
    llvm::SmallVector<Value> words;
    for (int64_t w = 0; w < 4; ++w)
      words.push_back(LLVM::ExtractElementOp::create(nb, v, constI32(nb, w)));
    return words;
  };
  format.decodePlane = [](ImplicitLocOpBuilder &nb, llvm::ArrayRef<Value> raw, int64_t slot) {
    llvm::SmallVector<Value> codes;
    for (Value word : raw)
      codes.push_back(andI(nb, shrU(nb, word, 2 * slot), 0x03030303));
    return codes;
  };
  format.dot = [](ImplicitLocOpBuilder &nb, Value acc, llvm::ArrayRef<Value> codes,
                  llvm::ArrayRef<Value>, llvm::ArrayRef<Value> act, Value, int64_t) {
    for (size_t w = 0; w < codes.size(); ++w)
      acc = dp4a(nb, codes[w], /*aSigned=*/false, act[w], /*bSigned=*/true, acc);
    return acc;
  };
  format.finish = [&](ImplicitLocOpBuilder &nb, Value acc, Value t, Value j, Value sum) {
    // acc - sum is the exact dot; its conversion is exact too while 127 * k < 2^24.
    Value dot = arith::SIToFPOp::create(nb, f32, arith::SubIOp::create(nb, acc, sum));
    Value ws = load(nb, f32, elementAddress(nb, wscale, f32, j), 4);
    Value qs = load(nb, f32, elementAddress(nb, qscale, f32, t), 4);
    Value scaled = p.divide ? Value(arith::DivFOp::create(nb, dot, ws))
                            : Value(arith::MulFOp::create(nb, dot, ws));
    return arith::DivFOp::create(nb, scaled, qs).getResult();
  };
  format.weightRows = weights;
  format.weightRowBytes = rowBytes;
  format.rowScales = wscale;
  const TernaryMmaShape mma = mmaShapeOf(p);
  if (ternaryMmaApplies(mma))
    format.prefill = [&](ImplicitLocOpBuilder &nb, Value bid) {
      emitTernaryMmaPrefill(nb, mma, bid, args.rows, q, weights, y,
                            [&](ImplicitLocOpBuilder &fb, Value dot, Value t, Value j) {
                              return format.finish(fb, dot, t, j, constI32(fb, 0));
                            });
    };
  emitRowDotKernel(fn, b, args, format, q, y, target);
  return success();
}

} // namespace tern::gpu
