// ternary_matmul_rms_norm_quantize and attention_rms_norm_quantize on NVIDIA GPUs: the first
// kernel's work (KernelBodies.h), then the rms_norm_quantize of its result by the block that
// finishes last, which saves the norm its own launch (tern-fuse-gpu-dispatches gives these to
// the decode entry point: one block normalizes every row of the call, too few threads for a
// prefill's rows).
//
// The block that finishes last (emitLastBlockTail: it sees every other block's outputs)
// normalizes the rows with its threads (NormRow.h, the row held in registers). Before the
// dependent-launch wait, block 0 asks L2 for the norm's weight vector: which SM finishes last
// is not known, so L1 would not do.
#include "codegen/GPU/GPUKernelBuilder.h"
#include "codegen/GPU/GPUKernelGenerators.h"
#include "codegen/GPU/KernelBodies.h"
#include "codegen/GPU/NormRow.h"

#include "FusedKernelSpecs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <tuple>

namespace tern::gpu {

using namespace mlir;

namespace {

// The parts of a fused spec, parsed.
struct Parts {
  KernelSpec first, norm;
  NormRow tail;
  int firstBindings = 0;
};

llvm::Expected<Parts> splitParts(const KernelSpec &spec) {
  Parts parts;
  std::tie(parts.first, parts.norm) = splitNormTail(spec);
  if (parts.first.family == "ternary_matmul")
    parts.firstBindings = 5;
  else if (parts.first.family == "attention")
    parts.firstBindings = 4;
  else
    return llvm::createStringError("'%s' is not a kernel with a norm tail", spec.family.c_str());
  llvm::Expected<NormRow> tail = parseNormRow(parts.norm);
  if (!tail)
    return tail.takeError();
  if (!tail->norm)
    return llvm::createStringError("the tail must be an rms norm");
  parts.tail = *tail;
  return parts;
}

llvm::Expected<LaunchShape> launchFirst(const Parts &parts, int64_t maxRows,
                                        const GpuTarget &target) {
  return parts.first.family == "attention" ? launchAttention(parts.first, maxRows, target)
                                           : launchTernaryMatmul(parts.first, maxRows, target);
}

} // namespace

llvm::Expected<LaunchShape> launchFusedNorm(const KernelSpec &spec, int64_t maxRows,
                                            const GpuTarget &target) {
  llvm::Expected<Parts> parts = splitParts(spec);
  if (!parts)
    return llvm::createStringError("%s: %s", spec.symbol.c_str(),
                                   llvm::toString(parts.takeError()).c_str());
  return launchFirst(*parts, maxRows, target);
}

LogicalResult generateFusedNorm(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                const GpuTarget &target) {
  llvm::Expected<Parts> parsed = splitParts(spec);
  if (!parsed)
    return gpuKernelError(fn, spec, llvm::toString(parsed.takeError()));
  Parts parts = *parsed;
  // The block size does not depend on the rows.
  auto launch = launchFirst(parts, 1, target);
  if (!launch)
    return gpuKernelError(fn, spec, llvm::toString(launch.takeError()));
  const int64_t threads = launch->block[0];

  ImplicitLocOpBuilder b(fn.getLoc(), fn.getContext());
  GpuKernelArgs args = beginGpuKernel(fn, b);
  const int normBindings = normRowBindings(parts.tail);
  const size_t expected = size_t(parts.firstBindings + normBindings + 1);
  if (args.bindings.size() != expected)
    return gpuKernelError(fn, spec, "expected " + llvm::Twine(expected) +
                                        " bindings (the first kernel's, the norm's, the counter)");
  ValueRange all(args.bindings);
  NormRow &norm = parts.tail;
  bindNormRow(norm, all.slice(parts.firstBindings, normBindings));
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
  ValueRange firstBindings = all.take_front(parts.firstBindings);
  LogicalResult body =
      parts.first.family == "attention"
          ? emitAttention(fn, b, parts.first, args, firstBindings, target, prefetchNormWeights)
          : emitTernaryMatmul(fn, b, parts.first, args, firstBindings, target,
                              prefetchNormWeights);
  if (failed(body))
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
