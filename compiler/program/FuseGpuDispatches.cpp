//===- FuseGpuDispatches.cpp - fewer GPU dispatches (Passes.td) ------------------===//
#include "compiler/program/KernelSpecs.h"
#include "compiler/program/Passes.h"

#include "NormStatsKernelSpecs.h"

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
  return keys == rope.getResult() && kv.getHeadDim() == rope.getHeadDim() &&
         widthOf(write.getKey()) == width &&
         offset + width == rope.getNumHeads() * rope.getHeadDim();
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

// A residual norm the decode entry point splits between the ternary matmuls around it.
struct NormSplit {
  T::TernaryMatmulOp producer;
  T::RmsNormQuantizeOp norm;
  T::TernaryMatmulOp consumer;
};

// The widest row a split norm's consumer stages at once (its shared-memory tile holds 24576).
constexpr int64_t kMostSplitNormWidth = 16384;

bool isUsedAfter(Value value, Operation *op) {
  for (Operation *user : value.getUsers())
    if (op->isBeforeInBlock(user))
      return true;
  return false;
}

// Whether |producer|, |norm| and |consumer| (consecutive dispatches) can split the norm: the
// norm adds the producer's result to a residual, its codes feed the consumer alone, and its
// sum lives on past the consumer (which reads it).
bool canSplitNorm(T::TernaryMatmulOp producer, T::RmsNormQuantizeOp norm,
                  T::TernaryMatmulOp consumer, const ::tern::KernelSpec &normSpec) {
  if (normSpec.family != "rms_norm_quantize" || normSpec.getInt("residual") != 1 ||
      normSpec.getInt("gated") != 0 || !norm.getResidual() || !norm.getSum())
    return false;
  Value y = producer.getResult();
  if ((norm.getInput() == y) == (norm.getResidual() == y))
    return false; // the producer's result must be exactly one of the two addends
  if (!norm.getQuantized().hasOneUse() || !norm.getScale().hasOneUse() ||
      consumer.getInput() != norm.getQuantized() || consumer.getInputScale() != norm.getScale())
    return false;
  if (!isUsedAfter(norm.getSum(), consumer))
    return false;
  for (Operation *op : {producer.getOperation(), norm.getOperation(), consumer.getOperation()})
    if (op->hasAttr(kLastRowAttr) || op->hasAttr(kFusedIntoNextAttr) ||
        op->hasAttr(kDecodeKernelAttr))
      return false;
  // The consumer stages the whole row at once, a word of 4 codes per thread at a time.
  const int64_t k = cast<T::TernaryType>(consumer.getWeight().getType()).getK();
  return widthOf(y) == widthOf(norm.getSum()) && k == widthOf(norm.getSum()) && k % 4 == 0 &&
         k <= kMostSplitNormWidth;
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

    // At decode, residual norms between two ternary matmuls (NormStatsKernelSpecs.h).
    llvm::SmallVector<NormSplit> splits;
    llvm::SmallVector<Operation *, 3> window;
    for (Operation &op : forward.getBody().front()) {
      if (!op.hasAttr(kKernelAttr))
        continue;
      window.push_back(&op);
      if (window.size() > 3)
        window.erase(window.begin());
      if (window.size() < 3)
        continue;
      auto producer = dyn_cast<T::TernaryMatmulOp>(window[0]);
      auto norm = dyn_cast<T::RmsNormQuantizeOp>(window[1]);
      auto consumer = dyn_cast<T::TernaryMatmulOp>(window[2]);
      if (!producer || !norm || !consumer)
        continue;
      // A matmul is one split's consumer or another's producer, not both.
      if (!splits.empty() && splits.back().consumer == producer)
        continue;
      func::FuncOp normKernel = kernelOf(module, norm);
      if (!normKernel || !kernelOf(module, producer) || !kernelOf(module, consumer) ||
          !canSplitNorm(producer, norm, consumer, kernelSpecFromDeclaration(normKernel)))
        continue;
      splits.push_back({producer, norm, consumer});
    }
    // Each producer zeroes the record of the split before it (the last split's record is
    // zeroed by the first producer of the next step), so it takes two splits at least.
    if (splits.size() >= 2) {
      const int64_t count = int64_t(splits.size());
      for (int64_t i = 0; i < count; ++i) {
        NormSplit &split = splits[size_t(i)];
        ::tern::KernelSpec producerSpec = kernelSpecFromDeclaration(kernelOf(module, split.producer));
        producerSpec.family = ::tern::kTernaryMatmulResidualStatsFamily;
        ::tern::KernelSpec consumerSpec = kernelSpecFromDeclaration(kernelOf(module, split.consumer));
        consumerSpec.family = ::tern::kRmsNormStatsTernaryMatmulFamily;
        consumerSpec.floats["eps"] = kernelSpecFromDeclaration(kernelOf(module, split.norm)).getFloat("eps");
        split.producer->setAttr(kDecodeKernelAttr, FlatSymbolRefAttr::get(declarations.get(producerSpec, forward).getSymNameAttr()));
        split.consumer->setAttr(kDecodeKernelAttr, FlatSymbolRefAttr::get(declarations.get(consumerSpec, forward).getSymNameAttr()));
        split.norm->setAttr(kDecodeNormStatsAttr,
                            DenseI64ArrayAttr::get(&getContext(), {i, (i + count - 1) % count}));
      }
    }

    // Kernels only the fused pairs ran are gone from the library.
    for (auto fn : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      if (fn->hasAttr(kKernelFamilyAttr) && SymbolTable::symbolKnownUseEmpty(fn, module))
        fn.erase();
  }
};

} // namespace
