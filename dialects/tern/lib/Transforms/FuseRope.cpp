//===- FuseRope.cpp - one rope over adjacent slices of one buffer ---------===//
#include "tern/Transforms/Passes.h"

namespace mlir::tern {
#define GEN_PASS_DEF_FUSEROPEPASS
#include "tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

// The slice a rope rotates, when its input is one.
SliceColumnsOp slicedInput(RopeOp rope) { return rope.getInput().getDefiningOp<SliceColumnsOp>(); }

int64_t widthOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }

// Whether |a| then |b| rotate adjacent columns of one buffer the same way.
bool fusable(RopeOp a, RopeOp b) {
  SliceColumnsOp sa = slicedInput(a), sb = slicedInput(b);
  return sa && sb && sa.getInput() == sb.getInput() && a.getPos() == b.getPos() &&
         a.getStyle() == b.getStyle() && a.getTheta() == b.getTheta() &&
         a.getHeadDim() == b.getHeadDim() && a.getFreqScale() == b.getFreqScale() &&
         sa.getOffset() + widthOf(sa.getResult()) == sb.getOffset();
}

RankedTensorType rowsOf(RankedTensorType like, int64_t width) {
  return RankedTensorType::get({like.getDimSize(0), width}, like.getElementType());
}

void fuse(RopeOp a, RopeOp b) {
  SliceColumnsOp sa = slicedInput(a), sb = slicedInput(b);
  const int64_t widthA = widthOf(sa.getResult()), widthB = widthOf(sb.getResult());
  auto type = cast<RankedTensorType>(sa.getResult().getType());
  // The fused rope goes where the later of the two was: both inputs exist there, and every
  // user of either result comes after it.
  RopeOp later = b->isBeforeInBlock(a) ? a : b;
  OpBuilder builder(later);
  Location loc = later.getLoc();
  auto both = SliceColumnsOp::create(builder, loc, rowsOf(type, widthA + widthB), sa.getInput(),
                                     builder.getI64IntegerAttr(sa.getOffset()));
  auto rope = RopeOp::create(builder, loc, both.getResult().getType(), both.getResult(),
                             a.getPos(), a.getStyleAttr(), a.getThetaAttr(), a.getHeadDimAttr(),
                             builder.getI64IntegerAttr(a.getNumHeads() + b.getNumHeads()),
                             a.getFreqScaleAttr());
  auto partA = SliceColumnsOp::create(builder, loc, a.getResult().getType(), rope.getResult(),
                                      builder.getI64IntegerAttr(0));
  auto partB = SliceColumnsOp::create(builder, loc, b.getResult().getType(), rope.getResult(),
                                      builder.getI64IntegerAttr(widthA));
  // Users of the earlier rope may sit between the two ropes: move the fused chain up to it.
  RopeOp earlier = later == a ? b : a;
  for (Operation *op : {both.getOperation(), rope.getOperation(), partA.getOperation(),
                        partB.getOperation()})
    op->moveBefore(earlier);
  a.getResult().replaceAllUsesWith(partA.getResult());
  b.getResult().replaceAllUsesWith(partB.getResult());
  a.erase();
  b.erase();
  for (SliceColumnsOp slice : {sa, sb})
    if (slice->use_empty())
      slice.erase();
}

struct FuseRopePass : public tern::impl::FuseRopePassBase<FuseRopePass> {
  void runOnOperation() override {
    // Pairs are fused in program order; a fused rope's input is a fresh slice, so it never
    // pairs again in the same run.
    SmallVector<RopeOp> ropes;
    getOperation().walk([&](RopeOp rope) { ropes.push_back(rope); });
    llvm::SmallPtrSet<Operation *, 16> done;
    for (size_t i = 0; i < ropes.size(); ++i) {
      if (done.contains(ropes[i]))
        continue;
      for (size_t j = i + 1; j < ropes.size(); ++j) {
        if (done.contains(ropes[j]) || ropes[i]->getBlock() != ropes[j]->getBlock())
          continue;
        RopeOp first = ropes[i], second = ropes[j];
        if (!fusable(first, second))
          std::swap(first, second);
        if (!fusable(first, second))
          continue;
        done.insert(ropes[i]);
        done.insert(ropes[j]);
        // The earlier rope's position value must be defined before the fused chain, which
        // sits at the earlier rope: it is, as both ropes use the same value.
        fuse(first, second);
        break;
      }
    }
  }
};

} // namespace
