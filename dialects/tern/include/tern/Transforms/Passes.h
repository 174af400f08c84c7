//===- Passes.h - graph-level passes of the tern dialect and their pipeline ===//
#ifndef TERN_TRANSFORMS_PASSES_H
#define TERN_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "tern/Dialect/TernOps.h"

#include <memory>
#include <string>

namespace mlir::tern {

#define GEN_PASS_DECL
#include "tern/Transforms/Passes.h.inc"

/// Options of `tern-graph-pipeline`; passed on to tern-quantize-lm-head, tern-select-packing
/// and tern-tile.
struct GraphPipelineOptions : public PassPipelineOptions<GraphPipelineOptions> {
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("target: x86-64-v4, x86-64-v3, generic or native"),
                             llvm::cl::init("x86-64-v4")};
  Option<int64_t> threads{*this, "threads",
                          llvm::cl::desc("threads the runtime is expected to use"),
                          llvm::cl::init(4)};
  Option<std::string> lmHead{*this, "lm-head",
                             llvm::cl::desc("lm_head precision: source, f16, q8, q6 or q4"),
                             llvm::cl::init("source")};
  Option<std::string> ternaryLayout{
      *this, "ternary-layout",
      llvm::cl::desc("ternary weight layout where it fits: i2_b128 or tl2_t64 (AVX-512 CPUs)"),
      llvm::cl::init("i2_b128")};
  Option<bool> shareEmbedding{
      *this, "share-embedding",
      llvm::cl::desc("a tied token embedding shares the lm_head's new precision (one table)"),
      llvm::cl::init(false)};
};

/// Adds the graph passes to |pm| (a module pass manager), in order: canonicalize,
/// tern-quantize-lm-head, tern-fuse-norm-quant, tern-fuse-qkv, tern-fuse-gate-up,
/// tern-select-packing, tern-tile, canonicalize. The result is what the program builder
/// lowers to kernels.
void buildTernGraphPipeline(OpPassManager &pm, const GraphPipelineOptions &options);

/// Registers every tern graph pass and the `tern-graph-pipeline` pipeline flag.
void registerTernTransformsPasses();

/// Whether |target| names a CPU target the graph passes know (x86-64-v4, x86-64-v3,
/// generic, native).
bool isKnownCPUTarget(llvm::StringRef target);
/// NVIDIA GPU targets of the PTX backend: sm_80, sm_90, sm_90a.
bool isKnownGPUTarget(llvm::StringRef target);

/// Whether |format| is an lm_head precision tern-quantize-lm-head knows (source, f16, q8,
/// q6, q4), and the list of them for messages.
bool isKnownLmHeadFormat(llvm::StringRef format);
inline constexpr llvm::StringLiteral kLmHeadFormats = "source, f16, q8, q6, q4";

#define GEN_PASS_REGISTRATION
#include "tern/Transforms/Passes.h.inc"

} // namespace mlir::tern

#endif // TERN_TRANSFORMS_PASSES_H
