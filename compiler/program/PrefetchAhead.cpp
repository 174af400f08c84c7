//===- PrefetchAhead.cpp - GPU: each ternary matmul asks L2 for the next one's weights -===//
#include "compiler/program/KernelSpecs.h"
#include "compiler/program/Passes.h"

#include "tern/Dialect/TernOps.h"

#include "packing/TernaryPacking.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

#include <algorithm>

namespace tern::program {
#define GEN_PASS_DEF_PREFETCHAHEADPASS
#include "compiler/program/Passes.h.inc"
} // namespace tern::program

using namespace mlir;
namespace T = mlir::tern;
using namespace ::tern::program;

namespace {

// At most this much of the next matrix is asked for: H100's L2 holds 50 MB, and the stream of
// the current matrix and the KV cache must fit beside it. A larger matrix gets its first rows
// early and the rest from its own blocks' prefetches.
constexpr int64_t kMostAheadBytes = 16 << 20;

// Bytes of the i2_b128 codes of |mm|'s weights, or 0 for another packing.
int64_t codeBytes(T::TernaryMatmulOp mm) {
  auto type = cast<T::TernaryType>(mm.getWeight().getType());
  if (type.getPacking() != T::PackingKind::i2_b128)
    return 0;
  return type.getN() * ::tern::packing::packedRowBytes(::tern::packing::TernaryLayout::I2B128,
                                                       type.getK());
}

struct PrefetchAheadPass
    : public ::tern::program::impl::PrefetchAheadPassBase<PrefetchAheadPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError() << "tern-gpu-prefetch-ahead expects a @forward function";
      return signalPassFailure();
    }
    llvm::SmallVector<T::TernaryMatmulOp> matmuls;
    for (Operation &op : forward.getBody().front())
      if (auto mm = dyn_cast<T::TernaryMatmulOp>(op); mm && op.hasAttr(kKernelAttr))
        matmuls.push_back(mm);

    KernelDeclarations declarations(module);
    for (size_t i = 0; i + 1 < matmuls.size(); ++i) {
      T::TernaryMatmulOp current = matmuls[i];
      const int64_t ahead = std::min(codeBytes(matmuls[i + 1]), kMostAheadBytes);
      auto symbol = current->getAttrOfType<FlatSymbolRefAttr>(kKernelAttr);
      auto kernel = module.lookupSymbol<func::FuncOp>(symbol);
      if (ahead <= 0 || !kernel)
        continue;
      ::tern::KernelSpec spec = kernelSpecFromDeclaration(kernel);
      spec.ints["prefetch_bytes"] = ahead;
      func::FuncOp declaration = declarations.get(spec, forward);
      current->setAttr(kKernelAttr, FlatSymbolRefAttr::get(declaration.getSymNameAttr()));
      current->setAttr(kPrefetchNextAttr, UnitAttr::get(&getContext()));
    }

    // The last matmul keeps the plain kernel; kernels no op runs any more are gone.
    for (auto fn : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      if (fn->hasAttr(kKernelFamilyAttr) && SymbolTable::symbolKnownUseEmpty(fn, module))
        fn.erase();
  }
};

} // namespace
