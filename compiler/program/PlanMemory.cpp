//===- PlanMemory.cpp - static arena offsets for the activations of @forward -===//
#include "compiler/program/KernelSpecs.h"
#include "compiler/program/Passes.h"

#include "tern/Dialect/TernOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>

namespace tern::program {
#define GEN_PASS_DEF_PLANMEMORYPASS
#include "compiler/program/Passes.h.inc"
} // namespace tern::program

using namespace mlir;
namespace T = mlir::tern;
using namespace ::tern::program;

namespace {

constexpr int64_t kAlignment = 64;

int64_t alignUp(int64_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

// Bytes shared by every value that is a view of, or written in place over, one kernel result.
struct Storage {
  int64_t size = 0;
  int64_t start = 0, end = 0; // op indices: written at |start|, last read at |end|
  int64_t offset = -1;
  bool singleRow = false; // computed for the last row only: no row stride
};

struct PlanMemoryPass : public ::tern::program::impl::PlanMemoryPassBase<PlanMemoryPass> {
  using ::tern::program::impl::PlanMemoryPassBase<PlanMemoryPass>::PlanMemoryPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError() << "tern-plan-memory expects a @forward function";
      return signalPassFailure();
    }
    if (maxRows < 1) {
      forward.emitError() << "tern-plan-memory: max-rows must be at least 1, got " << int64_t(maxRows);
      return signalPassFailure();
    }
    Block &body = forward.getBody().front();
    llvm::DenseMap<Operation *, int64_t> index;
    for (Operation &op : body)
      index[&op] = index.size();

    // A previous plan (another entry point's) is replaced as a whole.
    for (Operation &op : body)
      for (StringRef name : {kArenaOffsetsAttr, kRowStridesAttr, kInplaceOperandAttr})
        op.removeAttr(name);
    llvm::DenseSet<Operation *> lastRow = lastRowOps(body);
    for (Operation &op : body) {
      if (lastRow.contains(&op))
        op.setAttr(kLastRowAttr, UnitAttr::get(&getContext()));
      else
        op.removeAttr(kLastRowAttr);
    }

    // An op fused into the next dispatch (tern-fuse-gpu-dispatches) reads its operands when
    // that dispatch runs.
    llvm::DenseMap<Operation *, int64_t> readsAt;
    SmallVector<Operation *> fused;
    for (Operation &op : body) {
      if (op.hasAttr(kFusedIntoNextAttr)) {
        fused.push_back(&op);
      } else if (op.hasAttr(kKernelAttr)) {
        for (Operation *waiting : fused)
          readsAt[waiting] = index[&op];
        fused.clear();
      }
    }
    auto lastUse = [&](Value v) {
      int64_t last = index[v.getDefiningOp()];
      for (Operation *user : v.getUsers())
        last = std::max(last, readsAt.lookup_or(user, index[user]));
      return last;
    };

    // Phase 1: which values share storage, and each storage's lifetime.
    std::vector<Storage> storages;
    llvm::DenseMap<Value, size_t> storageOf;
    for (Operation &op : body) {
      const int64_t i = index[&op];
      if (!needsKernel(&op) && !isa<T::SliceColumnsOp>(op))
        continue;
      for (Value result : op.getResults()) {
        if (!isa<RankedTensorType>(result.getType()))
          continue;
        size_t storage;
        if (auto slice = dyn_cast<T::SliceColumnsOp>(op)) {
          storage = storageOf.lookup(slice.getInput());
        } else if (auto rope = dyn_cast<T::RopeOp>(op)) {
          if (!rope.getInput().hasOneUse()) {
            rope.emitError() << "rope rotates its input in place, but the input has other users";
            return signalPassFailure();
          }
          storage = storageOf.lookup(rope.getInput());
        } else if (std::optional<unsigned> operand =
                       inplaceOperand(op, result, i, storages, storageOf, lastRow)) {
          storage = storageOf.lookup(activationLayout(op.getOperand(*operand)).root);
          op.setAttr(kInplaceOperandAttr,
                     IntegerAttr::get(IntegerType::get(&getContext(), 64), *operand));
        } else {
          Storage s;
          s.singleRow = lastRow.contains(&op);
          s.size = alignUp((s.singleRow ? 1 : int64_t(maxRows)) * rowWidth(result) *
                           elementBytes(result));
          s.start = s.end = i;
          storage = storages.size();
          storages.push_back(s);
        }
        storageOf[result] = storage;
        storages[storage].end = std::max(storages[storage].end, lastUse(result));
      }
    }

    // Phase 2: largest first, each at the lowest offset free for its whole lifetime.
    std::vector<size_t> order(storages.size());
    for (size_t s = 0; s < order.size(); ++s)
      order[s] = s;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return storages[a].size > storages[b].size;
    });
    int64_t arenaBytes = 0;
    std::vector<size_t> placed;
    for (size_t s : order) {
      Storage &current = storages[s];
      std::vector<std::pair<int64_t, int64_t>> busy; // [offset, offset + size)
      for (size_t p : placed) {
        const Storage &other = storages[p];
        if (other.start <= current.end && current.start <= other.end)
          busy.push_back({other.offset, other.offset + other.size});
      }
      std::sort(busy.begin(), busy.end());
      int64_t offset = 0;
      for (auto [begin, end] : busy) {
        if (offset + current.size <= begin)
          break;
        offset = std::max(offset, end);
      }
      current.offset = offset;
      arenaBytes = std::max(arenaBytes, offset + current.size);
      placed.push_back(s);
    }

    // Phase 3: record offsets and row strides on the ops.
    OpBuilder b(&getContext());
    for (Operation &op : body) {
      SmallVector<int64_t> offsets, strides;
      for (Value result : op.getResults()) {
        auto found = storageOf.find(result);
        if (found == storageOf.end())
          continue;
        const Storage &s = storages[found->second];
        ActivationLayout layout = activationLayout(result);
        offsets.push_back(s.offset + layout.columnOffset * elementBytes(result));
        strides.push_back(s.singleRow ? 0 : layout.rowStride * elementBytes(result));
      }
      if (offsets.empty())
        continue;
      op.setAttr(kArenaOffsetsAttr, b.getDenseI64ArrayAttr(offsets));
      op.setAttr(kRowStridesAttr, b.getDenseI64ArrayAttr(strides));
    }
    forward->setAttr(kArenaBytesAttr, b.getI64IntegerAttr(arenaBytes));
    forward->setAttr(kMaxRowsAttr, b.getI64IntegerAttr(maxRows));
  }

  // With last-row-logits: the logits and the row-wise ops whose results only feed them.
  llvm::DenseSet<Operation *> lastRowOps(Block &body) {
    llvm::DenseSet<Operation *> ops;
    if (!lastRowLogits)
      return ops;
    for (Operation &op : llvm::reverse(body)) {
      if (isa<T::LogitsOp>(op)) {
        ops.insert(&op);
        continue;
      }
      if (!isa<T::RmsNormOp, T::LayerNormOp, T::RmsNormQuantizeOp, T::QuantizeActOp>(op) ||
          op.use_empty())
        continue;
      if (llvm::all_of(op.getUsers(), [&](Operation *user) { return ops.contains(user); }))
        ops.insert(&op);
    }
    return ops;
  }

  // The sum result of a norm with a fused residual add (tern-fuse-residual-norm), else null.
  static Value residualSum(Operation &op) {
    if (auto n = dyn_cast<T::RmsNormOp>(op))
      return n.getSum();
    if (auto n = dyn_cast<T::RmsNormQuantizeOp>(op))
      return n.getSum();
    return Value();
  }

  // The operand whose storage |result| may take: for a tern.add (either operand) or the sum of
  // a norm with a fused residual add (its input or residual), or a tern.bias_add (its
  // input); contiguous, last read here.
  std::optional<unsigned> inplaceOperand(Operation &op, Value result, int64_t i,
                                         const std::vector<Storage> &storages,
                                         const llvm::DenseMap<Value, size_t> &storageOf,
                                         const llvm::DenseSet<Operation *> &lastRow) {
    if (lastRow.contains(&op))
      return std::nullopt;
    SmallVector<unsigned, 2> candidates;
    if (isa<T::AddOp>(op))
      candidates = {0, 1};
    else if (isa<T::BiasAddOp>(op))
      candidates = {0};
    else if (result == residualSum(op))
      candidates = {0, 2}; // input, residual
    for (unsigned operand : candidates) {
      Value v = op.getOperand(operand);
      ActivationLayout layout = activationLayout(v);
      auto found = storageOf.find(layout.root);
      if (found == storageOf.end() || layout.columnOffset != 0 ||
          layout.rowStride != rowWidth(result))
        continue;
      const Storage &s = storages[found->second];
      // Dies here when no value in it is read later (a later view would be a later read).
      if (s.singleRow || s.end > i)
        continue;
      if (operand != 0 && op.getOperand(0) == op.getOperand(operand))
        continue;
      return operand;
    }
    return std::nullopt;
  }
};

} // namespace

void ::tern::program::registerProgramPasses() { registerTernProgramPasses(); }
