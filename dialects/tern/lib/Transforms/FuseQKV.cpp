//===- FuseQKV.cpp - q/k/v projections of one input into one matmul -------===//
#include "MatmulFusion.h"
#include "tern/Transforms/Passes.h"

namespace mlir::tern {
#define GEN_PASS_DEF_FUSEQKVPASS
#include "tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {
struct FuseQKVPass : public tern::impl::FuseQKVPassBase<FuseQKVPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    // BitNet quantizes the shared input once per projection; after merging, the three
    // ternary matmuls read the same quantized rows and group together.
    mergeDuplicateQuantizeAct(func);
    for (SmallVector<Operation *> &group : groupMatmulsByInput(func)) {
      // q, k and v are the only triple of projections of one input in a decoder layer;
      // pairs (gate/up) are tern-fuse-gate-up's.
      if (group.size() == 3 && canFuseMatmuls(group))
        fuseMatmuls(group);
    }
  }
};
} // namespace
