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

/// Options of `tern-graph-pipeline`; passed on to tern-select-packing and tern-tile.
struct GraphPipelineOptions : public PassPipelineOptions<GraphPipelineOptions> {
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("target: x86-64-v4, x86-64-v3, generic or native"),
                             llvm::cl::init("x86-64-v4")};
  Option<int64_t> threads{*this, "threads",
                          llvm::cl::desc("threads the runtime is expected to use"),
                          llvm::cl::init(4)};
};

/// Adds the graph passes to |pm| (a module pass manager), in order: canonicalize,
/// tern-fuse-norm-quant, tern-fuse-qkv, tern-fuse-gate-up, tern-select-packing,
/// tern-tile, canonicalize. The result is what the program builder lowers to kernels.
void buildTernGraphPipeline(OpPassManager &pm, const GraphPipelineOptions &options);

/// Registers every tern graph pass and the `tern-graph-pipeline` pipeline flag.
void registerTernTransformsPasses();

/// Whether |target| names a CPU target the graph passes know (x86-64-v4, x86-64-v3,
/// generic, native).
bool isKnownCPUTarget(llvm::StringRef target);

#define GEN_PASS_REGISTRATION
#include "tern/Transforms/Passes.h.inc"

} // namespace mlir::tern

#endif // TERN_TRANSFORMS_PASSES_H
