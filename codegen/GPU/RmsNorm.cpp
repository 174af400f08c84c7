// rms_norm, rms_norm_quantize, layer_norm and quantize_act: one block per row, block reductions
// through warp shuffles and a small shared array, the reference's arithmetic so int8 codes
// match it. layer_norm is rms_norm of the centered row (a mean pass first) plus an optional
// bias. The rms families may first add a residual (residual = 1): each thread stores
// s = x + residual for its elements, then the passes read s back, the elements it wrote itself.
// Or they normalize a gated product (gated = 1, activation = relu2): relu2(gate) * up as the glu
// family computes it, recomputed by each pass and never stored; gate and up have the row stride
// in_stride.
//
// A row (2560..6912 floats in the 2B-4T model) is short, so a block of threads about half the
// row's 16-byte chunks wide does it in one or two loads per thread; blocks past the call's
// rows return at once. When the row is 16-byte aligned each thread keeps its chunks in
// registers, loaded once with every load issued before the first use; otherwise (odd widths,
// misaligned column slices) the passes re-read the row one float at a time (L1-resident).
#include "codegen/Common/CodegenSupport.h"
#include "codegen/GPU/GPUKernelBuilder.h"
#include "codegen/GPU/GPUKernelGenerators.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tern::gpu {

using namespace mlir;
using codegen::FusedNormInput;
using codegen::readFusedNormInput;

namespace {

// Threads of a block for a row of |width| floats: about two 16-byte chunks each, whole warps.
int64_t threadsFor(int64_t width) {
  const int64_t chunks = (width + 3) / 4;
  const int64_t threads = ((chunks + 1) / 2 + 31) / 32 * 32;
  return std::clamp<int64_t>(threads, 32, 1024);
}

// 16-byte chunks of a row one thread holds in registers at most (64 floats); a norm block has
// about two per thread (threadsFor).
constexpr int64_t kMostChunksInRegisters = 16;

// relu2(gate) * up, the glu family's arithmetic: max, then two float multiplies.
Value relu2Times(ImplicitLocOpBuilder &b, Value gate, Value up) {
  Value g = maxF(b, gate, constF32(b, 0.0));
  return arith::MulFOp::create(b, arith::MulFOp::create(b, g, g), up);
}

Value constF64(ImplicitLocOpBuilder &b, double v) {
  return arith::ConstantOp::create(b, b.getF64Type(), b.getF64FloatAttr(v));
}

// s = 127 / max(absmax, 1e-5) in float (div.rn), as quantize_act computes it.
Value quantizeScale(ImplicitLocOpBuilder &b, Value absMax) {
  return arith::DivFOp::create(b, constF32(b, 127.0), maxF(b, absMax, constF32(b, 1e-5)));
}

// The int8 code of |v| at scale |s|: clamp(round_half_even(v * s), -128, 127).
Value codeOf(ImplicitLocOpBuilder &b, Value v, Value s) {
  Value r = roundHalfEven(b, arith::MulFOp::create(b, v, s));
  r = minF(b, maxF(b, r, constF32(b, -128.0)), constF32(b, 127.0));
  return arith::TruncIOp::create(b, b.getI8Type(),
                                 arith::FPToSIOp::create(b, b.getI32Type(), r));
}

// rms_norm: inv = float(1 / sqrt(total / width + eps)) in double, total the row's sum of
// squares (layer_norm: of the centered values). The order of the double additions differs
// from the reference's; its rounding error (~width * 2^-53 relative) changes the float inv
// only when the exact value lies that close to a rounding boundary of float, about once in
// 10^8 rows.
Value inverseRms(ImplicitLocOpBuilder &b, Value total, int64_t width, double eps) {
  Value meanSquare = arith::DivFOp::create(b, total, constF64(b, double(width)));
  Value shifted = arith::AddFOp::create(b, meanSquare, constF64(b, eps));
  Value r = arith::DivFOp::create(b, constF64(b, 1.0), sqrtRn(b, shifted));
  return arith::TruncFOp::create(b, b.getF32Type(), r);
}

// One normalized value: c * inv * w (two float multiplies, in that order, then the bias's
// add when |bias| is set), with c = x or float(x - mean) in double when |mean| is set.
Value normalized(ImplicitLocOpBuilder &b, Value x, Value mean, Value inv, Value w, Value bias) {
  Value c = x;
  if (mean)
    c = arith::TruncFOp::create(
        b, b.getF32Type(),
        arith::SubFOp::create(b, arith::ExtFOp::create(b, b.getF64Type(), c), mean));
  Value v = arith::MulFOp::create(b, arith::MulFOp::create(b, c, inv), w);
  return bias ? Value(arith::AddFOp::create(b, v, bias)) : v;
}

// This thread's elements of one row, |vec| (4 or 1) consecutive floats at a time.
using ChunkBody = std::function<SmallVector<Value>(ImplicitLocOpBuilder &, int64_t vec,
                                                   Value element, ValueRange carried)>;

SmallVector<Value> loadF32s(ImplicitLocOpBuilder &b, Value base, Value element, int64_t vec,
                            bool readOnly) {
  Type f32 = b.getF32Type();
  Value address = elementAddress(b, base, f32, element);
  if (vec == 1)
    return {readOnly ? loadReadOnly(b, f32, address, 4) : load(b, f32, address, 4)};
  auto type = VectorType::get({vec}, f32);
  Value v = readOnly ? loadReadOnly(b, type, address, 16) : load(b, type, address, 16);
  SmallVector<Value> out;
  for (int64_t i = 0; i < vec; ++i)
    out.push_back(extractLane(b, v, i));
  return out;
}

void storeValues(ImplicitLocOpBuilder &b, ValueRange values, Value base, Value element) {
  Type type = values.front().getType();
  const unsigned bytes = type.getIntOrFloatBitWidth() / 8;
  Value address = elementAddress(b, base, type, element);
  if (values.size() == 1)
    store(b, values.front(), address, bytes);
  else
    store(b, buildVector(b, values), address, bytes * unsigned(values.size()));
}

} // namespace

llvm::Expected<LaunchShape> launchRmsNorm(const KernelSpec &spec, int64_t maxRows,
                                          const GpuTarget &) {
  const int64_t width = spec.getInt("width");
  if (width <= 0)
    return llvm::createStringError("%s: parameter 'width' must be positive", spec.symbol.c_str());
  LaunchShape shape;
  shape.block = {uint32_t(threadsFor(width)), 1, 1};
  shape.grid = {uint32_t(std::max<int64_t>(1, maxRows)), 1, 1};
  return shape;
}

LogicalResult generateRmsNorm(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                              const GpuTarget &target) {
  const llvm::StringRef family = spec.family;
  const bool layer = family == "layer_norm";
  const bool norm = family != "quantize_act";
  const bool quantize = family == "rms_norm_quantize" || family == "quantize_act";
  const int64_t biasParam = layer ? spec.getInt("bias", 0) : 0;
  if (biasParam != 0 && biasParam != 1)
    return gpuKernelError(fn, spec,
                          "parameter 'bias' must be 0 or 1, got " + llvm::Twine(biasParam));
  const bool hasBias = biasParam == 1;
  const int64_t width = spec.getInt("width");
  if (width <= 0)
    return gpuKernelError(fn, spec, "parameter 'width' must be positive, got " + llvm::Twine(width));
  llvm::Expected<FusedNormInput> fused =
      readFusedNormInput(spec, width, family == "rms_norm" || family == "rms_norm_quantize");
  if (!fused)
    return gpuKernelError(fn, spec, llvm::toString(fused.takeError()));
  const bool gated = fused->gated;
  const int64_t inStride = fused->inStride;
  const int r = fused->bindingShift();
  // The reference takes eps as a float and adds it in double.
  const double eps = double(float(spec.getFloat("eps")));
  if (norm && !(eps >= 0))
    return gpuKernelError(fn, spec, "parameter 'eps' must be a non-negative number");

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  Type f32 = b.getF32Type(), f64 = b.getF64Type(), i8 = b.getI8Type();
  // Bindings: rms_norm (x, [residual | up,] w, y[, sum]); layer_norm (x, w, [b,] y);
  // rms_norm_quantize (x, [residual | up,] w, q, qscale[, sum]); quantize_act (x, q, qscale).
  // Gated, x is the gate.
  Value x = args.bindings[0];
  Value residual = fused->residual ? args.bindings[1] : Value();
  Value up = gated ? args.bindings[1] : Value();
  Value sum = residual ? args.bindings.back() : Value();
  Value w = norm ? args.bindings[1 + r] : Value();
  Value bias = hasBias ? args.bindings[2] : Value();
  Value y = quantize ? Value() : args.bindings[args.bindings.size() - 1 - (sum ? 1 : 0)];
  Value q = quantize ? args.bindings[norm ? 2 + r : 1] : Value();
  Value qscale = quantize ? args.bindings[norm ? 3 + r : 2] : Value();

  const int64_t threads = threadsFor(width), warps = threads / 32;
  // sm_90: the weight vector (never written by a dispatch) is asked into this SM's L1 before
  // the wait for the previous dispatch, which may still run (programmatic dependent launch),
  // so the passes that scale the row find it there instead of in device memory.
  if (w && target.computeCapability >= 90) {
    const int64_t lines = (width * 4 + 127) / 128;
    emitPrefetchesBeforeWait(fn, b, [&](ImplicitLocOpBuilder &b) {
      forLoop(b, toI64(b, threadIdX(b)), constI64(b, lines), constI64(b, threads),
              [&](ImplicitLocOpBuilder &b, Value line) {
                prefetchToL1(b, byteAddress(b, w, arith::MulIOp::create(b, line, constI64(b, 128))));
              });
    });
  }
  Value sums = norm ? sharedArray(b, fn, "sums", f64, warps) : Value();
  // The mean's own array: a warp may still read the mean's partial sums while another
  // publishes its centered sum of squares.
  Value meanSums = layer ? sharedArray(b, fn, "mean_sums", f64, warps) : Value();
  Value maxima = quantize ? sharedArray(b, fn, "maxima", f32, warps) : Value();

  Value row = toI64(b, blockIdX(b));
  Value active = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, row, args.rows);
  // The condition is the same for every thread of the block, so the barriers inside are
  // reached by all of them or by none.
  ifThen(b, active, [&](ImplicitLocOpBuilder &b) {
    Value tid = toI64(b, threadIdX(b));
    Value lane = arith::AndIOp::create(b, tid, constI64(b, 31));
    Value warp = arith::ShRUIOp::create(b, tid, constI64(b, 5));
    Value isLane0 = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, constI64(b, 0));
    Value rowStart = arith::MulIOp::create(b, row, constI64(b, width));
    // Gate and up rows start at row * in_stride.
    Value inStart =
        gated ? Value(arith::MulIOp::create(b, row, constI64(b, inStride))) : rowStart;
    Value inRow = elementAddress(b, x, f32, inStart);
    Value upRow = gated ? elementAddress(b, up, f32, inStart) : Value();
    Value residualRow = residual ? elementAddress(b, residual, f32, rowStart) : Value();
    // The row the norm reads: the sum with a residual.
    Value xRow = sum ? elementAddress(b, sum, f32, rowStart) : inRow;
    Value yRow = y ? elementAddress(b, y, f32, rowStart) : Value();
    Value qRow = q ? elementAddress(b, q, i8, rowStart) : Value();

    // 16-byte chunks when the width allows and the pointers are aligned (a uniform branch).
    Value vectorOk;
    if (width % 4 == 0) {
      SmallVector<Value> floats = {xRow};
      if (residualRow)
        floats.append({inRow, residualRow});
      if (upRow)
        floats.push_back(upRow);
      if (w)
        floats.push_back(w);
      if (bias)
        floats.push_back(bias);
      if (yRow)
        floats.push_back(yRow);
      vectorOk = pointersAligned(b, floats, 16);
      if (qRow)
        vectorOk = arith::AndIOp::create(b, vectorOk, pointersAligned(b, {qRow}, 4));
    }
    // The passes below re-read the row through loops; with |scalarOnly| one float at a time.
    bool scalarOnly = false;
    auto overRow = [&](ImplicitLocOpBuilder &b, ValueRange init, const ChunkBody &body) {
      auto run = [&](ImplicitLocOpBuilder &b, int64_t vec) {
        return forLoop(b, tid, constI64(b, width / vec), constI64(b, threads), init,
                       [&](ImplicitLocOpBuilder &b, Value chunk, ValueRange carried) {
                         Value element = arith::MulIOp::create(b, chunk, constI64(b, vec));
                         return body(b, vec, element, carried);
                       });
      };
      if (!vectorOk || scalarOnly)
        return run(b, 1);
      return ifThenElse(
          b, vectorOk, ValueRange(init).getTypes(),
          [&](ImplicitLocOpBuilder &b) { return run(b, 4); },
          [&](ImplicitLocOpBuilder &b) { return run(b, 1); });
    };

    // Every thread gets the block's total: lane 0 of each warp publishes its warp's value, and
    // after one barrier all threads combine the warps' values in the same order.
    auto blockCombine = [&](ImplicitLocOpBuilder &b, Value shared, Value mine, bool max) {
      Type type = mine.getType();
      ifThen(b, isLane0, [&](ImplicitLocOpBuilder &b) {
        store(b, mine, elementAddress(b, shared, type, warp), type.getIntOrFloatBitWidth() / 8);
      });
      barrier(b);
      Value total;
      for (int64_t i = 0; i < warps; ++i) {
        Value v = load(b, type, elementAddress(b, shared, type, constI64(b, i)),
                       type.getIntOrFloatBitWidth() / 8);
        total = !total ? v : max ? maxF(b, total, v) : Value(arith::AddFOp::create(b, total, v));
      }
      return total;
    };

    auto loopPasses = [&](ImplicitLocOpBuilder &b) {
      // s = x + residual, the add family's f32 addition. The sum may overwrite x or the
      // residual (plain loads, not the read-only path), and every later pass of this thread
      // reads back just the elements it stored here: the same chunks, so no barrier.
      if (residual)
        overRow(b, {}, [&](ImplicitLocOpBuilder &b, int64_t vec, Value element, ValueRange) {
          SmallVector<Value> xs = loadF32s(b, inRow, element, vec, false);
          SmallVector<Value> rs = loadF32s(b, residualRow, element, vec, false);
          for (int64_t i = 0; i < vec; ++i)
            xs[i] = arith::AddFOp::create(b, xs[i], rs[i]);
          storeValues(b, xs, xRow, element);
          return SmallVector<Value>{};
        });

      // The row's values at |element|: x (or the sum), or gated relu2(gate) * up, the glu
      // family's arithmetic (max, then two float multiplies), recomputed in each pass.
      auto loadRow = [&](ImplicitLocOpBuilder &b, Value element, int64_t vec) {
        SmallVector<Value> xs = loadF32s(b, xRow, element, vec, false);
        if (!gated)
          return xs;
        SmallVector<Value> us = loadF32s(b, upRow, element, vec, false);
        for (int64_t i = 0; i < vec; ++i)
          xs[i] = relu2Times(b, xs[i], us[i]);
        return xs;
      };

      // The block's sum over the row of d^2 (|square|) or d, d = x - |center| in double (no
      // |center|: x widened), published through |shared|.
      auto sumRow = [&](ImplicitLocOpBuilder &b, Value shared, Value center, bool square) {
        Value partial = overRow(b, {constF64(b, 0.0)},
                                [&](ImplicitLocOpBuilder &b, int64_t vec, Value element,
                                    ValueRange carried) -> SmallVector<Value> {
                                  Value acc = carried[0];
                                  for (Value v : loadRow(b, element, vec)) {
                                    Value d = arith::ExtFOp::create(b, f64, v);
                                    if (center)
                                      d = arith::SubFOp::create(b, d, center);
                                    Value term = square ? Value(arith::MulFOp::create(b, d, d)) : d;
                                    acc = arith::AddFOp::create(b, acc, term);
                                  }
                                  return {acc};
                                })[0];
        return blockCombine(b, shared, warpReduceAddF64(b, partial), /*max=*/false);
      };

      // layer_norm: the mean first, in double; the centered values are then x - mean in double,
      // rounded once to float, as the reference computes them.
      Value mean;
      if (layer)
        mean = arith::DivFOp::create(b, sumRow(b, meanSums, Value(), /*square=*/false),
                                     constF64(b, double(width)));

      Value inv = norm ? inverseRms(b, sumRow(b, sums, mean, /*square=*/true), width, eps)
                       : Value();
      // The values to store or quantize: the normalized row, or x itself (quantize_act).
      auto values = [&](ImplicitLocOpBuilder &b, int64_t vec, Value element) {
        SmallVector<Value> xs = loadRow(b, element, vec);
        if (!norm)
          return xs;
        SmallVector<Value> ws = loadF32s(b, w, element, vec, true);
        SmallVector<Value> bs = bias ? loadF32s(b, bias, element, vec, true) : SmallVector<Value>();
        for (int64_t i = 0; i < vec; ++i)
          xs[i] = normalized(b, xs[i], mean, inv, ws[i], bias ? bs[i] : Value());
        return xs;
      };

      if (!quantize) {
        // y may alias x: each thread rewrites exactly the elements it reads.
        overRow(b, {}, [&](ImplicitLocOpBuilder &b, int64_t vec, Value element, ValueRange) {
          storeValues(b, values(b, vec, element), yRow, element);
          return SmallVector<Value>{};
        });
        return;
      }

      Value partialMax = overRow(b, {constF32(b, 0.0)},
                                 [&](ImplicitLocOpBuilder &b, int64_t vec, Value element,
                                     ValueRange carried) -> SmallVector<Value> {
                                   Value m = carried[0];
                                   for (Value v : values(b, vec, element))
                                     m = maxF(b, m, absF(b, v));
                                   return {m};
                                 })[0];
      Value absMax = blockCombine(b, maxima, warpReduceMax(b, partialMax), /*max=*/true);
      Value s = quantizeScale(b, absMax);
      overRow(b, {}, [&](ImplicitLocOpBuilder &b, int64_t vec, Value element, ValueRange) {
        SmallVector<Value> codes;
        for (Value v : values(b, vec, element))
          codes.push_back(codeOf(b, v, s));
        storeValues(b, codes, qRow, element);
        return SmallVector<Value>{};
      });
      ifThen(b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, constI64(b, 0)),
             [&](ImplicitLocOpBuilder &b) {
               store(b, s, elementAddress(b, qscale, f32, row), 4);
             });
    };

    // The same arithmetic with the thread's chunks of the row held in registers: every load of
    // a pass is issued before the first is used, and the row is read from memory once.
    auto registerPasses = [&](ImplicitLocOpBuilder &b, int64_t perThread) {
      const int64_t chunks = width / 4;
      struct Chunk {
        Value valid;   // i1, null when every thread has this chunk
        Value element; // its first element, clamped into the row for threads past the end
        SmallVector<Value> values;
      };
      SmallVector<Chunk> mine;
      for (int64_t m = 0; m < perThread; ++m) {
        Chunk c;
        Value chunk = arith::AddIOp::create(b, tid, constI64(b, m * threads));
        if ((m + 1) * threads > chunks) {
          c.valid = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, chunk, constI64(b, chunks));
          chunk = arith::SelectOp::create(b, c.valid, chunk, constI64(b, 0));
        }
        c.element = arith::MulIOp::create(b, chunk, constI64(b, 4));
        mine.push_back(c);
      }
      // Stores of a chunk only by the threads that have it.
      auto guarded = [&](ImplicitLocOpBuilder &b, const Chunk &c,
                         const std::function<void(ImplicitLocOpBuilder &)> &body) {
        if (c.valid)
          ifThen(b, c.valid, body);
        else
          body(b);
      };
      // A carried value updated only for the chunks the thread has.
      auto keep = [&](ImplicitLocOpBuilder &b, const Chunk &c, Value updated, Value old) {
        return c.valid ? Value(arith::SelectOp::create(b, c.valid, updated, old)) : updated;
      };
      // Every load first, then the row's values: x, the sum with the residual (stored; it may
      // overwrite x or the residual, which this thread has already read), or relu2(gate) * up.
      SmallVector<SmallVector<Value>> second(perThread);
      for (int64_t m = 0; m < perThread; ++m) {
        mine[m].values = loadF32s(b, residual ? inRow : xRow, mine[m].element, 4, false);
        if (residual)
          second[m] = loadF32s(b, residualRow, mine[m].element, 4, false);
        else if (gated)
          second[m] = loadF32s(b, upRow, mine[m].element, 4, false);
      }
      for (int64_t m = 0; m < perThread; ++m) {
        SmallVector<Value> &xs = mine[m].values;
        for (int64_t i = 0; i < 4; ++i) {
          if (residual) {
            xs[i] = arith::AddFOp::create(b, xs[i], second[m][i]);
          } else if (gated) {
            xs[i] = relu2Times(b, xs[i], second[m][i]);
          }
        }
        if (residual)
          guarded(b, mine[m], [&](ImplicitLocOpBuilder &b) {
            storeValues(b, mine[m].values, xRow, mine[m].element);
          });
      }
      // The block's sum of d^2 or d, d = x - center in double, as the loop passes add them.
      auto sumRow = [&](ImplicitLocOpBuilder &b, Value shared, Value center, bool square) {
        Value acc = constF64(b, 0.0);
        for (const Chunk &c : mine) {
          Value updated = acc;
          for (Value v : c.values) {
            Value d = arith::ExtFOp::create(b, f64, v);
            if (center)
              d = arith::SubFOp::create(b, d, center);
            updated = arith::AddFOp::create(b, updated,
                                            square ? Value(arith::MulFOp::create(b, d, d)) : d);
          }
          acc = keep(b, c, updated, acc);
        }
        return blockCombine(b, shared, warpReduceAddF64(b, acc), /*max=*/false);
      };
      Value mean;
      if (layer)
        mean = arith::DivFOp::create(b, sumRow(b, meanSums, Value(), /*square=*/false),
                                     constF64(b, double(width)));
      SmallVector<SmallVector<Value>> out(perThread);
      for (int64_t m = 0; m < perThread; ++m)
        out[m] = mine[m].values;
      if (norm) {
        Value inv = inverseRms(b, sumRow(b, sums, mean, /*square=*/true), width, eps);
        SmallVector<SmallVector<Value>> ws(perThread), bs(perThread);
        for (int64_t m = 0; m < perThread; ++m) {
          ws[m] = loadF32s(b, w, mine[m].element, 4, true);
          if (bias)
            bs[m] = loadF32s(b, bias, mine[m].element, 4, true);
        }
        for (int64_t m = 0; m < perThread; ++m)
          for (int64_t i = 0; i < 4; ++i)
            out[m][i] = normalized(b, out[m][i], mean, inv, ws[m][i], bias ? bs[m][i] : Value());
      }
      if (!quantize) {
        for (int64_t m = 0; m < perThread; ++m)
          guarded(b, mine[m], [&](ImplicitLocOpBuilder &b) {
            storeValues(b, out[m], yRow, mine[m].element);
          });
        return;
      }
      Value partialMax = constF32(b, 0.0);
      for (int64_t m = 0; m < perThread; ++m) {
        Value updated = partialMax;
        for (Value v : out[m])
          updated = maxF(b, updated, absF(b, v));
        partialMax = keep(b, mine[m], updated, partialMax);
      }
      Value absMax = blockCombine(b, maxima, warpReduceMax(b, partialMax), /*max=*/true);
      Value s = quantizeScale(b, absMax);
      for (int64_t m = 0; m < perThread; ++m) {
        SmallVector<Value> codes;
        for (Value v : out[m])
          codes.push_back(codeOf(b, v, s));
        guarded(b, mine[m], [&](ImplicitLocOpBuilder &b) {
          storeValues(b, codes, qRow, mine[m].element);
        });
      }
      ifThen(b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, constI64(b, 0)),
             [&](ImplicitLocOpBuilder &b) {
               store(b, s, elementAddress(b, qscale, f32, row), 4);
             });
    };

    const int64_t perThread = (width / 4 + threads - 1) / threads;
    if (width % 4 != 0 || perThread > kMostChunksInRegisters) {
      loopPasses(b);
      return;
    }
    ifThen(b, vectorOk, [&](ImplicitLocOpBuilder &b) { registerPasses(b, perThread); });
    ifThen(b, arith::XOrIOp::create(b, vectorOk, arith::ConstantOp::create(b, b.getI1Type(),
                                                                          b.getBoolAttr(true))),
           [&](ImplicitLocOpBuilder &b) {
             scalarOnly = true;
             loopPasses(b);
           });
  });
  return success();
}

} // namespace tern::gpu
