//===- MatmulFusion.cpp - shared steps of the QKV and gate/up fusions -----===//
#include "MatmulFusion.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"

using namespace mlir;
using namespace mlir::tern;

void mlir::tern::mergeDuplicateQuantizeAct(func::FuncOp func) {
  // The first quantize_act of a value in a block dominates the later ones there.
  DenseMap<std::pair<Block *, Value>, QuantizeActOp> first;
  SmallVector<QuantizeActOp> duplicates;
  func.walk([&](QuantizeActOp op) {
    auto [it, inserted] = first.try_emplace({op->getBlock(), op.getInput()}, op);
    if (!inserted && it->second.getType(0) == op.getType(0) &&
        it->second.getType(1) == op.getType(1)) {
      op.getQuantized().replaceAllUsesWith(it->second.getQuantized());
      op.getScale().replaceAllUsesWith(it->second.getScale());
      duplicates.push_back(op);
    }
  });
  for (QuantizeActOp op : duplicates)
    op.erase();
}

Value mlir::tern::matmulInput(Operation *matmul) {
  if (auto ternary = dyn_cast<TernaryMatmulOp>(matmul))
    return ternary.getInput();
  return cast<MatmulOp>(matmul).getInput();
}

static Value matmulWeight(Operation *matmul) {
  if (auto ternary = dyn_cast<TernaryMatmulOp>(matmul))
    return ternary.getWeight();
  return cast<MatmulOp>(matmul).getWeight();
}

SmallVector<SmallVector<Operation *>> mlir::tern::groupMatmulsByInput(func::FuncOp func) {
  llvm::MapVector<std::pair<Block *, Value>, SmallVector<Operation *>> groups;
  func.walk([&](Operation *op) {
    if (isa<TernaryMatmulOp, MatmulOp>(op))
      groups[{op->getBlock(), matmulInput(op)}].push_back(op);
  });
  SmallVector<SmallVector<Operation *>> result;
  for (auto &entry : groups)
    result.push_back(std::move(entry.second));
  return result;
}

bool mlir::tern::canFuseMatmuls(ArrayRef<Operation *> matmuls) {
  if (matmuls.size() < 2)
    return false;
  Operation *front = matmuls.front();
  for (Operation *op : matmuls) {
    if (op->getName() != front->getName() || op->getBlock() != front->getBlock())
      return false;
    // The artifact writer finds each part's bytes through its tern.weight.
    auto weight = matmulWeight(op).getDefiningOp<WeightOp>();
    if (!weight)
      return false;
    if (auto ternary = dyn_cast<TernaryMatmulOp>(op)) {
      auto type = cast<TernaryType>(ternary.getWeight().getType());
      auto firstType = cast<TernaryType>(matmulWeight(front).getType());
      if (ternary.getInputScale() != cast<TernaryMatmulOp>(front).getInputScale() ||
          ternary.getDivideByScale() != cast<TernaryMatmulOp>(front).getDivideByScale() ||
          type.getK() != firstType.getK() || type.getPacking() != firstType.getPacking() ||
          type.getScale() != firstType.getScale() ||
          type.getScaleGroup() != firstType.getScaleGroup())
        return false;
    } else {
      // The float matmul kernel applies no separate weight scale, so a weight that has
      // one keeps its own matmul.
      if (weight.getScaleName())
        return false;
      auto type = cast<RankedTensorType>(matmulWeight(op).getType());
      auto firstType = cast<RankedTensorType>(matmulWeight(front).getType());
      if (type.getElementType() != firstType.getElementType() ||
          type.getDimSize(1) != firstType.getDimSize(1))
        return false;
    }
  }
  return true;
}

SmallVector<Value> mlir::tern::fuseMatmuls(ArrayRef<Operation *> matmuls) {
  Operation *earliest = matmuls.front();
  for (Operation *op : matmuls)
    if (op->isBeforeInBlock(earliest))
      earliest = op;
  // Weights have no operands, so they can move up to where the fused matmul goes.
  SmallVector<Value> weights;
  for (Operation *op : matmuls) {
    Operation *weight = matmulWeight(op).getDefiningOp();
    if (weight->getBlock() == earliest->getBlock() && earliest->isBeforeInBlock(weight))
      weight->moveBefore(earliest);
    weights.push_back(matmulWeight(op));
  }

  OpBuilder b(earliest);
  MLIRContext *ctx = b.getContext();
  Location loc = b.getFusedLoc(llvm::map_to_vector(matmuls, [](Operation *op) {
    return op->getLoc();
  }));
  SmallVector<int64_t> widths;
  int64_t total = 0;
  for (Operation *op : matmuls) {
    widths.push_back(cast<RankedTensorType>(op->getResult(0).getType()).getDimSize(1));
    total += widths.back();
  }
  auto firstResult = cast<RankedTensorType>(earliest->getResult(0).getType());
  auto fusedResult = RankedTensorType::get({firstResult.getDimSize(0), total},
                                           firstResult.getElementType());

  Value fused;
  if (auto ternary = dyn_cast<TernaryMatmulOp>(earliest)) {
    auto part = cast<TernaryType>(ternary.getWeight().getType());
    auto stacked = TernaryType::get(ctx, {total, part.getK()}, part.getPacking(),
                                    ScaleKind::per_row, /*scaleGroup=*/0);
    Value weight = ConcatWeightsOp::create(b, loc, stacked, weights);
    fused = TernaryMatmulOp::create(b, loc, fusedResult, ternary.getInput(),
                                    ternary.getInputScale(), weight,
                                    ternary.getDivideByScale());
  } else {
    auto part = cast<RankedTensorType>(matmulWeight(earliest).getType());
    auto stacked = RankedTensorType::get({total, part.getDimSize(1)}, part.getElementType());
    Value weight = ConcatWeightsOp::create(b, loc, stacked, weights);
    fused = MatmulOp::create(b, loc, fusedResult, matmulInput(earliest), weight);
  }

  SmallVector<Value> slices;
  int64_t offset = 0;
  for (auto [op, width] : llvm::zip_equal(matmuls, widths)) {
    Value slice = SliceColumnsOp::create(b, op->getLoc(), op->getResult(0).getType(), fused,
                                         b.getI64IntegerAttr(offset));
    op->getResult(0).replaceAllUsesWith(slice);
    slices.push_back(slice);
    offset += width;
  }
  for (Operation *op : matmuls)
    op->erase();
  return slices;
}
