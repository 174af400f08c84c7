//===- QuantizeLmHead.cpp - the lm_head's storage precision (ternc --lm-head) ===//
#include "tern/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::tern {
#define GEN_PASS_DEF_QUANTIZELMHEADPASS
#include "tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

/// Whether |a| and |b| read the same tensor of the same file the same way (a tied embedding
/// and lm_head import as two such ops).
bool sameSource(WeightOp a, WeightOp b) {
  return a.getName() == b.getName() && a.getDtype() == b.getDtype() &&
         a.getOffset() == b.getOffset() && a.getSize() == b.getSize() &&
         a.getFile() == b.getFile() && a.getScaleName() == b.getScaleName() &&
         a.getType() == b.getType();
}

/// Whether every user of |value| is a tern.logits, or (|orEmbedding|) a tern.embedding.
bool onlyLogits(Value value, bool orEmbedding) {
  return llvm::all_of(value.getUsers(), [&](Operation *user) {
    return isa<LogitsOp>(user) || (orEmbedding && isa<EmbeddingOp>(user));
  });
}

struct QuantizeLmHeadPass : public tern::impl::QuantizeLmHeadPassBase<QuantizeLmHeadPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (!isKnownLmHeadFormat(format)) {
      func.emitError() << "tern-quantize-lm-head: unknown lm_head format '" << format
                       << "' (expected one of: " << kLmHeadFormats << ")";
      return signalPassFailure();
    }
    if (format == "source")
      return;
    SmallVector<LogitsOp> logits;
    func.walk([&](LogitsOp op) { logits.push_back(op); });
    for (LogitsOp op : logits)
      if (failed(rewrite(func, op)))
        return signalPassFailure();
  }

  /// The type the lm_head gets, or null (with an error on |op|) when the format does not apply.
  Type targetType(LogitsOp op, WeightOp weight) {
    Type type = op.getLmHead().getType();
    auto describe = [&](InFlightDiagnostic diag) -> InFlightDiagnostic {
      diag << "lm_head format '" << format << "' (ternc --lm-head=" << format << ") ";
      return diag;
    };
    if (isa<TernaryType>(type)) {
      describe(op.emitError()) << "applies to a float lm_head; '"
                               << (weight ? weight.getName() : StringRef("lm_head"))
                               << "' is " << type << " (leave --lm-head=source)";
      return {};
    }
    if (!weight) {
      describe(op.emitError()) << "needs the lm_head to be a tern.weight";
      return {};
    }
    auto shape = isa<QuantizedType>(type) ? cast<QuantizedType>(type).getShape()
                                          : cast<RankedTensorType>(type).getShape();
    if (format == "f16") {
      if (isa<QuantizedType>(type)) {
        describe(op.emitError()) << "cannot apply: '" << weight.getName()
                                 << "' is already " << type;
        return {};
      }
      return RankedTensorType::get(shape, Float16Type::get(&getContext()));
    }
    const QuantFormat quant = format == "q8"   ? QuantFormat::q8_b32
                              : format == "q6" ? QuantFormat::q6_b32
                                               : QuantFormat::q4_b32;
    if (auto quantized = dyn_cast<QuantizedType>(type)) {
      if (quantized.getFormat() != quant) {
        describe(op.emitError()) << "cannot apply: '" << weight.getName() << "' is already "
                                 << type;
        return {};
      }
      return type;
    }
    if (shape[1] % QuantizedType::kBlock != 0) {
      describe(op.emitError()) << "needs the lm_head width to be a multiple of "
                               << QuantizedType::kBlock << "; '" << weight.getName()
                               << "' is " << type;
      return {};
    }
    return QuantizedType::get(&getContext(), shape, quant);
  }

  LogicalResult rewrite(func::FuncOp func, LogitsOp op) {
    auto weight = op.getLmHead().getDefiningOp<WeightOp>();
    Type type = targetType(op, weight);
    if (!type)
      return failure();

    if (type != weight.getType()) {
      // Tied embeddings: the lookup reads the same tensor through a twin weight op. By
      // default the lookup keeps the file's precision (a second table in the artifact);
      // with share-embedding the twins get the new type too and the artifact keeps one
      // table. A weight read by anything else keeps its type and the logits get a retyped
      // copy.
      SmallVector<WeightOp> twins;
      if (shareEmbedding)
        func.walk([&](WeightOp other) {
          if (other != weight && sameSource(other, weight) && onlyLogits(other, true))
            twins.push_back(other);
        });
      if (!onlyLogits(weight, shareEmbedding)) {
        OpBuilder b(weight->getContext());
        b.setInsertionPointAfter(weight);
        weight = cast<WeightOp>(b.clone(*weight));
        op.getLmHeadMutable().assign(weight.getResult());
      }
      weight.getResult().setType(type);
      for (WeightOp twin : twins)
        twin.getResult().setType(type);
    }

    // f16 (and an already rewritten logits op) need nothing more.
    if (!isa<QuantizedType>(type) || op.getInputScale())
      return success();
    // The quantized lm_head multiplies int8 activations: quantize the rows first.
    OpBuilder b(op);
    auto rows = cast<RankedTensorType>(op.getInput().getType());
    auto qType = RankedTensorType::get(rows.getShape(), b.getI8Type());
    auto sType = RankedTensorType::get({rows.getDimSize(0)}, b.getF32Type());
    auto quantize = QuantizeActOp::create(b, op.getLoc(), qType, sType, op.getInput());
    auto quantized = LogitsOp::create(b, op.getLoc(), op.getType(), quantize.getQuantized(),
                                      weight.getResult(), quantize.getScale());
    op.replaceAllUsesWith(quantized.getResult());
    op.erase();
    return success();
  }
};

} // namespace
