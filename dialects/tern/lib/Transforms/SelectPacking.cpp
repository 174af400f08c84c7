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

/// The largest K tl2_t64 takes (packing::kTl2MaxK, which the dialect does not link): its kernel
/// builds the activations' lookup tables (128 bytes per 12 weights, for up to two rows at once)
/// on the stack of the thread that runs it, kept under 512 KiB. Longer rows stay i2_b128.
constexpr int64_t kMaxTl2K = 24576;

/// Whether |weight| (or the concatenation it feeds) only reaches ternary matmuls, the one op
/// with a tl2_t64 kernel.
static bool onlyTernaryMatmuls(Operation *weight) {
  for (Operation *user : weight->getUsers()) {
    if (isa<ConcatWeightsOp>(user)) {
      if (!onlyTernaryMatmuls(user))
        return false;
    } else if (!isa<TernaryMatmulOp>(user)) {
      return false;
    }
  }
  return true;
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
    // `layout=tl2_t64` asks for the lookup-table layout on AVX-512 CPU targets instead: 1.67
    // bits per weight, read with vpermb (docs/perf/lut.md); the matrices it cannot hold keep
    // i2_b128.
    if (!isKnownCPUTarget(target) && !isKnownGPUTarget(target)) {
      func.emitError() << "tern-select-packing: no ternary weight layout for target '"
                       << target
                       << "' (known: x86-64-v4, x86-64-v3, generic, native, sm_80, sm_90, sm_90a)";
      return signalPassFailure();
    }
    if (layout != "i2_b128" && layout != "tl2_t64") {
      func.emitError() << "tern-select-packing: unknown ternary layout '" << layout
                       << "' (known: i2_b128, tl2_t64)";
      return signalPassFailure();
    }
    const bool lookupTables = layout == "tl2_t64";
    if (lookupTables && target != "x86-64-v4" && target != "native") {
      func.emitError() << "tern-select-packing: the tl2_t64 layout needs an AVX-512 CPU target "
                          "(x86-64-v4 or native), not '"
                       << target << "'";
      return signalPassFailure();
    }

    // The layout of each weight: tl2_t64 where asked and possible. The parts of a
    // concatenation are stored one after the other as one matrix, so they share a layout.
    auto fitsTl2 = [](WeightOp weight) {
      auto type = cast<TernaryType>(weight.getType());
      return type.getN() % 64 == 0 && type.getK() <= kMaxTl2K &&
             onlyTernaryMatmuls(weight.getOperation());
    };
    llvm::DenseMap<Operation *, PackingKind> chosen;
    func.walk([&](WeightOp weight) {
      if (isa<TernaryType>(weight.getType()))
        chosen[weight] = lookupTables && fitsTl2(weight) ? PackingKind::tl2_t64
                                                          : PackingKind::i2_b128;
    });
    func.walk([&](ConcatWeightsOp concat) {
      if (!isa<TernaryType>(concat.getType()))
        return;
      bool allTl2 = llvm::all_of(concat.getInputs(), [&](Value input) {
        auto found = chosen.find(input.getDefiningOp());
        return found != chosen.end() && found->second == PackingKind::tl2_t64;
      });
      if (!allTl2)
        for (Value input : concat.getInputs())
          if (auto found = chosen.find(input.getDefiningOp()); found != chosen.end())
            found->second = PackingKind::i2_b128;
    });

    func.walk([&](WeightOp weight) {
      auto type = dyn_cast<TernaryType>(weight.getType());
      if (!type)
        return;
      const PackingKind packing = chosen.lookup(weight);
      if (type.getPacking() == packing)
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
