// ternary_matmul_rms_norm_quantize on NVIDIA GPUs: ternary_matmul (TernaryMatmul.cpp), then
// the rms_norm_quantize of its result by the block that finishes last, which saves the norm
// its own launch (tern-fuse-gpu-dispatches gives it to the decode entry point: one block
// normalizes every row of the call, too few threads for a prefill's rows).
//
// Each block, once its outputs are written, passes a barrier and counts itself in the counter
// binding with an add that releases at device scope. The block that sees the count reach the
// grid's size acquires, so every block's outputs are visible to it; it normalizes the rows
// with its threads (NormRow.h, the row held in registers) and sets the counter back to zero
// for the next dispatch. Before the dependent-launch wait, block 0 asks L2 for the norm's
// weight vector: which SM finishes last is not known, so L1 would not do.
#include "codegen/GPU/GPUKernelBuilder.h"
#include "codegen/GPU/GPUKernelGenerators.h"
#include "codegen/GPU/NormRow.h"
#include "codegen/GPU/TernaryMatmul.h"

#include "FusedKernelSpecs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace tern::gpu {

using namespace mlir;

namespace {

constexpr int kMatmulBindings = 5;

llvm::Expected<NormRow> parseTail(const KernelSpec &normSpec) {
  llvm::Expected<NormRow> norm = parseNormRow(normSpec);
  if (norm && !norm->norm)
    return llvm::createStringError("the tail must be an rms norm");
  return norm;
}

} // namespace

llvm::Expected<LaunchShape> launchTernaryMatmulNorm(const KernelSpec &spec, int64_t maxRows,
                                                    const GpuTarget &target) {
  auto [matmul, norm] = splitTernaryMatmulNorm(spec);
  if (llvm::Expected<NormRow> tail = parseTail(norm); !tail)
    return tail.takeError();
  return launchTernaryMatmul(matmul, maxRows, target);
}

LogicalResult generateTernaryMatmulNorm(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                        const GpuTarget &target) {
  auto [matmulSpec, normSpec] = splitTernaryMatmulNorm(spec);
  llvm::Expected<NormRow> parsed = parseTail(normSpec);
  if (!parsed)
    return gpuKernelError(fn, spec, llvm::toString(parsed.takeError()));
  NormRow norm = *parsed;
  auto launch = launchTernaryMatmul(matmulSpec, 1, target);
  if (!launch)
    return gpuKernelError(fn, spec, llvm::toString(launch.takeError()));
  const int64_t threads = launch->block[0];

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  const int normBindings = normRowBindings(norm);
  if (args.bindings.size() != size_t(kMatmulBindings + normBindings + 1))
    return gpuKernelError(fn, spec, "expected " + llvm::Twine(kMatmulBindings + normBindings + 1) +
                                        " bindings (the matmul's, the norm's, the counter)");
  ValueRange all(args.bindings);
  bindNormRow(norm, all.slice(kMatmulBindings, normBindings));
  Value counter = args.bindings.back();

  auto prefetchNormWeights = [&](ImplicitLocOpBuilder &b) {
    Value tid = toI64(b, threadIdX(b));
    Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, blockIdX(b), constI32(b, 0));
    ifThen(b, first, [&](ImplicitLocOpBuilder &b) {
      const int64_t lines = (norm.width * 4 + 127) / 128;
      forLoop(b, tid, constI64(b, lines), constI64(b, threads),
              [&](ImplicitLocOpBuilder &b, Value line) {
                prefetchToL2(b, byteAddress(b, norm.w,
                                            arith::MulIOp::create(b, line, constI64(b, 128))));
              });
    });
  };
  if (failed(emitTernaryMatmul(fn, b, matmulSpec, args, all.take_front(kMatmulBindings), target,
                               prefetchNormWeights)))
    return failure();

  // Count this block in once all its threads have written their outputs.
  Type i32 = b.getI32Type();
  Value isLast = sharedArray(b, fn, "tail_is_last", i32, 1);
  Value tid = threadIdX(b);
  Value thread0 = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, constI32(b, 0));
  barrier(b);
  ifThen(b, thread0, [&](ImplicitLocOpBuilder &b) {
    Value before = atomicAddAcqRelGpu(b, counter, constI32(b, 1));
    Value blocks = arith::MulIOp::create(b, gridDimX(b), gridDimY(b));
    Value last = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, before,
                                       arith::SubIOp::create(b, blocks, constI32(b, 1)));
    store(b, arith::ExtUIOp::create(b, i32, last), isLast, 4);
  });
  barrier(b);
  Value last = arith::CmpIOp::create(b, arith::CmpIPredicate::ne, load(b, i32, isLast, 4),
                                     constI32(b, 0));
  // The condition is the same for every thread of the block: the norm's barriers are reached
  // by all of them or by none.
  ifThen(b, last, [&](ImplicitLocOpBuilder &b) {
    fenceAcqRelGpu(b);
    forLoop(b, constI64(b, 0), args.rows, constI64(b, 1), [&](ImplicitLocOpBuilder &b, Value row) {
      emitNormRow(fn, b, norm, row, threads);
      barrier(b); // the next row reuses the reductions' shared arrays
    });
    ifThen(b, thread0, [&](ImplicitLocOpBuilder &b) { store(b, constI32(b, 0), counter, 4); });
  });
  return success();
}

} // namespace tern::gpu
