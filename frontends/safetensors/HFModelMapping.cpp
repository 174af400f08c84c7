// Hugging Face BitNet and LLaMA checkpoints: hyperparameters, quantization scheme, tensor roles.
#include "frontends/safetensors/HFModelMapping.h"

#include "frontends/safetensors/SafeTensorsReader.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"

namespace tern::fe {
namespace {

// transformers' BitNetQuantConfig, as the checkpoint's quantization_config states it.
struct QuantScheme {
  bool ternary = false; // linear layers are BitNet ternary layers
  bool online = false;  // float master weights, ternarized when the model is loaded
  ScaleMode scaleMode = ScaleMode::Multiply;
  std::string linearClass;             // "autobitlinear" | "bitlinear"
  std::string mode;                    // "online" | "offline"
  std::vector<std::string> notConvert; // module names transformers leaves as nn.Linear
};

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool isFloat(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

class Mapper {
public:
  Mapper(HFConfig &config, ModelDescription &model) : cfg(config), model(model) {}
  void run();

private:
  void readHyperparameters(llvm::StringRef modelType);
  void readQuantization();
  void readSpecialIds();
  void mapTensors();
  const TensorRecord *floatTensor(const std::string &name, std::vector<int64_t> shape,
                                  llvm::StringRef role, bool required = true);
  LinearWeight linear(const std::string &module, int64_t out, int64_t in, llvm::StringRef role);
  bool convertsToTernary(const std::string &module) const;
  void tensorProblem(const std::string &name, const llvm::Twine &message,
                     Problem::Severity severity = Problem::Error) {
    model.problems.push_back({severity, name, message.str()});
  }
  void describeScheme();

  HFConfig &cfg;
  ModelDescription &model;
  QuantScheme quant;
  llvm::DenseSet<const TensorRecord *> used;
  bool shapesKnown = true; // false when a dimension is missing: tensor checks would only repeat it
};

void Mapper::run() {
  std::string modelType = cfg.string("model_type", "");
  model.architecture = modelType;
  if (modelType != "bitnet" && modelType != "llama") {
    cfg.error("model_type", modelType.empty()
                                ? llvm::Twine("missing; expected \"bitnet\" or \"llama\"")
                                : "'" + modelType +
                                      "' is not supported; expected \"bitnet\" (BitNet b1.58) "
                                      "or \"llama\" (float LLaMA-style decoder)");
    model.detail = modelType.empty() ? "no model_type" : modelType + ", not supported";
    return;
  }
  model.hparams.family = modelType;
  readHyperparameters(modelType);
  readQuantization();
  readSpecialIds();
  // Every layer needs at least nine tensors; a layer count beyond the file would only produce
  // millions of "missing" problems.
  if (shapesKnown && model.hparams.numLayers > static_cast<int64_t>(model.tensors.size())) {
    cfg.error("num_hidden_layers", "is " + llvm::Twine(model.hparams.numLayers) +
                                       ", but the checkpoint holds only " +
                                       llvm::Twine(model.tensors.size()) + " tensors");
    shapesKnown = false;
  }
  if (shapesKnown)
    mapTensors();
  describeScheme();
}

void Mapper::readHyperparameters(llvm::StringRef modelType) {
  Hyperparameters &h = model.hparams;
  const bool bitnet = modelType == "bitnet";
  auto need = [&](llvm::StringRef key, int64_t &field) {
    if (std::optional<int64_t> v = cfg.requirePositiveInt(key))
      field = *v;
    else
      shapesKnown = false;
  };
  need("hidden_size", h.hiddenSize);
  need("intermediate_size", h.ffnSize);
  need("num_hidden_layers", h.numLayers);
  need("num_attention_heads", h.numHeads);
  need("vocab_size", h.vocabSize);
  // The defaults below are transformers' BitNetConfig / LlamaConfig defaults.
  h.numKVHeads = cfg.positiveInt("num_key_value_heads", h.numHeads);
  if (h.numHeads > 0 && h.numKVHeads > 0 && h.numHeads % h.numKVHeads != 0) {
    cfg.error("num_key_value_heads", "is " + llvm::Twine(h.numKVHeads) +
                                         ", which does not divide num_attention_heads " +
                                         llvm::Twine(h.numHeads));
    shapesKnown = false;
  }
  if (cfg.has("head_dim")) {
    h.headDim = cfg.positiveInt("head_dim", 0);
  } else if (h.numHeads > 0 && h.hiddenSize > 0) {
    if (h.hiddenSize % h.numHeads != 0) {
      cfg.error("head_dim", "missing, and hidden_size " + llvm::Twine(h.hiddenSize) +
                                " is not a multiple of num_attention_heads " +
                                llvm::Twine(h.numHeads));
      shapesKnown = false;
    }
    h.headDim = h.hiddenSize / h.numHeads;
  }
  if (h.headDim <= 0)
    shapesKnown = false;
  h.contextLength = cfg.positiveInt("max_position_embeddings", 2048);
  h.rmsNormEps = cfg.number("rms_norm_eps", bitnet ? 1e-5 : 1e-6);

  // transformers 5 nests the RoPE base in rope_parameters; older configs (and the released
  // bitnet-b1.58-2B-4T) keep a top-level rope_theta. Both mean the same.
  const double defaultTheta = bitnet ? 500000.0 : 10000.0;
  if (cfg.has("rope_parameters.rope_theta"))
    h.ropeTheta = cfg.number("rope_parameters.rope_theta", defaultTheta);
  else
    h.ropeTheta = cfg.number("rope_theta", defaultTheta);
  for (llvm::StringRef key :
       {"rope_parameters.rope_type", "rope_scaling.rope_type", "rope_scaling.type"}) {
    std::string type = cfg.string(key, "default");
    if (type != "default")
      cfg.error(key, "RoPE scaling '" + type + "' is not supported; only plain RoPE (\"default\")");
  }
  if (cfg.has("partial_rotary_factor") && cfg.number("partial_rotary_factor", 1.0) != 1.0)
    cfg.error("partial_rotary_factor", "partial rotary embeddings are not supported");
  // HF checkpoints keep q/k in the layout rotate_half expects: pairs (j, j + d/2).
  h.ropeStyle = RopeStyle::Neox;

  std::string act = cfg.string("hidden_act", bitnet ? "relu2" : "silu");
  if (act == "relu2")
    h.activation = FFNActivation::ReLU2;
  else if (act == "silu" || act == "swish")
    h.activation = FFNActivation::SiLU;
  else if (act == "gelu")
    h.activation = FFNActivation::GELU;
  else
    cfg.error("hidden_act", "'" + act + "' is not supported; expected relu2, silu or gelu");
}

void Mapper::readQuantization() {
  const llvm::json::Value *qc = cfg.find("quantization_config");
  if (!qc) {
    if (model.hparams.family == "bitnet")
      cfg.warning("quantization_config",
                  "missing: transformers then builds plain nn.Linear layers, so the weights are "
                  "used as float, without ternarization or int8 activations");
    return;
  }
  std::string method = cfg.string("quantization_config.quant_method", "");
  if (method != "bitnet") {
    cfg.error("quantization_config.quant_method",
              "'" + method + "' is not supported; expected \"bitnet\"");
    return;
  }
  // BitNetQuantConfig's defaults: linear_class "bitlinear", quantization_mode "offline".
  quant.linearClass = cfg.string("quantization_config.linear_class", "bitlinear");
  quant.mode = cfg.string("quantization_config.quantization_mode", "offline");
  if (quant.linearClass != "bitlinear" && quant.linearClass != "autobitlinear")
    cfg.error("quantization_config.linear_class",
              "'" + quant.linearClass + "'; expected \"autobitlinear\" or \"bitlinear\"");
  if (quant.mode != "online" && quant.mode != "offline")
    cfg.error("quantization_config.quantization_mode",
              "'" + quant.mode + "'; expected \"online\" or \"offline\"");
  if (cfg.boolean("quantization_config.use_rms_norm", false))
    cfg.error("quantization_config.use_rms_norm",
              "an RMSNorm inside every BitLinear layer is not supported");
  quant.ternary = true;
  // transformers builds BitLinear (packed uint8, divides by weight_scale) for linear_class
  // "bitlinear" whatever the mode; only AutoBitLinear honours quantization_mode.
  quant.online = quant.linearClass == "autobitlinear" && quant.mode == "online";
  quant.scaleMode = quant.linearClass == "bitlinear" ? ScaleMode::Divide : ScaleMode::Multiply;
  quant.notConvert = cfg.stringList("quantization_config.modules_to_not_convert");
  model.hparams.quantizeActivations = true;
}

void Mapper::readSpecialIds() {
  for (llvm::StringRef key : {"bos_token_id", "eos_token_id", "pad_token_id"}) {
    const llvm::json::Value *v = cfg.find(key);
    if (!v)
      continue;
    // eos_token_id may be a list (LLaMA-3 instruct models stop on several ids).
    std::optional<int64_t> id = v->getAsInteger();
    if (const llvm::json::Array *a = v->getAsArray(); a && !a->empty())
      id = (*a)[0].getAsInteger();
    if (!id) {
      cfg.warning(key, "expected a token id; ignored");
      continue;
    }
    if (*id < 0 || *id >= model.hparams.vocabSize) {
      cfg.warning(key, llvm::Twine(*id) + " is outside the vocabulary of " +
                           llvm::Twine(model.hparams.vocabSize) + " tokens; ignored");
      continue;
    }
    if (key == "bos_token_id")
      model.tokenizer.bosId = id;
    else if (key == "eos_token_id")
      model.tokenizer.eosId = id;
    else
      model.tokenizer.padId = id;
  }
}

const TensorRecord *Mapper::floatTensor(const std::string &name, std::vector<int64_t> shape,
                                        llvm::StringRef role, bool required) {
  const TensorRecord *t = model.findTensor(name);
  if (!t) {
    if (required)
      tensorProblem(name,
                    "missing; expected F32, F16 or BF16 " + shapeText(shape) + " (" + role + ")");
    return nullptr;
  }
  used.insert(t);
  if (!isFloat(t->dtype))
    tensorProblem(name, "has dtype " + safeTensorsDTypeName(t->dtype) +
                            "; expected F32, F16 or BF16 (" + role + ")");
  if (t->shape != shape)
    tensorProblem(name, "has shape " + shapeText(t->shape) + "; expected " + shapeText(shape) +
                            " (" + role + ")");
  return t;
}

// transformers' should_convert_module: a module stays nn.Linear when a modules_to_not_convert
// entry is a prefix of its name (at a dot) or its name ends with the entry.
bool Mapper::convertsToTernary(const std::string &module) const {
  if (!quant.ternary)
    return false;
  llvm::StringRef name(module);
  for (const std::string &key : quant.notConvert)
    if (name == key || name.starts_with(key + ".") || name.ends_with(key))
      return false;
  return true;
}

LinearWeight Mapper::linear(const std::string &module, int64_t out, int64_t in,
                            llvm::StringRef role) {
  LinearWeight w;
  w.outFeatures = out;
  w.inFeatures = in;
  const std::string name = module + ".weight";
  if (const TensorRecord *bias = model.findTensor(module + ".bias")) {
    used.insert(bias);
    tensorProblem(bias->name, "linear layer biases are not supported (" + role + ")");
  }
  if (!convertsToTernary(module) || quant.online) {
    w.weight = floatTensor(name, {out, in}, role);
    w.encoding = quant.online && convertsToTernary(module) ? WeightEncoding::TernarizeAtImport
                                                           : WeightEncoding::Float;
    w.scaleMode = ScaleMode::Multiply; // online AutoBitLinear folds mean|W| back into W
    return w;
  }

  // Offline packing: uint8 [out/4, in] plus a one-element weight_scale.
  w.encoding = WeightEncoding::TernaryPacked;
  w.scaleMode = quant.scaleMode;
  const std::string scaleName = module + ".weight_scale";
  if (out % 4 != 0) {
    tensorProblem(name, "out_features " + llvm::Twine(out) +
                            " is not a multiple of 4, which the uint8 [out/4, in] packing needs");
    return w;
  }
  std::vector<int64_t> packedShape{out / 4, in};
  const TensorRecord *t = model.findTensor(name);
  if (!t) {
    tensorProblem(name, "missing; expected U8 " + shapeText(packedShape) + " (" + role +
                            ", 2-bit packed ternary)");
  } else {
    used.insert(t);
    w.weight = t;
    if (t->dtype != DType::U8)
      tensorProblem(name, "has dtype " + safeTensorsDTypeName(t->dtype) + "; expected U8 " +
                              shapeText(packedShape) + " (" + role +
                              ": quantization_mode offline stores packed ternary weights)");
    else if (t->shape != packedShape)
      tensorProblem(name, "has shape " + shapeText(t->shape) + "; expected U8 " +
                              shapeText(packedShape) + " (" + role + ", packed [out/4, in])");
  }
  const TensorRecord *s = model.findTensor(scaleName);
  if (!s) {
    tensorProblem(scaleName,
                  "missing; expected a one-element F32, F16 or BF16 weight_scale (" + role + ")");
  } else {
    used.insert(s);
    w.scale = s;
    if (!isFloat(s->dtype) || s->elementCount() != 1)
      tensorProblem(scaleName, "is " + safeTensorsDTypeName(s->dtype) + " " + shapeText(s->shape) +
                                   "; expected one F32, F16 or BF16 value (" + role + ")");
  }
  return w;
}

void Mapper::mapTensors() {
  const Hyperparameters &h = model.hparams;
  const bool bitnet = h.family == "bitnet";
  const int64_t qOut = h.numHeads * h.headDim, kvOut = h.numKVHeads * h.headDim;
  model.tokenEmbedding =
      floatTensor("model.embed_tokens.weight", {h.vocabSize, h.hiddenSize}, "token embedding");
  model.outputNorm = floatTensor("model.norm.weight", {h.hiddenSize}, "output norm");

  model.layers.resize(h.numLayers);
  for (int64_t i = 0; i < h.numLayers; ++i) {
    LayerWeights &l = model.layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const std::string layer = "layer " + std::to_string(i) + " ";
    l.attnNorm =
        floatTensor(p + "input_layernorm.weight", {h.hiddenSize}, layer + "attention norm");
    l.q = linear(p + "self_attn.q_proj", qOut, h.hiddenSize, layer + "attention query");
    l.k = linear(p + "self_attn.k_proj", kvOut, h.hiddenSize, layer + "attention key");
    l.v = linear(p + "self_attn.v_proj", kvOut, h.hiddenSize, layer + "attention value");
    l.o = linear(p + "self_attn.o_proj", h.hiddenSize, qOut, layer + "attention output");
    l.ffnNorm =
        floatTensor(p + "post_attention_layernorm.weight", {h.hiddenSize}, layer + "FFN norm");
    l.gate = linear(p + "mlp.gate_proj", h.ffnSize, h.hiddenSize, layer + "FFN gate");
    l.up = linear(p + "mlp.up_proj", h.ffnSize, h.hiddenSize, layer + "FFN up");
    l.down = linear(p + "mlp.down_proj", h.hiddenSize, h.ffnSize, layer + "FFN down");
    if (bitnet) {
      // BitNetAttention sizes attn_sub_norm by hidden_size; BitNetMLP sizes ffn_sub_norm by
      // intermediate_size.
      l.attnSubNorm = floatTensor(p + "self_attn.attn_sub_norm.weight", {h.hiddenSize},
                                  layer + "attention sub-norm");
      l.ffnSubNorm =
          floatTensor(p + "mlp.ffn_sub_norm.weight", {h.ffnSize}, layer + "FFN sub-norm");
    }
  }

  // Tied unless the config says otherwise; with no tie_word_embeddings key, a checkpoint
  // without lm_head.weight can only mean tied.
  const TensorRecord *head = model.findTensor("lm_head.weight");
  bool tied = cfg.has("tie_word_embeddings") ? cfg.boolean("tie_word_embeddings", false) : !head;
  model.hparams.tiedEmbeddings = tied;
  model.lmHead.outFeatures = h.vocabSize;
  model.lmHead.inFeatures = h.hiddenSize;
  model.lmHead.encoding = WeightEncoding::Float; // transformers never converts lm_head
  if (tied) {
    model.lmHead.weight = model.tokenEmbedding;
    if (head) {
      used.insert(head);
      tensorProblem(head->name,
                    "ignored: tie_word_embeddings is true, so the output "
                    "projection is the token embedding",
                    Problem::Warning);
    }
  } else {
    model.lmHead.weight = floatTensor("lm_head.weight", {h.vocabSize, h.hiddenSize},
                                      "output projection; tie_word_embeddings is false");
  }

  for (const TensorRecord &t : model.tensors)
    if (!used.contains(&t))
      tensorProblem(t.name, "not used by the " + h.family + " decoder graph", Problem::Warning);
}

void Mapper::describeScheme() {
  auto meta = [&](llvm::StringRef key, llvm::StringRef value) {
    model.metadata.push_back({key.str(), "string", value.str()});
  };
  std::string d = model.hparams.family;
  if (!quant.ternary) {
    d += ", float weights";
    meta("quantization.method", "none");
  } else {
    meta("quantization.method", "bitnet");
    meta("quantization.linear_class", quant.linearClass);
    meta("quantization.mode", quant.mode);
    llvm::StringRef scale = quant.scaleMode == ScaleMode::Divide ? "divide" : "multiply";
    if (quant.online) {
      std::string master = "float";
      if (!model.layers.empty() && model.layers[0].q.weight)
        master = safeTensorsDTypeName(model.layers[0].q.weight->dtype).str();
      d += ", online quantization (" + master +
           " master weights, absmean-ternarized at import), scale multiplies (autobitlinear)";
      meta("quantization.packing", "none: " + master + " master weights, ternarized at import");
      meta("quantization.scale", "per-tensor mean|W|, computed at import");
    } else {
      d += ", offline packing (uint8 [out/4, in]), weight_scale " +
           std::string(quant.scaleMode == ScaleMode::Divide ? "divides" : "multiplies") + " (" +
           quant.linearClass + ")";
      meta("quantization.packing", "hf uint8 [out/4, in], 2-bit codes w+1, row r + i*out/4 in "
                                   "bits 2i..2i+1");
      meta("quantization.scale", "per-tensor '*.weight_scale' tensors");
    }
    meta("quantization.scale_mode", scale);
    meta("quantization.activations", "int8 per token, absmax");
  }
  model.detail = d;
}

} // namespace

void mapHFModel(HFConfig &config, ModelDescription &model) { Mapper(config, model).run(); }

} // namespace tern::fe
