//===- Tile.cpp - output tile width (n_block) of every matmul -------------===//
#include "tern/Transforms/Passes.h"

namespace mlir::tern {
#define GEN_PASS_DEF_TILEPASS
#include "tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {
/// The largest of 64, 32, ..., 1 dividing |n| that leaves at least |minItems| work
/// items (n / n_block); 1 when none does.
static int64_t chooseNBlock(int64_t n, int64_t minItems) {
  for (int64_t block : {64, 32, 16, 8, 4, 2})
    if (n % block == 0 && n / block >= minItems)
      return block;
  return 1;
}

struct TilePass : public tern::impl::TilePassBase<TilePass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (!isKnownCPUTarget(target) && !isKnownGPUTarget(target)) {
      func.emitError() << "tern-tile: no tiling rule for target '" << target
                       << "' (known: x86-64-v4, x86-64-v3, generic, native, sm_80, sm_90, "
                          "sm_90a)";
      return signalPassFailure();
    }
    if (threads < 1) {
      func.emitError() << "tern-tile: threads must be at least 1, got "
                       << static_cast<int64_t>(threads);
      return signalPassFailure();
    }
    const int64_t minItems = 4 * static_cast<int64_t>(threads);
    Builder b(&getContext());
    func.walk([&](Operation *op) {
      int64_t n;
      if (auto ternary = dyn_cast<TernaryMatmulOp>(op)) {
        auto type = cast<TernaryType>(ternary.getWeight().getType());
        // A tl2_t64 kernel computes whole 64-row tiles: its work items are one tile each.
        if (type.getPacking() == PackingKind::tl2_t64) {
          op->setAttr("n_block", b.getI64IntegerAttr(64));
          return;
        }
        n = type.getN();
      } else if (auto matmul = dyn_cast<MatmulOp>(op))
        n = cast<RankedTensorType>(matmul.getWeight().getType()).getDimSize(0);
      else
        return;
      op->setAttr("n_block", b.getI64IntegerAttr(chooseNBlock(n, minItems)));
    });
  }
};
} // namespace
