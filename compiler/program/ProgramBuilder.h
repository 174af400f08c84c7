// Turns the optimized tern IR of a model into the contents of a `.tern` artifact: kernels,
// entry points (decode, prefill, prefill_logits), memory plan and weight sections.
#ifndef TERN_COMPILER_PROGRAM_PROGRAMBUILDER_H
#define TERN_COMPILER_PROGRAM_PROGRAMBUILDER_H

#include "KernelSpec.h"
#include "codegen/CPU/CPUCodegen.h"
#include "codegen/GPU/GPUCodegen.h"
#include "compiler/artifact/ArtifactWriter.h"
#include "frontends/common/ModelDescription.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace tern::program {

struct ProgramOptions {
  cpu::CpuTarget target;               // the CPU the kernels run on, unless |gpuTarget| is set
  std::optional<gpu::GpuTarget> gpuTarget; // set: PTX kernels for this GPU instead
  int64_t maxBatchRows = 64; // rows of one prefill call
  // GPU targets: decode runs each layer's rope, KV-cache write and attention as one
  // rope_kv_attention kernel (gpu::ropeKVAttentionVariant), a launch fewer per layer. Off by
  // default until measured on a GPU (docs/perf/cuda.md).
  bool fuseDecodeAttention = false;
  // Called with a short description before each long step (packing, code generation).
  std::function<void(llvm::StringRef)> progress;
};

// An artifact ready for writeArtifact, with the bytes its sections point into. Weight sections
// also read the source model's mapping and the IR's weight ops: keep the ModelDescription and
// the module alive until the artifact is written.
struct Program {
  ArtifactContents contents;
  std::vector<KernelSpec> kernels; // indexed like the kernel library's |kernels|
  std::vector<std::shared_ptr<const std::vector<uint8_t>>> ownedBytes;
};

// Outlines the kernels of |module| (the importer's @forward after tern-graph-pipeline; it is
// modified in place) and returns them in symbol order. For a |gpu| target, pairs of dispatches
// that run as one kernel there are fused (tern-fuse-gpu-dispatches), and the one-row variants
// (and, with |fuseDecodeAttention|, the rope_kv_attention kernels) that decode runs follow.
llvm::Expected<std::vector<KernelSpec>> outlineKernels(mlir::ModuleOp module, bool gpu,
                                                       bool fuseDecodeAttention = false);

// Builds the whole program: outlines kernels, plans memory for each entry point, generates the
// kernel library for |options.target| and lays out the weights of |model|.
llvm::Expected<std::unique_ptr<Program>> buildProgram(mlir::ModuleOp module,
                                                      const fe::ModelDescription &model,
                                                      const ProgramOptions &options);

} // namespace tern::program

#endif
