//===- FuseNormQuant.cpp - rms_norm + quantize_act into rms_norm_quantize -===//
#include "MatmulFusion.h"
#include "tern/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::tern {
#define GEN_PASS_DEF_FUSENORMQUANTPASS
#include "tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {
struct FuseNormQuantPass : public tern::impl::FuseNormQuantPassBase<FuseNormQuantPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    // Three projections of one normalized row each quantize it; one quantization, and
    // so one fused op, serves them all.
    mergeDuplicateQuantizeAct(func);

    SmallVector<RmsNormOp> norms;
    func.walk([&](RmsNormOp norm) { norms.push_back(norm); });
    for (RmsNormOp norm : norms) {
      // rms_norm_quantize works on [T, K] f32 rows, like quantize_act.
      auto rows = dyn_cast<RankedTensorType>(norm.getResult().getType());
      if (!rows || rows.getRank() != 2 || !rows.getElementType().isF32() || norm.getResidual() ||
          norm.getUp())
        continue;
      if (norm->use_empty() || !llvm::all_of(norm->getUsers(), [](Operation *user) {
            return isa<QuantizeActOp>(user);
          }))
        continue;
      SmallVector<Operation *> users(norm->getUsers());
      for (Operation *user : users) {
        auto quant = cast<QuantizeActOp>(user);
        OpBuilder b(quant);
        auto fused = RmsNormQuantizeOp::create(
            b, b.getFusedLoc({norm.getLoc(), quant.getLoc()}), quant.getQuantized().getType(),
            quant.getScale().getType(), /*sum=*/Type(), norm.getInput(), norm.getWeight(),
            /*residual=*/Value(), /*up=*/Value(), norm.getEpsilonAttr(),
            /*activation=*/StringAttr());
        quant.getQuantized().replaceAllUsesWith(fused.getQuantized());
        quant.getScale().replaceAllUsesWith(fused.getScale());
        quant.erase();
      }
      norm.erase();
    }
  }
};
} // namespace
