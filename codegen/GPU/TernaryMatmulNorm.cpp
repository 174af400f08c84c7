// ternary_matmul_rms_norm_quantize on NVIDIA GPUs: ternary_matmul (TernaryMatmul.cpp), then
// the rms_norm_quantize of its result by the block that finishes last, which saves the norm
// its own launch (tern-fuse-gpu-dispatches gives it to the decode entry point: one block
// normalizes every row of the call, too few threads for a prefill's rows).
//
// The block that finishes last (emitLastBlockTail: it sees every other block's outputs)
// normalizes the rows with its threads (NormRow.h, the row held in registers). Before the
// dependent-launch wait, block 0 asks L2 for the norm's weight vector: which SM finishes last
// is not known, so L1 would not do.
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

  emitLastBlockTail(fn, b, counter, [&](ImplicitLocOpBuilder &b) {
    forLoop(b, constI64(b, 0), args.rows, constI64(b, 1), [&](ImplicitLocOpBuilder &b, Value row) {
      emitNormRow(fn, b, norm, row, threads);
      barrier(b); // the next row reuses the reductions' shared arrays
    });
  });
  return success();
}

} // namespace tern::gpu
