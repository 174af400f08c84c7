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
#include "codegen/GPU/NormMath.h"
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
  const TernaryMmaShape mma = mmaShapeOf(*p);
  if (maxRows <= 1 || !ternaryMmaApplies(mma))
    return rowDotLaunch(shapeOf(*p), maxRows);
  // Decode's blocks, or the tensor-core tiles of prefill (both 128 threads).
  LaunchShape launch = rowDotLaunch(shapeOf(*p), 1);
  launch.grid[0] = uint32_t(std::max<int64_t>(launch.grid[0], ternaryMmaBlocks(mma, maxRows)));
  return launch;
}

namespace {

// What every ternary_matmul kernel shares: the i2_b128 chunk loads, the code planes and the
// dp4a dots; finish() scales the exact dot by the row's weight scale and the activation scale
// |activationScale| returns for activation row t.
RowDotFormat ternaryFormat(const TernaryParams &p, Value weights, Value wscale,
                           std::function<Value(ImplicitLocOpBuilder &, Value t)> activationScale) {
  const int64_t rowBytes = packing::packedRowBytes(packing::TernaryLayout::I2B128, p.k);
  RowDotFormat format;
  format.shape = shapeOf(p);
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
  format.loadChunk = [weights, rowBytes](ImplicitLocOpBuilder &nb, Value row, Value chunk) {
    Value offset = arith::AddIOp::create(
        nb, arith::MulIOp::create(nb, toI64(nb, row), constI64(nb, rowBytes)),
        toI64(nb, shlI(nb, chunk, 4)));
    Value v = loadReadOnly(nb, VectorType::get({4}, nb.getI32Type()),
                           byteAddress(nb, weights, offset), 16);
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
  const bool divide = p.divide;
  format.finish = [wscale, divide, activationScale](ImplicitLocOpBuilder &nb, Value acc, Value t,
                                                    Value j, Value sum) {
    // acc - sum is the exact dot; its conversion is exact too while 127 * k < 2^24.
    Type f32 = nb.getF32Type();
    Value dot = arith::SIToFPOp::create(nb, f32, arith::SubIOp::create(nb, acc, sum));
    Value ws = load(nb, f32, elementAddress(nb, wscale, f32, j), 4);
    Value qs = activationScale(nb, t);
    Value scaled = divide ? Value(arith::DivFOp::create(nb, dot, ws))
                          : Value(arith::MulFOp::create(nb, dot, ws));
    return arith::DivFOp::create(nb, scaled, qs).getResult();
  };
  format.weightRows = weights;
  format.weightRowBytes = rowBytes;
  format.rowScales = wscale;
  return format;
}

Value loadF32(ImplicitLocOpBuilder &b, Value base, Value index) {
  return load(b, b.getF32Type(), elementAddress(b, base, b.getF32Type(), index), 4);
}

// ternary_matmul_residual_stats's work after the outputs (NormStatsKernelSpecs.h): each
// row's owner adds the residual and stores the sum; the block sums the squares (f64) and
// takes max |sum * w| over its rows, and one thread adds them to the record with reductions
// in L2. Block 0 also zeroes the record of the previous site, whose consumer is done.
void emitResidualStats(mlir::gpu::GPUFuncOp fn, ImplicitLocOpBuilder &b, int64_t n, int64_t warps,
                       Value y, Value j, Value owner, Value residual, Value normWeight, Value sum,
                       Value stats, Value clear) {
  Type f32 = b.getF32Type(), f64 = b.getF64Type(), i32 = b.getI32Type();
  Value row = toI64(b, arith::MinSIOp::create(b, j, constI32(b, n - 1)));
  // The residual may be the sum's own storage: each element is read before its owner writes.
  Value s = arith::AddFOp::create(b, y, loadF32(b, residual, row));
  ifThen(b, owner, [&](ImplicitLocOpBuilder &sb) {
    store(sb, s, elementAddress(sb, sum, f32, row), 4);
  });
  Value wide = arith::ExtFOp::create(b, f64, s);
  Value square = arith::SelectOp::create(b, owner, arith::MulFOp::create(b, wide, wide),
                                         constF64(b, 0.0));
  Value weighted = absF(b, arith::MulFOp::create(
                               b, s, loadReadOnly(b, f32, elementAddress(b, normWeight, f32, row), 4)));
  Value largest = arith::SelectOp::create(b, owner, weighted, constF32(b, 0.0));
  square = warpReduceAddF64(b, square);
  largest = warpReduceMax(b, largest);

  Value squares = sharedArray(b, fn, "stats_squares", f64, warps);
  Value maxima = sharedArray(b, fn, "stats_maxima", f32, warps);
  Value tid = threadIdX(b);
  Value warp = shrU(b, tid, 5);
  Value laneZero = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, andI(b, tid, 31),
                                         constI32(b, 0));
  ifThen(b, laneZero, [&](ImplicitLocOpBuilder &wb) {
    store(wb, square, elementAddress(wb, squares, f64, warp), 8);
    store(wb, largest, elementAddress(wb, maxima, f32, warp), 4);
  });
  barrier(b);
  Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, constI32(b, 0));
  ifThen(b, first, [&](ImplicitLocOpBuilder &tb) {
    Value total = constF64(tb, 0.0), most = constF32(tb, 0.0);
    for (int64_t w = 0; w < warps; ++w) {
      total = arith::AddFOp::create(
          tb, total, load(tb, f64, elementAddress(tb, squares, f64, constI32(tb, w)), 8));
      most = maxF(tb, most, load(tb, f32, elementAddress(tb, maxima, f32, constI32(tb, w)), 4));
    }
    reduceAddF64(tb, stats, total);
    reduceMaxU32(tb, byteAddress(tb, stats, constI64(tb, 8)),
                 arith::BitcastOp::create(tb, i32, most));
    Value blockZero =
        arith::CmpIOp::create(tb, arith::CmpIPredicate::eq, blockIdX(tb), constI32(tb, 0));
    ifThen(tb, blockZero, [&](ImplicitLocOpBuilder &cb) {
      store(cb, constI64(cb, 0), clear, 8);
      store(cb, constI64(cb, 0), byteAddress(cb, clear, constI64(cb, 8)), 8);
    });
  });
}

// Four codes packed in a word, code 0 in the low byte.
Value packCodes(ImplicitLocOpBuilder &b, llvm::ArrayRef<Value> codes) {
  Value word = constI32(b, 0);
  for (size_t i = 0; i < codes.size(); ++i)
    word = arith::OrIOp::create(
        b, word, shlI(b, arith::ExtUIOp::create(b, b.getI32Type(), codes[i]), int64_t(8 * i)));
  return word;
}

// The 8 values a word of codes is made from: x[e .. e + 3] of the row at |rowStart|, then
// w[e .. e + 3], one 16-byte load each (x and w are 16-byte aligned and k a multiple of 4;
// the kernel checks the pointers); an invalid word reads element 0.
llvm::SmallVector<Value> loadQuadValues(ImplicitLocOpBuilder &b, Value x, Value w,
                                        Value rowStart, Value e, Value valid) {
  Type f32 = b.getF32Type();
  auto quad = VectorType::get({4}, f32);
  Value at = arith::SelectOp::create(b, valid, e, constI32(b, 0));
  Value xs = load(b, quad, elementAddress(b, x, f32, arith::AddIOp::create(b, rowStart, toI64(b, at))), 16);
  Value ws = loadReadOnly(b, quad, elementAddress(b, w, f32, at), 16);
  llvm::SmallVector<Value> raw;
  for (Value v : {xs, ws})
    for (int64_t i = 0; i < 4; ++i)
      raw.push_back(extractLane(b, v, i));
  return raw;
}

// The word of 4 codes from its values (loadQuadValues): x * inv * w at scale |s|, or zero.
Value codeQuadValues(ImplicitLocOpBuilder &b, llvm::ArrayRef<Value> raw, Value valid, Value inv,
                     Value s) {
  llvm::SmallVector<Value> codes;
  for (int64_t i = 0; i < 4; ++i)
    codes.push_back(codeOf(b, normalized(b, raw[size_t(i)], Value(), inv, raw[size_t(4 + i)], Value()), s));
  return arith::SelectOp::create(b, valid, packCodes(b, codes), constI32(b, 0));
}

// Where activation e (a multiple of 4) is staged in a tile of |slice| chunks: plane s of chunk
// c (half c % 2 of 128-weight block c / 2) holds activations 128 (c / 2) + 32 s + 16 (c % 2)
// .. + 15, at byte 16 (s * slice + c) of the tile (the inverse of pieceStart).
Value stagedByteOf(ImplicitLocOpBuilder &b, Value e, int64_t slice) {
  Value block = shrU(b, e, 7);
  Value plane = andI(b, shrU(b, e, 5), 3);
  Value half = andI(b, shrU(b, e, 4), 1);
  Value chunk = arith::AddIOp::create(b, shlI(b, block, 1), half);
  Value piece = arith::AddIOp::create(
      b, arith::MulIOp::create(b, plane, constI32(b, slice)), chunk);
  return arith::AddIOp::create(b, shlI(b, piece, 4), andI(b, e, 15));
}

} // namespace

namespace {
// The decode-only families run one row: the decode blocks of ternary_matmul.
llvm::Expected<LaunchShape> launchDecodeOnly(const KernelSpec &spec, int64_t maxRows,
                                             const GpuTarget &target) {
  if (maxRows > 1)
    return llvm::createStringError("%s runs one row (a decode step); its entry point has up "
                                   "to %lld",
                                   spec.family.c_str(), (long long)maxRows);
  return launchTernaryMatmul(spec, 1, target);
}
} // namespace

llvm::Expected<LaunchShape> launchTernaryMatmulResidualStats(const KernelSpec &spec,
                                                             int64_t maxRows,
                                                             const GpuTarget &target) {
  return launchDecodeOnly(spec, maxRows, target);
}

llvm::Expected<LaunchShape> launchRmsNormStatsTernaryMatmul(const KernelSpec &spec,
                                                            int64_t maxRows,
                                                            const GpuTarget &target) {
  return launchDecodeOnly(spec, maxRows, target);
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
  RowDotFormat format = ternaryFormat(p, weights, wscale, [qscale](ImplicitLocOpBuilder &nb, Value t) {
    return loadF32(nb, qscale, t);
  });
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

LogicalResult generateTernaryMatmulResidualStats(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                                 const GpuTarget &target) {
  auto parsed = parse(spec);
  if (!parsed)
    return gpuKernelError(fn, spec, llvm::toString(parsed.takeError()));
  const TernaryParams p = *parsed;
  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  llvm::ArrayRef<Value> in = args.bindings;
  Value q = in[0], qscale = in[1], y = in[4];
  RowDotFormat format = ternaryFormat(p, in[2], in[3], [qscale](ImplicitLocOpBuilder &nb, Value t) {
    return loadF32(nb, qscale, t);
  });
  format.decodeOnly = true;
  const int64_t warps = planRowDot(format.shape).warps;
  format.decodeEpilogue = [&](ImplicitLocOpBuilder &nb, Value out, Value j, Value owner) {
    // Bindings 5..10: residual, w, sum, stats, clear.
    emitResidualStats(fn, nb, p.n, warps, out, j, owner, in[5], in[6], in[7], in[8], in[9]);
  };
  emitRowDotKernel(fn, b, args, format, q, y, target);
  return success();
}

LogicalResult generateRmsNormStatsTernaryMatmul(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                                const GpuTarget &target) {
  auto parsed = parse(spec);
  if (!parsed)
    return gpuKernelError(fn, spec, llvm::toString(parsed.takeError()));
  const TernaryParams p = *parsed;
  // The reference takes eps as a float and adds it in double.
  const double eps = double(float(spec.getFloat("eps")));
  if (!(eps >= 0))
    return gpuKernelError(fn, spec, "parameter 'eps' must be a non-negative number");
  if (p.k % 4 != 0 || planRowDot(shapeOf(p)).decodeSlice != shapeOf(p).chunks)
    return gpuKernelError(fn, spec, "quantizes rows whose k is a multiple of 4 and that fit one "
                                    "staging slice, got k = " + llvm::Twine(p.k));
  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Value x = args.bindings[0], normWeight = args.bindings[1], stats = args.bindings[2],
        y = args.bindings[5];
  // Set by the decode prologue (after the wait) and the staging, read by what follows them.
  Value sumSquares, maxAbs, inv, scale;
  RowDotFormat format = ternaryFormat(p, args.bindings[3], args.bindings[4],
                                      [&scale](ImplicitLocOpBuilder &, Value) { return scale; });
  format.decodeOnly = true;
  const int64_t threads = planRowDot(format.shape).warps * 32;
  format.extraPrefetches = [&](ImplicitLocOpBuilder &pb) {
    // The norm's weight vector into L1: every block reads all of it while staging.
    const int64_t lines = (p.k * 4 + 127) / 128;
    forLoop(pb, threadIdX(pb), constI32(pb, lines), constI32(pb, int64_t(threads)), {},
            [&](ImplicitLocOpBuilder &lb, Value line, ValueRange) -> llvm::SmallVector<Value> {
              prefetchToL1(lb, byteAddress(lb, normWeight, toI64(lb, shlI(lb, line, 7))));
              return {};
            });
  };
  format.decodePrologue = [&](ImplicitLocOpBuilder &nb) {
    // The record's loads go out first; their arithmetic waits until the row's loads are out.
    // The words are read 16 bytes at a time: a misaligned row stops the kernel rather than
    // read wrong data (the program builder's rows and weight sections are aligned).
    ifThen(nb, arith::XOrIOp::create(nb, pointersAligned(nb, {x, normWeight}, 16),
                                     arith::ConstantOp::create(nb, nb.getI1Type(), nb.getBoolAttr(true))),
           [](ImplicitLocOpBuilder &tb) { emitTrap(tb); });
    sumSquares = load(nb, nb.getF64Type(), stats, 8);
    maxAbs = arith::BitcastOp::create(
        nb, nb.getF32Type(), load(nb, nb.getI32Type(), byteAddress(nb, stats, constI64(nb, 8)), 4));
  };
  format.loadQuad = [&](ImplicitLocOpBuilder &lb, Value rowStart, Value e, Value valid) {
    return loadQuadValues(lb, x, normWeight, rowStart, e, valid);
  };
  format.beforeCoding = [&](ImplicitLocOpBuilder &nb) {
    inv = inverseRms(nb, sumSquares, p.k, eps);
    scale = quantizeScale(nb, arith::MulFOp::create(nb, maxAbs, inv));
  };
  format.codeQuad = [&](ImplicitLocOpBuilder &lb, llvm::ArrayRef<Value> raw, Value valid) {
    return codeQuadValues(lb, raw, valid, inv, scale);
  };
  format.stagedByte = stagedByteOf;
  emitRowDotKernel(fn, b, args, format, x, y, target);
  return success();
}

} // namespace tern::gpu
