//===- SelectPacking.cpp - the target's storage layout for ternary weights ===//
#include "tern/Transforms/Passes.h"

namespace mlir::tern {
#define GEN_PASS_DEF_SELECTPACKINGPASS
#include "tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {
/// Returns |type| stored as |packing|, with its shape and scales unchanged.
static TernaryType withPacking(TernaryType type, PackingKind packing) {
  return TernaryType::get(type.getContext(), type.getShape(), packing, type.getScale(),
                          type.getScaleGroup());
}

struct SelectPackingPass : public tern::impl::SelectPackingPassBase<SelectPackingPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    // Every backend reads i2_b128. On x86 one 32-byte load and four shift-and-mask steps
    // give 32 consecutive weights for vpmaddubsw / vpdpbusd. On NVIDIA GPUs a thread's 4-byte
    // word, masked after shifts by 0, 2, 4 and 6, gives four groups of four consecutive
    // weights, each the byte operand of one dp4a against four consecutive int8 activations,
    // and a warp's 16-byte loads cover 512 contiguous bytes of a row (docs/kernels.md).
    if (!isKnownCPUTarget(target) && !isKnownGPUTarget(target)) {
      func.emitError() << "tern-select-packing: no ternary weight layout for target '"
                       << target
                       << "' (known: x86-64-v4, x86-64-v3, generic, native, sm_80, sm_90, sm_90a)";
      return signalPassFailure();
    }
    const PackingKind packing = PackingKind::i2_b128;

    func.walk([&](WeightOp weight) {
      auto type = dyn_cast<TernaryType>(weight.getType());
      if (!type || type.getPacking() == packing)
        return;
      // Only tern ops accept any packing; a weight reaching another op (a return, a
      // call) keeps the type that op was built with.
      if (llvm::any_of(weight->getUsers(), [](Operation *user) {
            return !isa<TernDialect>(user->getDialect());
          }))
        return;
      // A second run keeps the layout of the file's bytes, not an intermediate one.
      if (!weight.getSourcePacking())
        weight.setSourcePackingAttr(PackingKindAttr::get(&getContext(), type.getPacking()));
      weight.getResult().setType(withPacking(type, packing));
    });
    // Concatenations take the packing of their (now repacked) operands; walking in
    // program order updates a concatenation's operands before the concatenation.
    func.walk([&](ConcatWeightsOp concat) {
      auto type = dyn_cast<TernaryType>(concat.getType());
      if (!type)
        return;
      auto operand = cast<TernaryType>(concat.getInputs().front().getType());
      if (type.getPacking() != operand.getPacking())
        concat.getResult().setType(withPacking(type, operand.getPacking()));
    });
  }
};
} // namespace
