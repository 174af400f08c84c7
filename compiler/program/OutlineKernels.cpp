//===- OutlineKernels.cpp - one kernel declaration per distinct op kernel -===//
#include "compiler/program/KernelSpecs.h"
#include "compiler/program/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"


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
    ::tern::program::KernelDeclarations declarations(module);
    bool failedAny = false;
    for (Operation &op : forward.getBody().front()) {
      if (!::tern::program::needsKernel(&op))
        continue;
      FailureOr<::tern::KernelSpec> spec = ::tern::program::kernelSpecFor(&op);
      if (failed(spec)) {
        failedAny = true;
        continue;
      }
      func::FuncOp declaration = declarations.get(*spec, forward);
      op.setAttr(::tern::program::kKernelAttr,
                 FlatSymbolRefAttr::get(declaration.getSymNameAttr()));
    }
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace
