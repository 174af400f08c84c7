// matmul: y = x W^T with float weights (f32, f16, bf16 or q8_0 blocks) and f32 FMA vectors.
//
// A work item is a block of n_block output columns. A register tile of RT activation rows x NT
// weight rows shares every load (x loaded once per NT rows, W once per RT rows); lanes hold
// partial sums along k and are reduced once per output. f16 uses vcvtph2ps where the target has
// F16C and exact integer bit conversion on the baseline (which would otherwise call
// compiler-rt); q8_0 sums each 32-weight block unscaled, then applies the block's f16 scale.
//
// Decode reads each weight once, so the float GEMV is a stream: the NT rows of a tile are NT
// short concurrent streams (5 KiB each for an f16 row of 2560) that the hardware prefetchers
// pick up too late, which held the 2B-4T shape's F16 lm_head to ~16 GB/s. The tiles of a work
// item read one contiguous range in order, so each k step prefetches that range a fixed
// distance ahead of the tile's last row into L2, as the quantized GEMV does: ~16 -> ~22 GB/s
// at 1 thread on Zen 4 (8 KiB ahead measured ~2% better than 4 KiB).
#include "codegen/CPU/Bindings.h"
#include "codegen/CPU/KernelBuilder.h"
#include "codegen/CPU/KernelGenerators.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace tern::cpu {

using namespace mlir;

namespace {

enum class WeightType { F32, F16, BF16, Q8_0 };

constexpr int64_t kQ8Block = 32;      // weights per q8_0 block
constexpr int64_t kQ8BlockBytes = 34; // f16 scale + 32 int8
constexpr int64_t kCacheLine = 64;
constexpr int64_t kPrefetchLead = 8192; // bytes ahead of the tile's last row

struct MatmulParams {
  int64_t n, k, nBlock, xStride, lanes;
  WeightType dtype;
  bool f16c;
};

class MatmulEmitter {
public:
  MatmulEmitter(const MatmulParams &p, Value x, Value w, Value wPtr, Value y)
      : p(p), x(x), w(w), wPtr(wPtr), y(y) {}

  // Weight row |row|'s values k0 .. k0 + lanes - 1 as f32 (f32, f16, bf16 layouts).
  Value loadWeights(ImplicitLocOpBuilder &b, Value row, Value k0, int64_t lanes) const {
    Value at = arith::AddIOp::create(b, arith::MulIOp::create(b, row, constIndex(b, p.k)), k0);
    Value raw = loadVector(b, w, at, lanes);
    switch (p.dtype) {
    case WeightType::F32:
      return raw;
    case WeightType::F16:
      if (p.f16c)
        return extF(
            b, VectorType::get({lanes}, b.getF32Type()),
            vector::BitCastOp::create(b, VectorType::get({lanes}, b.getF16Type()), raw));
      return halfBitsToF32(b, raw);
    case WeightType::BF16:
      return bf16BitsToF32(b, raw);
    case WeightType::Q8_0:
      break;
    }
    llvm_unreachable("q8_0 is read block by block");
  }

  Value loadX(ImplicitLocOpBuilder &b, Value row, Value k0, int64_t lanes) const {
    Value at =
        arith::AddIOp::create(b, arith::MulIOp::create(b, row, constIndex(b, p.xStride)), k0);
    return loadVector(b, x, at, lanes);
  }

  // Output columns j .. j + nt - 1 for activation rows t .. t + rt - 1.
  void emitTile(ImplicitLocOpBuilder &b, Value t, Value j, int64_t rt, int64_t nt) const {
    Type f32 = b.getF32Type();
    auto vecType = VectorType::get({p.lanes}, f32);
    SmallVector<Value> rows(rt), cols(nt);
    for (int64_t r = 0; r < rt; ++r)
      rows[r] = arith::AddIOp::create(b, t, constIndex(b, r));
    for (int64_t c = 0; c < nt; ++c)
      cols[c] = arith::AddIOp::create(b, j, constIndex(b, c));

    SmallVector<Value> init(rt * nt, constFloat(b, vecType, 0.0));
    SmallVector<Value> sums(rt * nt); // scalars, one per output
    if (p.dtype == WeightType::Q8_0) {
      SmallVector<Value> acc =
          forLoop(b, constIndex(b, 0), constIndex(b, p.k / kQ8Block), constIndex(b, 1), init,
                  [&](ImplicitLocOpBuilder &nb, Value block, ValueRange carried) {
                    return q8Block(nb, block, rows, cols, carried);
                  });
      for (int64_t i = 0; i < rt * nt; ++i)
        sums[i] = reduceAdd(b, acc[i]);
    } else {
      const int64_t full = p.k / p.lanes * p.lanes;
      // Step k0 reads bytes [k0, k0 + lanes) * elementBytes of each of the nt rows; the
      // prefetch pointer advances nt times as fast, kPrefetchLead ahead of the last row.
      const int64_t elementBytes = p.dtype == WeightType::F32 ? 4 : 2;
      const int64_t rowBytes = p.k * elementBytes;
      Type i64 = b.getI64Type();
      Value ahead = arith::AddIOp::create(
          b,
          arith::MulIOp::create(b, arith::IndexCastOp::create(b, i64, cols[0]),
                                constInt(b, i64, rowBytes)),
          constInt(b, i64, (nt - 1) * rowBytes + kPrefetchLead));
      SmallVector<Value> acc = init;
      if (full > 0)
        acc = forLoop(b, constIndex(b, 0), constIndex(b, full), constIndex(b, p.lanes), init,
                      [&](ImplicitLocOpBuilder &nb, Value k0, ValueRange carried) {
                        Value at = arith::AddIOp::create(
                            nb, ahead,
                            arith::MulIOp::create(nb, arith::IndexCastOp::create(nb, i64, k0),
                                                  constInt(nb, i64, nt * elementBytes)));
                        const int64_t lines =
                            std::max<int64_t>(nt * p.lanes * elementBytes / kCacheLine, 1);
                        for (int64_t line = 0; line < lines; ++line)
                          prefetch(nb, arith::AddIOp::create(
                                           nb, at, constInt(nb, i64, line * kCacheLine)));
                        return fmaStep(nb, k0, p.lanes, rows, cols, carried);
                      });
      for (int64_t i = 0; i < rt * nt; ++i)
        sums[i] = reduceAdd(b, acc[i]);
      if (p.k > full) {
        // The short tail along k, multiplied in a narrower vector and summed separately.
        const int64_t tail = p.k - full;
        auto tailType = VectorType::get({tail}, f32);
        SmallVector<Value> tailInit(rt * nt, constFloat(b, tailType, 0.0));
        SmallVector<Value> tails = fmaStep(b, constIndex(b, full), tail, rows, cols, tailInit);
        for (int64_t i = 0; i < rt * nt; ++i)
          sums[i] = arith::AddFOp::create(b, sums[i], reduceAdd(b, tails[i]));
      }
    }
    for (int64_t r = 0; r < rt; ++r)
      for (int64_t c = 0; c < nt; ++c) {
        Value at = arith::AddIOp::create(
            b, arith::MulIOp::create(b, rows[r], constIndex(b, p.n)), cols[c]);
        memref::StoreOp::create(b, sums[r * nt + c], y, ValueRange{at});
      }
  }

private:
  // Prefetches the weight byte at offset |at| (i64) into L2 (prefetcht1). A plain GEP: the
  // last tiles of a call prefetch past the weights, which a prefetch may do.
  void prefetch(ImplicitLocOpBuilder &b, Value at) const {
    prefetchByte(b, wPtr, at, /*locality=*/2);
  }

  SmallVector<Value> fmaStep(ImplicitLocOpBuilder &b, Value k0, int64_t lanes,
                             ArrayRef<Value> rows, ArrayRef<Value> cols,
                             ValueRange carried) const {
    SmallVector<Value> acc(carried);
    SmallVector<Value> xs, ws;
    for (Value row : rows)
      xs.push_back(loadX(b, row, k0, lanes));
    for (Value col : cols)
      ws.push_back(loadWeights(b, col, k0, lanes));
    for (size_t r = 0; r < xs.size(); ++r)
      for (size_t c = 0; c < ws.size(); ++c)
        acc[r * ws.size() + c] = vector::FMAOp::create(b, xs[r], ws[c], acc[r * ws.size() + c]);
    return acc;
  }

  // One q8_0 block of every weight row in the tile: unscaled sums, then one FMA by the scale.
  SmallVector<Value> q8Block(ImplicitLocOpBuilder &b, Value block, ArrayRef<Value> rows,
                             ArrayRef<Value> cols, ValueRange carried) const {
    Type f32 = b.getF32Type();
    auto vecType = VectorType::get({p.lanes}, f32);
    const int64_t rowBytes = p.k / kQ8Block * kQ8BlockBytes;
    Value k0 = arith::MulIOp::create(b, block, constIndex(b, kQ8Block));
    SmallVector<Value> acc(carried);
    SmallVector<Value> blockBase, scales;
    for (Value col : cols) {
      Value base = arith::AddIOp::create(
          b, arith::MulIOp::create(b, col, constIndex(b, rowBytes)),
          arith::MulIOp::create(b, block, constIndex(b, kQ8BlockBytes)));
      blockBase.push_back(base);
      Value bits = vector::BitCastOp::create(b, VectorType::get({1}, b.getI16Type()),
                                             loadVector(b, w, base, 2));
      Value scale = vector::ExtractOp::create(b, halfBitsToF32(b, bits), ArrayRef<int64_t>{0});
      scales.push_back(vector::BroadcastOp::create(b, vecType, scale));
    }
    SmallVector<Value> partial(rows.size() * cols.size(), constFloat(b, vecType, 0.0));
    for (int64_t sub = 0; sub < kQ8Block; sub += p.lanes) {
      Value kk = arith::AddIOp::create(b, k0, constIndex(b, sub));
      SmallVector<Value> xs, ws;
      for (Value row : rows)
        xs.push_back(loadX(b, row, kk, p.lanes));
      for (Value base : blockBase) {
        Value codes =
            loadVector(b, w, arith::AddIOp::create(b, base, constIndex(b, 2 + sub)), p.lanes);
        ws.push_back(arith::SIToFPOp::create(b, vecType, codes));
      }
      for (size_t r = 0; r < xs.size(); ++r)
        for (size_t c = 0; c < ws.size(); ++c) {
          Value &acc2 = partial[r * ws.size() + c];
          acc2 = vector::FMAOp::create(b, xs[r], ws[c], acc2);
        }
    }
    for (size_t r = 0; r < rows.size(); ++r)
      for (size_t c = 0; c < cols.size(); ++c) {
        Value &a = acc[r * cols.size() + c];
        a = vector::FMAOp::create(b, partial[r * cols.size() + c], scales[c], a);
      }
    return acc;
  }

  const MatmulParams &p;
  Value x, w, wPtr, y;
};

} // namespace

LogicalResult generateMatmul(func::FuncOp fn, const KernelSpec &spec, const CpuTarget &target) {
  MatmulParams p;
  p.n = spec.getInt("n");
  p.k = spec.getInt("k");
  p.nBlock = spec.getInt("n_block", p.n);
  p.xStride = spec.getInt("x_stride", p.k);
  p.f16c = target.hasAVX2;
  const std::string dtype = spec.getString("dtype", "f32");
  if (dtype == "f32")
    p.dtype = WeightType::F32;
  else if (dtype == "f16")
    p.dtype = WeightType::F16;
  else if (dtype == "bf16")
    p.dtype = WeightType::BF16;
  else if (dtype == "q8_0")
    p.dtype = WeightType::Q8_0;
  else
    return kernelError(fn, spec, "dtype '" + dtype + "' is not supported (known: f32, f16, "
                                 "bf16, q8_0)");
  if (p.n <= 0 || p.k <= 0)
    return kernelError(fn, spec, "parameters 'n' and 'k' must be positive, got n=" +
                                     llvm::Twine(p.n) + " k=" + llvm::Twine(p.k));
  if (p.nBlock <= 0 || p.n % p.nBlock != 0)
    return kernelError(fn, spec, "parameter 'n_block' (" + llvm::Twine(p.nBlock) +
                                     ") must be positive and divide n (" + llvm::Twine(p.n) +
                                     ")");
  if (p.xStride < p.k)
    return kernelError(fn, spec, "parameter 'x_stride' (" + llvm::Twine(p.xStride) +
                                     ") must be at least k (" + llvm::Twine(p.k) + ")");
  if (p.dtype == WeightType::Q8_0 && p.k % kQ8Block != 0)
    return kernelError(fn, spec, "q8_0 weights need k to be a multiple of 32, got k=" +
                                     llvm::Twine(p.k));
  p.lanes = f32Lanes(target);
  if (p.dtype == WeightType::Q8_0)
    p.lanes = std::min<int64_t>(p.lanes, kQ8Block);

  const int64_t rowTile = target.hasAVX512 ? 4 : 2;
  const int64_t maxColTile = target.hasAVX512 || target.hasAVX2 ? 4 : 2;
  int64_t colTile = 1;
  for (int64_t c = maxColTile; c > 1; c /= 2)
    if (p.nBlock % c == 0) {
      colTile = c;
      break;
    }

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  KernelArgs args = beginKernel(fn, b);
  Type f32 = b.getF32Type();
  Value x = bindFlat(b, args, 0, f32,
                     arith::MulIOp::create(b, args.rows, constIndex(b, p.xStride))); // (rows, x_stride)
  Value w;
  switch (p.dtype) {
  case WeightType::F32:
    w = bindFlat(b, args, 1, f32, p.n * p.k); // (n, k)
    break;
  case WeightType::F16:
  case WeightType::BF16:
    w = bindFlat(b, args, 1, b.getI16Type(), p.n * p.k); // (n, k) raw 16-bit floats
    break;
  case WeightType::Q8_0:
    w = bindFlat(b, args, 1, b.getI8Type(), p.n * (p.k / kQ8Block) * kQ8BlockBytes); // (n, k/32) blocks
    break;
  }
  Value wPtr = loadBindingPointer(b, b.getLoc(), args.bindings, 1); // the same, for prefetches
  Value y = bindFlat(b, args, 2, f32, arith::MulIOp::create(b, args.rows, constIndex(b, p.n))); // (rows, n)
  MatmulEmitter emitter(p, x, w, wPtr, y);

  forEachOutputTile(b, args, p.nBlock, rowTile, colTile,
                    [&](ImplicitLocOpBuilder &tb, Value t0, Value j, int64_t rt) {
                      emitter.emitTile(tb, t0, j, rt, colTile);
                    });
  return success();
}

} // namespace tern::cpu
