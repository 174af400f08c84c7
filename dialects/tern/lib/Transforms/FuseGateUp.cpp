//===- FuseGateUp.cpp - gate/up projections and act(gate) * up into a glu -===//
#include "MatmulFusion.h"
#include "tern/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

#include <optional>

namespace mlir::tern {
#define GEN_PASS_DEF_FUSEGATEUPPASS
#include "tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {
/// A gated FFN found in the IR: gate and up matmuls meeting in mul(act(gate), up).
struct GatedUnit {
  Operation *gate;
  Operation *up;
  Operation *activation;
  MulOp mul;
  StringRef activationName;
};

static std::optional<StringRef> activationName(Operation *op) {
  if (isa<Relu2Op>(op))
    return StringRef("relu2");
  if (isa<SiluOp>(op))
    return StringRef("silu");
  if (isa<GeluOp>(op))
    return StringRef("gelu");
  return std::nullopt;
}

/// Matches |a| as the gate and |b| as the up projection: mul(act(a), b) (in either
/// operand order), each intermediate used only there.
static std::optional<GatedUnit> matchGatedUnit(Operation *a, Operation *b) {
  Value gate = a->getResult(0), up = b->getResult(0);
  if (!gate.hasOneUse() || !up.hasOneUse())
    return std::nullopt;
  Operation *act = *gate.getUsers().begin();
  std::optional<StringRef> name = activationName(act);
  if (!name || !act->getResult(0).hasOneUse())
    return std::nullopt;
  auto mul = dyn_cast<MulOp>(*act->getResult(0).getUsers().begin());
  if (!mul || *up.getUsers().begin() != mul.getOperation())
    return std::nullopt;
  Value activated = act->getResult(0);
  if (!((mul.getLhs() == activated && mul.getRhs() == up) ||
        (mul.getRhs() == activated && mul.getLhs() == up)))
    return std::nullopt;
  // tern.glu takes gate and up of one type.
  if (gate.getType() != up.getType() || mul.getType() != up.getType())
    return std::nullopt;
  return GatedUnit{a, b, act, mul, *name};
}

struct FuseGateUpPass : public tern::impl::FuseGateUpPassBase<FuseGateUpPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    mergeDuplicateQuantizeAct(func);
    for (SmallVector<Operation *> &group : groupMatmulsByInput(func)) {
      if (group.size() != 2)
        continue;
      std::optional<GatedUnit> unit = matchGatedUnit(group[0], group[1]);
      if (!unit)
        unit = matchGatedUnit(group[1], group[0]);
      if (!unit || !canFuseMatmuls({unit->gate, unit->up}))
        continue;
      Operation *activation = unit->activation;
      MulOp mul = unit->mul;
      StringRef name = unit->activationName;
      // The activation reads the gate slice until it is erased below.
      SmallVector<Value> slices = fuseMatmuls({unit->gate, unit->up});
      OpBuilder b(mul);
      Value glu = GluOp::create(b, b.getFusedLoc({activation->getLoc(), mul.getLoc()}),
                                mul.getType(), slices[0], slices[1], b.getStringAttr(name));
      mul.getResult().replaceAllUsesWith(glu);
      mul.erase();
      activation->erase();
    }
  }
};
} // namespace
