// Builds the tern decoder graph (LLaMA, BitNet b1.58, and GPT-2-style decoders with LayerNorm,
// biases and learned positions) from a format-independent ModelDescription.
#include "frontends/import/ImportModel.h"

#include "frontends/common/DType.h"
#include "frontends/common/ModelFormats.h"

#include "tern/Dialect/TernDialect.h"
#include "tern/Dialect/TernOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace ::tern::fe;
namespace T = mlir::tern;

namespace tern {
namespace {

class GraphBuilder {
public:
  GraphBuilder(const ModelDescription &model, MLIRContext &ctx, const ImportOptions &options)
      : model(model), ctx(ctx), options(options), b(&ctx),
        fileLoc(FileLineColLoc::get(&ctx, model.path, 0, 0)) {}

  FailureOr<OwningOpRef<ModuleOp>> build();

private:
  Location tensorLoc(const TensorRecord &t) {
    return NameLoc::get(b.getStringAttr(t.name), fileLoc);
  }
  FailureOr<Type> floatElementType(const TensorRecord &t);
  FailureOr<Value> floatWeight(const TensorRecord *t, llvm::StringRef role);
  FailureOr<Value> ternaryWeight(const LinearWeight &w, llvm::StringRef role);
  FailureOr<Value> linear(Value x, const LinearWeight &w, llvm::StringRef role);
  FailureOr<Value> projection(Value x, const LinearWeight &w, llvm::StringRef role); // no bias
  FailureOr<Value> norm(Value x, const TensorRecord *weight, const std::string &role,
                        const TensorRecord *bias = nullptr);
  // The first layer's input: token embeddings, plus learned positions where the model has them.
  FailureOr<Value> embed(Value tokens);
  // x + attention(norm(x)), appending the layer's K/V rows to |kv|.
  FailureOr<Value> attentionBlock(Value x, const LayerWeights &l, int64_t layer, Value &kv);
  // x + down(act(gate(norm(x))) * up(norm(x))).
  FailureOr<Value> ffnBlock(Value x, const LayerWeights &l, int64_t layer);
  RankedTensorType rows(int64_t width, Type element = {}) {
    return RankedTensorType::get({ShapedType::kDynamic, width},
                                 element ? element : b.getF32Type());
  }
  DictionaryAttr sourceAttr();
  DictionaryAttr hparamsAttr();
  DictionaryAttr tokenizerAttr();

  const ModelDescription &model;
  MLIRContext &ctx;
  const ImportOptions &options;
  OpBuilder b;
  Location fileLoc;
  Value pos;
};

FailureOr<Type> GraphBuilder::floatElementType(const TensorRecord &t) {
  switch (t.dtype) {
  case DType::F32:
  case DType::Q8_0: // block-quantized floats decode to f32; `dtype` keeps the storage type
  case DType::Q4_0:
    return Type(b.getF32Type());
  case DType::F16:
    return Type(b.getF16Type());
  case DType::BF16:
    return Type(b.getBF16Type());
  default:
    return emitError(tensorLoc(t)) << "tensor '" << t.name << "' has type "
                                   << info(t.dtype).name
                                   << "; expected a float type (f32, f16, bf16, q8_0, q4_0)",
           failure();
  }
}

static T::WeightOp createWeight(OpBuilder &b, Location loc, Type type, const TensorRecord &t,
                                const ModelDescription &model) {
  auto op = T::WeightOp::create(b, loc, type, t.name, info(t.dtype).name,
                                  static_cast<int64_t>(t.fileOffset),
                                  static_cast<int64_t>(t.byteSize));
  // Sharded checkpoints: say which file holds the bytes when it is not the module's source.
  if (t.file != model.path)
    op->setAttr("file", b.getStringAttr(t.file));
  return op;
}

FailureOr<Value> GraphBuilder::floatWeight(const TensorRecord *t, llvm::StringRef role) {
  if (!t)
    return emitError(fileLoc) << "missing tensor for " << role, failure();
  FailureOr<Type> element = floatElementType(*t);
  if (failed(element))
    return failure();
  auto type = RankedTensorType::get(t->shape, *element);
  return createWeight(b, tensorLoc(*t), type, *t, model).getResult();
}

FailureOr<Value> GraphBuilder::ternaryWeight(const LinearWeight &w, llvm::StringRef role) {
  const TensorRecord &t = *w.weight;
  T::PackingKind packing;
  T::ScaleKind scale = T::ScaleKind::per_tensor;
  int64_t group = 0;
  if (w.encoding == WeightEncoding::TernarizeAtImport) {
    packing = T::PackingKind::unpacked;
  } else {
    switch (t.dtype) {
    case DType::TQ1_0:
      packing = T::PackingKind::tq1_0;
      scale = T::ScaleKind::per_block;
      group = info(t.dtype).blockElements;
      break;
    case DType::TQ2_0:
      packing = T::PackingKind::tq2_0;
      scale = T::ScaleKind::per_block;
      group = info(t.dtype).blockElements;
      break;
    case DType::I2_S:
      packing = T::PackingKind::i2_s;
      break;
    case DType::U8:
      packing = T::PackingKind::hf_packed;
      break;
    default:
      return emitError(tensorLoc(t)) << "tensor '" << t.name << "' (" << role << ") has type "
                                     << info(t.dtype).name
                                     << "; expected ternary packing tq1_0, tq2_0, i2_s or "
                                        "Hugging Face uint8",
             failure();
    }
  }
  auto type = T::TernaryType::get(&ctx, {w.outFeatures, w.inFeatures}, packing, scale, group);
  T::WeightOp op = createWeight(b, tensorLoc(t), type, t, model);
  if (w.scale)
    op->setAttr("scale_name", b.getStringAttr(w.scale->name));
  if (w.encoding == WeightEncoding::TernarizeAtImport)
    op->setAttr("ternarize", b.getUnitAttr());
  return op.getResult();
}

// x -> x W^T (+ bias), through int8 activations for ternary weights (BitNet) or a float matmul.
FailureOr<Value> GraphBuilder::linear(Value x, const LinearWeight &w, llvm::StringRef role) {
  FailureOr<Value> y = projection(x, w, role);
  if (failed(y) || !w.bias)
    return y;
  FailureOr<Value> bias = floatWeight(w.bias, (role + " bias").str());
  if (failed(bias))
    return failure();
  return T::BiasAddOp::create(b, tensorLoc(*w.bias), y->getType(), *y, *bias).getResult();
}

FailureOr<Value> GraphBuilder::projection(Value x, const LinearWeight &w, llvm::StringRef role) {
  if (!w.weight)
    return emitError(fileLoc) << "missing weight for " << role, failure();
  Location loc = tensorLoc(*w.weight);
  if (w.encoding == WeightEncoding::Float) {
    FailureOr<Value> weight = floatWeight(w.weight, role);
    if (failed(weight))
      return failure();
    // Mainline llama.cpp BitNet files keep sign weights in F16/F32 with a separate scale.
    if (w.scale)
      weight->getDefiningOp()->setAttr("scale_name", b.getStringAttr(w.scale->name));
    return T::MatmulOp::create(b, loc, rows(w.outFeatures), x, *weight).getResult();
  }
  FailureOr<Value> weight = ternaryWeight(w, role);
  if (failed(weight))
    return failure();
  auto quant = T::QuantizeActOp::create(b, 
      loc, TypeRange{rows(w.inFeatures, b.getI8Type()),
                     RankedTensorType::get({ShapedType::kDynamic}, b.getF32Type())},
      x);
  auto mm = T::TernaryMatmulOp::create(b, loc, rows(w.outFeatures), quant.getResult(0),
                                         quant.getResult(1), *weight);
  if (w.scaleMode == ScaleMode::Divide)
    mm->setAttr("divide_by_scale", b.getUnitAttr());
  return mm.getResult();
}

FailureOr<Value> GraphBuilder::norm(Value x, const TensorRecord *weight, const std::string &role,
                                    const TensorRecord *bias) {
  FailureOr<Value> w = floatWeight(weight, role);
  if (failed(w))
    return failure();
  auto epsilon = b.getF64FloatAttr(model.hparams.rmsNormEps);
  if (model.hparams.norm == NormKind::RMS) {
    if (bias)
      return emitError(tensorLoc(*bias)) << role << ": an RMS norm takes no bias", failure();
    return T::RmsNormOp::create(b, x.getLoc(), x.getType(), /*sum=*/Type(), x, *w,
                                /*residual=*/Value(), /*up=*/Value(), epsilon,
                                /*activation=*/StringAttr())
        .getResult();
  }
  Value biasValue;
  if (bias) {
    FailureOr<Value> bv = floatWeight(bias, role + " bias");
    if (failed(bv))
      return failure();
    biasValue = *bv;
  }
  return T::LayerNormOp::create(b, x.getLoc(), x.getType(), x, *w, biasValue, epsilon)
      .getResult();
}

FailureOr<Value> GraphBuilder::embed(Value tokens) {
  const Hyperparameters &h = model.hparams;
  FailureOr<Value> table = floatWeight(model.tokenEmbedding, "token embedding");
  if (failed(table))
    return failure();
  Value x = T::EmbeddingOp::create(b, fileLoc, rows(h.hiddenSize), *table, tokens);
  if (h.positions != PositionEncoding::Learned)
    return x;
  FailureOr<Value> positions = floatWeight(model.positionEmbedding, "position embedding");
  if (failed(positions))
    return failure();
  Value p = T::PositionEmbeddingOp::create(b, fileLoc, rows(h.hiddenSize), *positions, tokens, pos);
  return Value(T::AddOp::create(b, fileLoc, x, p));
}

FailureOr<Value> GraphBuilder::attentionBlock(Value x, const LayerWeights &l, int64_t layer,
                                              Value &kv) {
  const Hyperparameters &h = model.hparams;
  const std::string name = "layer " + std::to_string(layer);
  FailureOr<Value> hn = norm(x, l.attnNorm, name + " attention norm", l.attnNormBias);
  if (failed(hn))
    return failure();
  FailureOr<Value> q = linear(*hn, l.q, name + " q projection");
  FailureOr<Value> k = linear(*hn, l.k, name + " k projection");
  FailureOr<Value> v = linear(*hn, l.v, name + " v projection");
  if (failed(q) || failed(k) || failed(v))
    return failure();
  const T::RopeStyle style =
      h.ropeStyle == RopeStyle::Neox ? T::RopeStyle::neox : T::RopeStyle::normal;
  auto rope = [&](Value t, int64_t heads) -> Value {
    return T::RopeOp::create(b, t.getLoc(), t.getType(), t, pos, style,
                             b.getF64FloatAttr(h.ropeTheta), b.getI64IntegerAttr(h.headDim),
                             b.getI64IntegerAttr(heads), b.getF64FloatAttr(1.0));
  };
  Value qr = *q, kr = *k;
  if (h.positions == PositionEncoding::Rope) {
    qr = rope(*q, h.numHeads);
    kr = rope(*k, h.numKVHeads);
  }
  kv = T::KVCacheWriteOp::create(b, fileLoc, kv.getType(), kv, kr, *v, pos,
                                 b.getI64IntegerAttr(layer));
  Value attn = T::AttentionOp::create(
      b, fileLoc, rows(h.numHeads * h.headDim), qr, kv, pos, b.getI64IntegerAttr(layer),
      b.getI64IntegerAttr(h.numHeads), b.getI64IntegerAttr(h.numKVHeads),
      b.getI64IntegerAttr(h.headDim), b.getF64FloatAttr(1.0 / std::sqrt(double(h.headDim))));
  if (h.family == "bitnet") {
    FailureOr<Value> normed = norm(attn, l.attnSubNorm, name + " attention sub-norm");
    if (failed(normed))
      return failure();
    attn = *normed;
  }
  FailureOr<Value> o = linear(attn, l.o, name + " output projection");
  if (failed(o))
    return failure();
  return Value(T::AddOp::create(b, fileLoc, x, *o));
}

FailureOr<Value> GraphBuilder::ffnBlock(Value x, const LayerWeights &l, int64_t layer) {
  const Hyperparameters &h = model.hparams;
  const std::string name = "layer " + std::to_string(layer);
  FailureOr<Value> f = norm(x, l.ffnNorm, name + " FFN norm", l.ffnNormBias);
  if (failed(f))
    return failure();
  FailureOr<Value> up = linear(*f, l.up, name + " FFN up");
  if (failed(up))
    return failure();
  // Ungated FFNs (GPT-2, OPT) apply the activation to the up projection itself.
  FailureOr<Value> gate = up;
  if (h.gatedFFN)
    gate = linear(*f, l.gate, name + " FFN gate");
  if (failed(gate))
    return failure();
  Value act;
  switch (h.activation) {
  case FFNActivation::ReLU2:
    act = T::Relu2Op::create(b, fileLoc, *gate);
    break;
  case FFNActivation::SiLU:
    act = T::SiluOp::create(b, fileLoc, *gate);
    break;
  case FFNActivation::GELU:
    act = T::GeluOp::create(b, fileLoc, *gate);
    break;
  case FFNActivation::ReLU:
    act = T::ReluOp::create(b, fileLoc, *gate);
    break;
  }
  Value m = h.gatedFFN ? Value(T::MulOp::create(b, fileLoc, act, *up)) : act;
  if (h.family == "bitnet") {
    FailureOr<Value> normed = norm(m, l.ffnSubNorm, name + " FFN sub-norm");
    if (failed(normed))
      return failure();
    m = *normed;
  }
  FailureOr<Value> down = linear(m, l.down, name + " FFN down");
  if (failed(down))
    return failure();
  return Value(T::AddOp::create(b, fileLoc, x, *down));
}

DictionaryAttr GraphBuilder::sourceAttr() {
  return b.getDictionaryAttr({
      b.getNamedAttr("format", b.getStringAttr(model.format)),
      b.getNamedAttr("path", b.getStringAttr(model.path)),
      b.getNamedAttr("architecture", b.getStringAttr(model.architecture)),
      b.getNamedAttr("detail", b.getStringAttr(model.detail)),
  });
}

DictionaryAttr GraphBuilder::hparamsAttr() {
  const Hyperparameters &h = model.hparams;
  const char *activation = h.activation == FFNActivation::ReLU2  ? "relu2"
                           : h.activation == FFNActivation::GELU ? "gelu"
                           : h.activation == FFNActivation::ReLU ? "relu"
                                                                 : "silu";
  const char *positions = h.positions == PositionEncoding::Rope      ? "rope"
                          : h.positions == PositionEncoding::Learned ? "learned"
                                                                     : "none";
  return b.getDictionaryAttr({
      b.getNamedAttr("family", b.getStringAttr(h.family)),
      b.getNamedAttr("num_layers", b.getI64IntegerAttr(h.numLayers)),
      b.getNamedAttr("hidden_size", b.getI64IntegerAttr(h.hiddenSize)),
      b.getNamedAttr("num_heads", b.getI64IntegerAttr(h.numHeads)),
      b.getNamedAttr("num_kv_heads", b.getI64IntegerAttr(h.numKVHeads)),
      b.getNamedAttr("head_dim", b.getI64IntegerAttr(h.headDim)),
      b.getNamedAttr("ffn_size", b.getI64IntegerAttr(h.ffnSize)),
      b.getNamedAttr("vocab_size", b.getI64IntegerAttr(h.vocabSize)),
      b.getNamedAttr("context_length", b.getI64IntegerAttr(h.contextLength)),
      b.getNamedAttr("rms_norm_eps", b.getF64FloatAttr(h.rmsNormEps)),
      b.getNamedAttr("rope_theta", b.getF64FloatAttr(h.ropeTheta)),
      b.getNamedAttr("activation", b.getStringAttr(activation)),
      b.getNamedAttr("gated_ffn", b.getBoolAttr(h.gatedFFN)),
      b.getNamedAttr("norm", b.getStringAttr(h.norm == NormKind::RMS ? "rms" : "layer")),
      b.getNamedAttr("positions", b.getStringAttr(positions)),
      b.getNamedAttr("tied_embeddings", b.getBoolAttr(h.tiedEmbeddings)),
      b.getNamedAttr("quantize_activations", b.getBoolAttr(h.quantizeActivations)),
  });
}

DictionaryAttr GraphBuilder::tokenizerAttr() {
  const TokenizerInfo &t = model.tokenizer;
  SmallVector<NamedAttribute> fields = {
      b.getNamedAttr("model", b.getStringAttr(t.model)),
      b.getNamedAttr("pre", b.getStringAttr(t.pre)),
      b.getNamedAttr("source", b.getStringAttr(t.source)),
      b.getNamedAttr("vocab_size", b.getI64IntegerAttr(t.vocabSize)),
      b.getNamedAttr("num_merges", b.getI64IntegerAttr(t.numMerges)),
      b.getNamedAttr("chat_template", b.getStringAttr(t.chatTemplate)),
  };
  auto id = [&](const char *name, const std::optional<int64_t> &v) {
    if (v)
      fields.push_back(b.getNamedAttr(name, b.getI64IntegerAttr(*v)));
  };
  id("bos_id", t.bosId);
  id("eos_id", t.eosId);
  id("unk_id", t.unkId);
  id("pad_id", t.padId);
  id("sep_id", t.sepId);
  if (t.addBos)
    fields.push_back(b.getNamedAttr("add_bos", b.getBoolAttr(*t.addBos)));
  if (t.addEos)
    fields.push_back(b.getNamedAttr("add_eos", b.getBoolAttr(*t.addEos)));
  // The vocabulary travels as elements attributes, which the printer elides when large.
  auto vector = [&](int64_t n, Type element) {
    return RankedTensorType::get({n}, element);
  };
  if (options.includeVocabulary && !t.tokens.empty()) {
    SmallVector<StringRef> tokens(t.tokens.begin(), t.tokens.end());
    fields.push_back(b.getNamedAttr(
        "tokens", DenseStringElementsAttr::get(vector(tokens.size(), b.getI8Type()), tokens)));
    if (t.scores.size() == t.tokens.size())
      fields.push_back(b.getNamedAttr(
          "scores", DenseElementsAttr::get(vector(t.scores.size(), b.getF32Type()),
                                           ArrayRef<float>(t.scores))));
    if (t.tokenTypes.size() == t.tokens.size())
      fields.push_back(b.getNamedAttr(
          "token_types", DenseElementsAttr::get(vector(t.tokenTypes.size(), b.getI32Type()),
                                                ArrayRef<int32_t>(t.tokenTypes))));
    if (!t.merges.empty()) {
      SmallVector<StringRef> merges(t.merges.begin(), t.merges.end());
      fields.push_back(b.getNamedAttr(
          "merges", DenseStringElementsAttr::get(vector(merges.size(), b.getI8Type()), merges)));
    }
  }
  return b.getDictionaryAttr(fields);
}

FailureOr<OwningOpRef<ModuleOp>> GraphBuilder::build() {
  if (!model.supported()) {
    InFlightDiagnostic diag = emitError(fileLoc) << "model cannot be compiled:";
    for (const Problem &p : model.problems)
      if (p.severity == Problem::Error)
        diag.attachNote(fileLoc) << p.subject << ": " << p.message;
    return failure();
  }
  const Hyperparameters &h = model.hparams;
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  module->getOperation()->setAttr("tern.source", sourceAttr());
  module->getOperation()->setAttr("tern.hparams", hparamsAttr());
  module->getOperation()->setAttr("tern.tokenizer", tokenizerAttr());

  int64_t context = options.contextLength;
  if (context <= 0)
    context = std::min(h.contextLength > 0 ? h.contextLength : options.maxDefaultContext,
                       options.maxDefaultContext);
  // A learned position table has one row per position: the cache cannot be longer.
  if (h.positions == PositionEncoding::Learned && model.positionEmbedding) {
    const int64_t table = model.positionEmbedding->shape.empty() ? 0
                                                                 : model.positionEmbedding->shape[0];
    if (options.contextLength > table)
      return emitError(tensorLoc(*model.positionEmbedding))
                 << "context length " << options.contextLength << " exceeds the " << table
                 << " positions of '" << model.positionEmbedding->name << "'",
             failure();
    context = std::min(context, table);
  }
  auto kvType = T::KVCacheType::get(&ctx, h.numLayers, context, h.numKVHeads, h.headDim,
                                    b.getF32Type());
  auto tokensType = RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type());
  auto logitsType = rows(h.vocabSize);
  auto funcType = b.getFunctionType({tokensType, b.getIndexType(), kvType}, {logitsType, kvType});

  b.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(b, fileLoc, "forward", funcType);
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value tokens = entry->getArgument(0);
  pos = entry->getArgument(1);
  Value kv = entry->getArgument(2);

  FailureOr<Value> embedded = embed(tokens);
  if (failed(embedded))
    return failure();
  Value x = *embedded;

  for (int64_t i = 0; i < static_cast<int64_t>(model.layers.size()); ++i) {
    FailureOr<Value> attended = attentionBlock(x, model.layers[i], i, kv);
    if (failed(attended))
      return failure();
    FailureOr<Value> mixed = ffnBlock(*attended, model.layers[i], i);
    if (failed(mixed))
      return failure();
    x = *mixed;
  }

  FailureOr<Value> outNorm = norm(x, model.outputNorm, "output norm", model.outputNormBias);
  if (failed(outNorm))
    return failure();
  x = *outNorm;
  Value lmHead;
  if (model.lmHead.encoding == WeightEncoding::Float) {
    FailureOr<Value> w = floatWeight(model.lmHead.weight, "lm_head");
    if (failed(w))
      return failure();
    lmHead = *w;
  } else {
    FailureOr<Value> w = ternaryWeight(model.lmHead, "lm_head");
    if (failed(w))
      return failure();
    lmHead = *w;
  }
  Value logits = T::LogitsOp::create(b, fileLoc, logitsType, x, lmHead);
  func::ReturnOp::create(b, fileLoc, ValueRange{logits, kv});

  if (failed(verify(*module)))
    return emitError(fileLoc) << "internal error: imported IR does not verify", failure();
  return module;
}

FailureOr<OwningOpRef<ModuleOp>> importFrom(llvm::Expected<ModelDescription> model,
                                             MLIRContext &context, const ImportOptions &options) {
  context.loadDialect<T::TernDialect, func::FuncDialect>();
  if (!model) {
    emitError(UnknownLoc::get(&context)) << llvm::toString(model.takeError());
    return failure();
  }
  return GraphBuilder(*model, context, options).build();
}

} // namespace

FailureOr<OwningOpRef<ModuleOp>> importModel(const ModelDescription &model, MLIRContext &context,
                                             const ImportOptions &options) {
  context.loadDialect<T::TernDialect, func::FuncDialect>();
  return GraphBuilder(model, context, options).build();
}

FailureOr<OwningOpRef<ModuleOp>> importGGUF(llvm::StringRef path, MLIRContext &context,
                                            const ImportOptions &options) {
  return importFrom(describeGGUF(path), context, options);
}

FailureOr<OwningOpRef<ModuleOp>> importSafeTensors(llvm::StringRef path, MLIRContext &context,
                                                   const ImportOptions &options) {
  return importFrom(describeSafeTensors(path), context, options);
}

} // namespace tern
