//===- FuseResidualNorm.cpp - residual add into the rms norm reading its sum ---===//
#include "tern/Transforms/Passes.h"

#include "tern/Dialect/TernOps.h"

#include "mlir/IR/Builders.h"

namespace mlir::tern {
#define GEN_PASS_DEF_FUSERESIDUALNORMPASS
#include "tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

// The first rms_norm or rms_norm_quantize in |add|'s block that normalizes its result and
// has no residual yet.
Operation *firstNormOf(AddOp add) {
  Operation *first = nullptr;
  for (Operation *user : add->getUsers()) {
    if (!isa<RmsNormOp, RmsNormQuantizeOp>(user) || user->getOperand(0) != add.getResult() ||
        user->getBlock() != add->getBlock())
      continue;
    // A gated norm (tern-fuse-glu-norm) reads no residual either.
    bool hasResidual = isa<RmsNormOp>(user)
                           ? bool(cast<RmsNormOp>(user).getResidual()) ||
                                 bool(cast<RmsNormOp>(user).getUp())
                           : bool(cast<RmsNormQuantizeOp>(user).getResidual()) ||
                                 bool(cast<RmsNormQuantizeOp>(user).getUp());
    if (!hasResidual && (!first || user->isBeforeInBlock(first)))
      first = user;
  }
  return first;
}

struct FuseResidualNormPass
    : public tern::impl::FuseResidualNormPassBase<FuseResidualNormPass> {
  void runOnOperation() override {
    SmallVector<AddOp> adds;
    getOperation().walk([&](AddOp add) { adds.push_back(add); });
    for (AddOp add : adds) {
      // The fused kernels add f32 rows, [T, D].
      auto rows = dyn_cast<RankedTensorType>(add.getType());
      if (!rows || rows.getRank() != 2 || !rows.getElementType().isF32())
        continue;
      Operation *norm = firstNormOf(add);
      if (!norm)
        continue;
      // The fused op computes the sum where the norm stands: a use between the add and the
      // norm (or in another block) would read it too early, so such an add stays.
      if (llvm::any_of(add->getUsers(), [&](Operation *user) {
            return user->getBlock() != norm->getBlock() || user->isBeforeInBlock(norm);
          }))
        continue;
      OpBuilder b(norm);
      Location loc = b.getFusedLoc({add.getLoc(), norm->getLoc()});
      if (auto n = dyn_cast<RmsNormOp>(norm)) {
        auto op = RmsNormOp::create(b, loc, n.getResult().getType(), rows, add.getLhs(),
                                    n.getWeight(), add.getRhs(), /*up=*/Value(),
                                    n.getEpsilonAttr(), /*activation=*/StringAttr());
        n.getResult().replaceAllUsesWith(op.getResult());
        add.getResult().replaceAllUsesWith(op.getSum());
      } else {
        auto nq = cast<RmsNormQuantizeOp>(norm);
        auto op = RmsNormQuantizeOp::create(b, loc, nq.getQuantized().getType(),
                                            nq.getScale().getType(), rows, add.getLhs(),
                                            nq.getWeight(), add.getRhs(), /*up=*/Value(),
                                            nq.getEpsilonAttr(), /*activation=*/StringAttr());
        nq.getQuantized().replaceAllUsesWith(op.getQuantized());
        nq.getScale().replaceAllUsesWith(op.getScale());
        add.getResult().replaceAllUsesWith(op.getSum());
      }
      norm->erase();
      add.erase();
    }
  }
};

} // namespace
