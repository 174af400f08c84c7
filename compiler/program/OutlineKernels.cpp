//===- OutlineKernels.cpp - one kernel declaration per distinct op kernel -===//
#include "compiler/program/KernelSpecs.h"
#include "compiler/program/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

#include <map>

namespace tern::program {
#define GEN_PASS_DEF_OUTLINEKERNELSPASS
#include "compiler/program/Passes.h.inc"
} // namespace tern::program

using namespace mlir;

namespace {
struct OutlineKernelsPass
    : public ::tern::program::impl::OutlineKernelsPassBase<OutlineKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError() << "tern-outline-kernels expects a @forward function";
      return signalPassFailure();
    }
    // Kernels outlined by an earlier run are reused, so the pass is idempotent.
    std::map<::tern::KernelSpec, func::FuncOp> declared;
    int64_t nextIndex = 0;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr(::tern::program::kKernelFamilyAttr)) {
        declared[::tern::program::kernelSpecFromDeclaration(fn)] = fn;
        ++nextIndex;
      }

    OpBuilder b(module.getContext());
    b.setInsertionPoint(forward);
    bool failedAny = false;
    for (Operation &op : forward.getBody().front()) {
      if (!::tern::program::needsKernel(&op))
        continue;
      FailureOr<::tern::KernelSpec> spec = ::tern::program::kernelSpecFor(&op);
      if (failed(spec)) {
        failedAny = true;
        continue;
      }
      func::FuncOp &declaration = declared[*spec];
      if (!declaration) {
        std::string symbol = "tern_k" + std::to_string(nextIndex++) + "_" + spec->family;
        declaration = func::FuncOp::create(b, op.getLoc(), symbol, b.getFunctionType({}, {}));
        declaration.setPrivate();
        declaration->setAttr(::tern::program::kKernelFamilyAttr, b.getStringAttr(spec->family));
        declaration->setAttr(::tern::program::kKernelParamsAttr,
                             ::tern::program::kernelParamsAttr(b.getContext(), *spec));
      }
      op.setAttr(::tern::program::kKernelAttr,
                 FlatSymbolRefAttr::get(declaration.getSymNameAttr()));
    }
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace
