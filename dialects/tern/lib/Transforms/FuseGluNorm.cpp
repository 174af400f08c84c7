//===- FuseGluNorm.cpp - gated product into the rms norm that reads it ---------===//
#include "tern/Transforms/Passes.h"

#include "tern/Dialect/TernOps.h"

#include "mlir/IR/Builders.h"

namespace mlir::tern {
#define GEN_PASS_DEF_FUSEGLUNORMPASS
#include "tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

struct FuseGluNormPass : public tern::impl::FuseGluNormPassBase<FuseGluNormPass> {
  void runOnOperation() override {
    SmallVector<GluOp> glus;
    getOperation().walk([&](GluOp glu) { glus.push_back(glu); });
    for (GluOp glu : glus) {
      // The fused kernels compute relu2 only (BitNet's FFN); other gates keep their glu.
      if (glu.getActivation() != "relu2" || !glu->hasOneUse())
        continue;
      Operation *norm = *glu->user_begin();
      if (!isa<RmsNormOp, RmsNormQuantizeOp>(norm) || norm->getOperand(0) != glu.getResult())
        continue;
      OpBuilder b(norm);
      Location loc = b.getFusedLoc({glu.getLoc(), norm->getLoc()});
      StringAttr activation = glu.getActivationAttr();
      if (auto n = dyn_cast<RmsNormOp>(norm)) {
        if (n.getResidual() || n.getUp())
          continue;
        auto op = RmsNormOp::create(b, loc, n.getResult().getType(), /*sum=*/Type(),
                                    glu.getGate(), n.getWeight(), /*residual=*/Value(),
                                    glu.getUp(), n.getEpsilonAttr(), activation);
        n.getResult().replaceAllUsesWith(op.getResult());
      } else {
        auto nq = cast<RmsNormQuantizeOp>(norm);
        if (nq.getResidual() || nq.getUp())
          continue;
        auto op = RmsNormQuantizeOp::create(
            b, loc, nq.getQuantized().getType(), nq.getScale().getType(), /*sum=*/Type(),
            glu.getGate(), nq.getWeight(), /*residual=*/Value(), glu.getUp(),
            nq.getEpsilonAttr(), activation);
        nq.getQuantized().replaceAllUsesWith(op.getQuantized());
        nq.getScale().replaceAllUsesWith(op.getScale());
      }
      norm->erase();
      glu.erase();
    }
  }
};

} // namespace
