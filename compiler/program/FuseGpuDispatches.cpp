//===- FuseGpuDispatches.cpp - one GPU dispatch for rope and the KV-cache write -===//
#include "compiler/program/KernelSpecs.h"
#include "compiler/program/Passes.h"

#include "tern/Dialect/TernOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace tern::program {
#define GEN_PASS_DEF_FUSEGPUDISPATCHESPASS
#include "compiler/program/Passes.h.inc"
} // namespace tern::program

using namespace mlir;
namespace T = mlir::tern;
using namespace ::tern::program;

namespace {

int64_t widthOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }

// The kernel declaration |op| dispatches.
func::FuncOp kernelOf(ModuleOp module, Operation *op) {
  auto symbol = op->getAttrOfType<FlatSymbolRefAttr>(kKernelAttr);
  return symbol ? module.lookupSymbol<func::FuncOp>(symbol) : func::FuncOp();
}

// Whether |write| stores, as its keys, the last kv heads of what |rope| rotated (a column
// slice of q and k rotated together, or k rotated alone): the fused kernel then takes them
// from the rotation, not from a binding.
bool keysAreRopeTail(T::RopeOp rope, T::KVCacheWriteOp write) {
  auto kv = cast<T::KVCacheType>(write.getCache().getType());
  const int64_t width = kv.getNumKVHeads() * kv.getHeadDim();
  Value keys = write.getKey();
  int64_t offset = 0;
  if (auto slice = keys.getDefiningOp<T::SliceColumnsOp>()) {
    keys = slice.getInput();
    offset = slice.getOffset();
  }
  // The rope's attributes are unsigned, the cache type's signed.
  const int64_t ropeHeadDim = rope.getHeadDim(), ropeWidth = rope.getNumHeads() * ropeHeadDim;
  return keys == rope.getResult() && kv.getHeadDim() == ropeHeadDim &&
         widthOf(write.getKey()) == width && offset + width == ropeWidth;
}

// rope_kv_cache_write from the two kernels' parameters (docs/kernels.md), or nothing when they
// disagree on the layout.
std::optional<::tern::KernelSpec> fusedSpec(const ::tern::KernelSpec &rope,
                                            const ::tern::KernelSpec &write) {
  if (rope.getInt("head_dim") != write.getInt("head_dim") ||
      rope.getInt("context") != write.getInt("context") ||
      rope.getInt("stride") != write.getInt("k_stride"))
    return std::nullopt;
  ::tern::KernelSpec fused;
  fused.family = "rope_kv_cache_write";
  for (const char *name : {"heads", "head_dim", "stride", "context"})
    fused.ints[name] = rope.getInt(name);
  fused.ints["kv_heads"] = write.getInt("kv_heads");
  fused.ints["v_stride"] = write.getInt("v_stride");
  fused.strings["style"] = rope.getString("style");
  return fused;
}

struct FuseGpuDispatchesPass
    : public ::tern::program::impl::FuseGpuDispatchesPassBase<FuseGpuDispatchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError() << "tern-fuse-gpu-dispatches expects a @forward function";
      return signalPassFailure();
    }
    KernelDeclarations declarations(module);

    // Pairs of consecutive dispatches: a rope and the KV-cache write of its keys.
    Operation *previous = nullptr;
    for (Operation &op : forward.getBody().front()) {
      if (!op.hasAttr(kKernelAttr))
        continue;
      auto rope = dyn_cast_or_null<T::RopeOp>(previous);
      auto write = dyn_cast<T::KVCacheWriteOp>(op);
      previous = &op;
      if (!rope || !write || !keysAreRopeTail(rope, write))
        continue;
      func::FuncOp ropeKernel = kernelOf(module, rope), writeKernel = kernelOf(module, write);
      if (!ropeKernel || !writeKernel)
        continue;
      std::optional<::tern::KernelSpec> spec = fusedSpec(kernelSpecFromDeclaration(ropeKernel),
                                                         kernelSpecFromDeclaration(writeKernel));
      if (!spec)
        continue;
      func::FuncOp declaration = declarations.get(*spec, forward);
      write->setAttr(kKernelAttr, FlatSymbolRefAttr::get(declaration.getSymNameAttr()));
      rope->removeAttr(kKernelAttr);
      rope->setAttr(kFusedIntoNextAttr, UnitAttr::get(&getContext()));
      previous = nullptr;
    }

    // Kernels only the fused pairs ran are gone from the library.
    for (auto fn : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      if (fn->hasAttr(kKernelFamilyAttr) && SymbolTable::symbolKnownUseEmpty(fn, module))
        fn.erase();
  }
};

} // namespace
