// Walks @forward op by op, keeping each value in a host buffer and calling the reference kernel
// of each tern op.
#include "compiler/reference/ReferenceInterpreter.h"

#include "frontends/common/TensorDecode.h"
#include "reference/ReferenceKernels.h"
#include "tern/Dialect/TernOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
namespace T = mlir::tern;

namespace tern {
namespace {

// A value of the graph: float rows, or int8 rows (quantized activations).
struct Buffer {
  std::vector<float> f;
  std::vector<int8_t> q;
  int64_t rows = 0, cols = 0;
};

llvm::Error failAt(Operation *op, const llvm::Twine &message) {
  std::string loc;
  llvm::raw_string_ostream os(loc);
  op->getLoc().print(os);
  return llvm::createStringError(loc + ": '" + op->getName().getStringRef() + "': " + message);
}

} // namespace

llvm::Expected<std::unique_ptr<ReferenceInterpreter>>
ReferenceInterpreter::create(ModuleOp module, const fe::ModelDescription &model) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.getNumArguments() != 3 || forward.getNumResults() != 2)
    return llvm::createStringError("module has no @forward(tokens, pos, kv) -> (logits, kv)");
  auto kv = dyn_cast<T::KVCacheType>(forward.getArgument(2).getType());
  auto logits = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
  if (!kv || !logits)
    return llvm::createStringError("@forward's signature is not the importer's");
  std::unique_ptr<ReferenceInterpreter> self(new ReferenceInterpreter(module, model));
  self->layout = {kv.getNumLayers(), kv.getContextLength(), kv.getNumKVHeads(), kv.getHeadDim()};
  self->vocab = logits.getDimSize(1);
  size_t cacheSize = kv.getNumLayers() * kv.getContextLength() * kv.getNumKVHeads() *
                     kv.getHeadDim();
  self->kCache.assign(cacheSize, 0.0f);
  self->vCache.assign(cacheSize, 0.0f);
  return self;
}

llvm::Expected<const ReferenceInterpreter::Weight *>
ReferenceInterpreter::weight(Operation *op) {
  auto found = weights.find(op);
  if (found != weights.end())
    return found->second.get();
  auto w = cast<T::WeightOp>(op);
  const fe::TensorRecord *record = model.findTensor(w.getName().str());
  if (!record)
    return failAt(op, "tensor '" + w.getName() + "' is not in the model");
  float scale = 1.0f;
  if (auto scaleName = w.getScaleName()) {
    const fe::TensorRecord *scaleRecord = model.findTensor(scaleName->str());
    if (!scaleRecord)
      return failAt(op, "scale tensor '" + *scaleName + "' is not in the model");
    auto scaleValues = fe::decodeToFloat(*scaleRecord);
    if (!scaleValues)
      return scaleValues.takeError();
    if (scaleValues->size() != 1)
      return failAt(op, "scale tensor '" + *scaleName + "' must hold one value");
    scale = (*scaleValues)[0];
  }

  auto result = std::make_unique<Weight>();
  if (auto ternary = dyn_cast<T::TernaryType>(w.getResult().getType())) {
    llvm::Expected<fe::TernaryTensor> decoded = llvm::createStringError("unreachable");
    if (w.getTernarize()) {
      auto master = fe::decodeToFloat(*record);
      if (!master)
        return master.takeError();
      decoded = fe::ternarizeAbsMean(*master, record->shape);
    } else if (ternary.getPacking() == T::PackingKind::hf_packed) {
      decoded = fe::unpackHFBitNet(*record, scale);
    } else {
      decoded = fe::decodeTernary(*record);
    }
    if (!decoded)
      return decoded.takeError();
    result->ternary = std::move(decoded->values);
    result->scales = std::move(decoded->scales);
    result->scaleGroup = decoded->scaleGroup;
    if (w.getScaleName() && ternary.getPacking() != T::PackingKind::hf_packed)
      for (float &s : result->scales)
        s *= scale; // a separate per-tensor scale on top of the block scales
  } else {
    auto values = fe::decodeToFloat(*record);
    if (!values)
      return values.takeError();
    result->values = std::move(*values);
    if (scale != 1.0f)
      for (float &v : result->values)
        v *= scale;
  }
  const Weight *raw = result.get();
  weights[op] = std::move(result);
  return raw;
}

llvm::Expected<std::vector<float>> ReferenceInterpreter::forward(llvm::ArrayRef<int32_t> tokens,
                                                                 int64_t pos) {
  const int64_t rows = tokens.size();
  if (rows == 0)
    return llvm::createStringError("no tokens to run");
  if (pos < 0 || pos + rows > layout.context)
    return llvm::createStringError("positions %lld..%lld exceed the context length %lld",
                                   (long long)pos, (long long)(pos + rows - 1),
                                   (long long)layout.context);
  for (int32_t t : tokens)
    if (t < 0 || t >= vocab)
      return llvm::createStringError("token id %d is outside the vocabulary [0, %lld)", t,
                                     (long long)vocab);

  auto func = module.lookupSymbol<func::FuncOp>("forward");
  llvm::DenseMap<Value, Buffer> values;
  ref::KVCacheLayout kv{layout.layers, layout.context, layout.kvHeads, layout.headDim};
  std::vector<double> scratch(layout.context);
  std::vector<float> logits;
  auto floatRows = [&](int64_t cols) {
    Buffer b;
    b.rows = rows;
    b.cols = cols;
    b.f.assign(rows * cols, 0.0f);
    return b;
  };
  auto width = [](Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); };

  for (Operation &opRef : func.getBody().front()) {
    Operation *op = &opRef;
    llvm::Error error = llvm::Error::success();
    llvm::TypeSwitch<Operation *>(op)
        .Case([&](T::WeightOp) {}) // resolved when used
        .Case([&](T::EmbeddingOp e) {
          auto table = weight(e.getTable().getDefiningOp());
          if (!table) {
            error = table.takeError();
            return;
          }
          Buffer out = floatRows(width(e.getResult()));
          ref::embedding((*table)->values.data(), tokens.data(), rows, out.cols, out.f.data());
          values[e.getResult()] = std::move(out);
        })
        .Case([&](T::PositionEmbeddingOp e) {
          auto table = weight(e.getTable().getDefiningOp());
          if (!table) {
            error = table.takeError();
            return;
          }
          // forward() checked pos + rows against the context; a hand-written module may have
          // a context longer than its position table.
          auto tableType = cast<RankedTensorType>(e.getTable().getType());
          const int64_t positions = tableType.getDimSize(0);
          if (pos + rows > positions) {
            error = failAt(op, "positions " + llvm::Twine(pos) + ".." +
                                   llvm::Twine(pos + rows - 1) + " pass the table's " +
                                   llvm::Twine(positions) + " rows");
            return;
          }
          Buffer out = floatRows(width(e.getResult()));
          ref::positionEmbedding((*table)->values.data(), pos, rows, out.cols, out.f.data());
          values[e.getResult()] = std::move(out);
        })
        .Case([&](T::RmsNormOp n) {
          auto w = weight(n.getWeight().getDefiningOp());
          if (!w) {
            error = w.takeError();
            return;
          }
          const Buffer *x = &values[n.getInput()];
          if (Value residual = n.getResidual()) {
            const Buffer &r = values[residual];
            Buffer sum = floatRows(x->cols);
            ref::add(x->f.data(), r.f.data(), rows * x->cols, sum.f.data());
            values[n.getSum()] = std::move(sum);
            x = &values[n.getSum()];
          }
          // A fused glu (tern-fuse-glu-norm): the norm reads relu2(gate) * up, not stored.
          Buffer gated;
          if (Value up = n.getUp()) {
            if (n.getActivation() != "relu2") {
              error = failAt(op, "a gated rms_norm computes relu2 only");
              return;
            }
            gated = floatRows(x->cols);
            ref::relu2(x->f.data(), rows * x->cols, gated.f.data());
            ref::mul(gated.f.data(), values[up].f.data(), rows * x->cols, gated.f.data());
            x = &gated;
          }
          Buffer out = floatRows(x->cols);
          ref::rmsNorm(x->f.data(), (*w)->values.data(), rows, x->cols,
                       float(n.getEpsilon().convertToDouble()), out.f.data());
          values[n.getResult()] = std::move(out);
        })
        .Case([&](T::LayerNormOp n) {
          auto w = weight(n.getWeight().getDefiningOp());
          if (!w) {
            error = w.takeError();
            return;
          }
          const float *bias = nullptr;
          if (n.getBias()) {
            auto b = weight(n.getBias().getDefiningOp());
            if (!b) {
              error = b.takeError();
              return;
            }
            bias = (*b)->values.data();
          }
          const Buffer &x = values[n.getInput()];
          Buffer out = floatRows(x.cols);
          ref::layerNorm(x.f.data(), (*w)->values.data(), bias, rows, x.cols,
                         float(n.getEpsilon().convertToDouble()), out.f.data());
          values[n.getResult()] = std::move(out);
        })
        .Case([&](T::BiasAddOp a) {
          auto bias = weight(a.getBias().getDefiningOp());
          if (!bias) {
            error = bias.takeError();
            return;
          }
          const Buffer &x = values[a.getInput()];
          Buffer out = floatRows(x.cols);
          ref::biasAdd(x.f.data(), (*bias)->values.data(), rows, x.cols, out.f.data());
          values[a.getResult()] = std::move(out);
        })
        .Case([&](T::QuantizeActOp qa) {
          const Buffer &x = values[qa.getInput()];
          Buffer q, s;
          q.rows = s.rows = rows;
          q.cols = x.cols;
          s.cols = 1;
          q.q.resize(rows * x.cols);
          s.f.resize(rows);
          ref::quantizeActivations(x.f.data(), rows, x.cols, q.q.data(), s.f.data());
          values[qa.getQuantized()] = std::move(q);
          values[qa.getScale()] = std::move(s);
        })
        .Case([&](T::TernaryMatmulOp mm) {
          auto w = weight(mm.getWeight().getDefiningOp());
          if (!w) {
            error = w.takeError();
            return;
          }
          auto type = cast<T::TernaryType>(mm.getWeight().getType());
          const Buffer &q = values[mm.getInput()];
          const Buffer &s = values[mm.getInputScale()];
          Buffer out = floatRows(type.getN());
          ref::ternaryMatmul(q.q.data(), s.f.data(), (*w)->ternary.data(), (*w)->scales.data(),
                             (*w)->scaleGroup, mm.getDivideByScale(), rows, type.getN(),
                             type.getK(), out.f.data());
          values[mm.getResult()] = std::move(out);
        })
        .Case([&](T::MatmulOp mm) {
          auto w = weight(mm.getWeight().getDefiningOp());
          if (!w) {
            error = w.takeError();
            return;
          }
          const Buffer &x = values[mm.getInput()];
          Buffer out = floatRows(width(mm.getResult()));
          ref::matmul(x.f.data(), (*w)->values.data(), rows, out.cols, x.cols, out.f.data());
          values[mm.getResult()] = std::move(out);
        })
        .Case([&](T::RopeOp r) {
          Buffer out = values[r.getInput()];
          ref::rope(out.f.data(), rows, r.getNumHeads(), r.getHeadDim(), pos,
                    r.getTheta().convertToDouble(), r.getFreqScale().convertToDouble(),
                    r.getStyle() == T::RopeStyle::neox);
          values[r.getResult()] = std::move(out);
        })
        .Case([&](T::KVCacheWriteOp w) {
          ref::kvCacheWrite(kv, kCache.data(), vCache.data(), w.getLayer(), pos, rows,
                            values[w.getKey()].f.data(), values[w.getValue()].f.data());
        })
        .Case([&](T::AttentionOp a) {
          Buffer out = floatRows(width(a.getResult()));
          ref::attention(kv, kCache.data(), vCache.data(), a.getLayer(), pos, rows,
                         a.getNumHeads(), float(a.getScale().convertToDouble()),
                         values[a.getQuery()].f.data(), scratch.data(), out.f.data());
          values[a.getResult()] = std::move(out);
        })
        .Case<T::ReluOp, T::Relu2Op, T::SiluOp, T::GeluOp>([&](auto u) {
          const Buffer &x = values[u.getInput()];
          Buffer out = floatRows(x.cols);
          int64_t n = rows * x.cols;
          if (isa<T::ReluOp>(op))
            ref::relu(x.f.data(), n, out.f.data());
          else if (isa<T::Relu2Op>(op))
            ref::relu2(x.f.data(), n, out.f.data());
          else if (isa<T::SiluOp>(op))
            ref::silu(x.f.data(), n, out.f.data());
          else
            ref::gelu(x.f.data(), n, out.f.data());
          values[u.getResult()] = std::move(out);
        })
        .Case<T::MulOp, T::AddOp>([&](auto bin) {
          const Buffer &a = values[bin.getLhs()];
          const Buffer &b = values[bin.getRhs()];
          Buffer out = floatRows(a.cols);
          if (isa<T::MulOp>(op))
            ref::mul(a.f.data(), b.f.data(), rows * a.cols, out.f.data());
          else
            ref::add(a.f.data(), b.f.data(), rows * a.cols, out.f.data());
          values[bin.getResult()] = std::move(out);
        })
        .Case([&](T::LogitsOp l) {
          if (l.getInputScale()) {
            error = failAt(op, "a quantized lm_head (tern-quantize-lm-head) is not supported "
                               "by the reference interpreter; it runs the imported IR");
            return;
          }
          auto w = weight(l.getLmHead().getDefiningOp());
          if (!w) {
            error = w.takeError();
            return;
          }
          if ((*w)->values.empty()) {
            error = failAt(op, "a ternary lm_head is not supported by the reference interpreter");
            return;
          }
          const Buffer &x = values[l.getInput()];
          Buffer out = floatRows(vocab);
          ref::matmul(x.f.data(), (*w)->values.data(), rows, vocab, x.cols, out.f.data());
          values[l.getResult()] = std::move(out);
        })
        .Case([&](func::ReturnOp ret) { logits = values[ret.getOperand(0)].f; })
        .Default([&](Operation *) { error = failAt(op, "no reference kernel for this op"); });
    if (error)
      return std::move(error);
  }
  return logits;
}

} // namespace tern
