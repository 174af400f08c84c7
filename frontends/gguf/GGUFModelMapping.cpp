// llama.cpp's llama and bitnet architectures and bitnet.cpp's bitnet-b1.58 / bitnet-25: which
// keys hold the hyperparameters, which tensor plays which role, what each graph computes.
#include "frontends/gguf/GGUFModelMapping.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"

namespace tern::fe {
namespace {

// What llama.cpp / bitnet.cpp build for an architecture (see docs/formats/gguf.md for sources).
struct ArchSpec {
  llvm::StringRef name;
  llvm::StringRef family;
  RopeStyle rope;          // llama_rope_type(): LLAMA_ROPE_TYPE_NORM -> Normal, NEOX -> Neox
  FFNActivation activation;
  bool bitnet;             // sub-norms, ternary weights, int8 activations
  bool outputAlwaysTied;   // the graph multiplies by token_embd, never output.weight
  bool scaleTensors;       // optional blk.N.<proj>.scale multipliers
};

const ArchSpec kArchs[] = {
    // LLaMA: the converter permutes Q/K rows so adjacent pairs rotate (LLAMA_ROPE_TYPE_NORM).
    {"llama", "llama", RopeStyle::Normal, FFNActivation::SiLU, false, false, false},
    // Mainline llama.cpp's BitNet (llm_build_bitnet): NEOX rope, SiLU-gated FFN, tied output,
    // optional per-tensor scales multiplied after each matmul.
    {"bitnet", "bitnet", RopeStyle::Neox, FFNActivation::SiLU, true, true, true},
    // bitnet.cpp's fork (build_bitnet_158): NEOX rope, relu^2-gated FFN, output optional.
    {"bitnet-b1.58", "bitnet", RopeStyle::Neox, FFNActivation::ReLU2, true, false, false},
    {"bitnet-25", "bitnet", RopeStyle::Neox, FFNActivation::ReLU2, true, false, false},
};

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool isFloatStorage(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::Q8_0 ||
         t == DType::Q4_0;
}
bool isNormStorage(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

enum class Kind { Norm, Embedding, Linear, Scale };

class Mapper {
public:
  Mapper(const GGUFReader &reader, ModelDescription &model) : reader(reader), model(model) {}
  void run();

private:
  void error(llvm::StringRef subject, const llvm::Twine &message) {
    model.problems.push_back({Problem::Error, subject.str(), message.str()});
  }
  void warning(llvm::StringRef subject, const llvm::Twine &message) {
    model.problems.push_back({Problem::Warning, subject.str(), message.str()});
  }
  std::optional<int64_t> positiveKey(llvm::StringRef suffix, llvm::StringRef what, bool required);
  std::optional<double> numberKey(llvm::StringRef suffix, llvm::StringRef what, bool required);
  void readHyperparameters();
  void mapTensors();
  const TensorRecord *tensor(const std::string &name, const std::vector<int64_t> &shape,
                             const llvm::Twine &role, Kind kind, bool required = true);
  LinearWeight linear(const std::string &base, int64_t out, int64_t in, const llvm::Twine &role);
  void reportUnused();

  const GGUFReader &reader;
  ModelDescription &model;
  const ArchSpec *spec = nullptr;
  llvm::StringMap<const TensorRecord *> byName;
  llvm::StringMap<const GGUFTensorInfo *> infoByName;
  llvm::DenseSet<llvm::StringRef> used;
  bool shapesKnown = true;
  std::vector<std::string> floatLinears; // bitnet files only: linears stored as float
};

void Mapper::run() {
  for (const TensorRecord &t : model.tensors)
    byName[t.name] = &t;
  for (const GGUFTensorInfo &t : reader.tensorInfos())
    infoByName[t.name] = &t;

  llvm::StringRef arch = reader.architecture();
  for (const ArchSpec &a : kArchs)
    if (a.name == arch)
      spec = &a;
  if (reader.tensorInfos().empty())
    error("tensors", "no weights: the file holds no tensors (a vocabulary-only GGUF file?); it "
                     "can be inspected but not compiled");
  if (!spec) {
    error("general.architecture",
          arch.empty() ? llvm::Twine("missing; expected llama, bitnet, bitnet-b1.58 or bitnet-25")
                       : "'" + arch + "' is not supported; expected llama, bitnet, bitnet-b1.58 "
                                      "(bitnet.cpp) or bitnet-25 (bitnet.cpp)");
    return;
  }
  Hyperparameters &h = model.hparams;
  h.family = spec->family.str();
  h.ropeStyle = spec->rope;
  h.activation = spec->activation;
  h.quantizeActivations = spec->bitnet;
  readHyperparameters();
  if (reader.tensorInfos().empty())
    return;
  // Every layer needs at least nine tensors; a larger count would only list thousands of
  // "missing" tensors.
  if (shapesKnown && h.numLayers > static_cast<int64_t>(reader.tensorInfos().size())) {
    error((arch + ".block_count").str(),
          "is " + llvm::Twine(h.numLayers) + ", but the file holds only " +
              llvm::Twine(reader.tensorInfos().size()) + " tensors");
    shapesKnown = false;
  }
  if (!shapesKnown)
    return;
  mapTensors();
  reportUnused();
  if (!floatLinears.empty())
    warning(floatLinears.front(),
            llvm::Twine(floatLinears.size()) +
                " linear weights (this one first) are stored as float: llama.cpp runs them as "
                "float matmuls without BitNet's int8 activations, and so does ternc; quantize to "
                "tq2_0, tq1_0 or i2_s for ternary kernels");
}

std::optional<int64_t> Mapper::positiveKey(llvm::StringRef suffix, llvm::StringRef what,
                                           bool required) {
  const std::string key = (reader.architecture() + "." + suffix).str();
  const GGUFValue *v = reader.find(key);
  if (!v) {
    if (required)
      error(key, "missing: expected a positive integer (" + what + ")");
    return std::nullopt;
  }
  // Some converters write per-layer arrays (e.g. head_count); uniform ones are accepted.
  std::optional<int64_t> value;
  if (v->isArray() && v->count > 0 && v->raw) {
    value = v->intAt(0);
    for (uint64_t i = 1; i < v->count && value; ++i)
      if (v->intAt(i) != value) {
        error(key, "differs between layers (" + valueText(*v) + "); only uniform layers are "
                   "supported");
        return std::nullopt;
      }
  } else if (v->type != GGUFValueType::Bool) {
    value = v->asInt();
  }
  if (!value || *value <= 0) {
    error(key, "expected a positive integer (" + what + "), found " + typeText(*v) + " " +
                   valueText(*v));
    return std::nullopt;
  }
  return value;
}

std::optional<double> Mapper::numberKey(llvm::StringRef suffix, llvm::StringRef what,
                                        bool required) {
  const std::string key = (reader.architecture() + "." + suffix).str();
  const GGUFValue *v = reader.find(key);
  if (!v) {
    if (required)
      error(key, "missing: expected a number (" + what + ")");
    return std::nullopt;
  }
  std::optional<double> value = v->asNumber();
  if (!value || !(*value > 0)) {
    error(key, "expected a positive number (" + what + "), found " + typeText(*v) + " " +
                   valueText(*v));
    return std::nullopt;
  }
  return value;
}

void Mapper::readHyperparameters() {
  Hyperparameters &h = model.hparams;
  const std::string arch = reader.architecture().str();
  auto need = [&](llvm::StringRef suffix, llvm::StringRef what, int64_t &field) {
    if (auto v = positiveKey(suffix, what, true))
      field = *v;
    else
      shapesKnown = false;
  };
  need("block_count", "the number of layers", h.numLayers);
  need("embedding_length", "the hidden size", h.hiddenSize);
  need("feed_forward_length", "the FFN size", h.ffnSize);
  need("attention.head_count", "the number of attention heads", h.numHeads);
  h.contextLength = positiveKey("context_length", "the training context length", true).value_or(0);
  h.numKVHeads = positiveKey("attention.head_count_kv", "KV heads", false).value_or(h.numHeads);
  if (auto eps = numberKey("attention.layer_norm_rms_epsilon", "the RMSNorm epsilon", true))
    h.rmsNormEps = *eps;
  h.ropeTheta = numberKey("rope.freq_base", "the RoPE base", false).value_or(10000.0);

  if (h.numHeads > 0 && h.numKVHeads > 0 && h.numHeads % h.numKVHeads != 0) {
    error(arch + ".attention.head_count_kv",
          "is " + llvm::Twine(h.numKVHeads) + ", which does not divide the " +
              llvm::Twine(h.numHeads) + " attention heads");
    shapesKnown = false;
  }
  if (auto keyLength = positiveKey("attention.key_length", "the head size", false)) {
    h.headDim = *keyLength;
    auto valueLength = positiveKey("attention.value_length", "the value head size", false);
    if (valueLength && *valueLength != *keyLength)
      error(arch + ".attention.value_length",
            "is " + llvm::Twine(*valueLength) + ", but key_length is " + llvm::Twine(*keyLength) +
                "; only equal key and value head sizes are supported");
  } else if (h.numHeads > 0 && h.hiddenSize > 0) {
    if (h.hiddenSize % h.numHeads != 0) {
      error(arch + ".attention.head_count",
            "is " + llvm::Twine(h.numHeads) + ", which does not divide the hidden size " +
                llvm::Twine(h.hiddenSize) + " (and no attention.key_length says the head size)");
      shapesKnown = false;
    } else {
      h.headDim = h.hiddenSize / h.numHeads;
    }
  }
  if (h.headDim <= 0)
    shapesKnown = false;
  if (auto rot = positiveKey("rope.dimension_count", "rotated dimensions per head", false);
      rot && h.headDim > 0 && *rot != h.headDim)
    error(arch + ".rope.dimension_count",
          "is " + llvm::Twine(*rot) + ", but heads have " + llvm::Twine(h.headDim) +
              " dimensions; partial rotary embeddings are not supported (llama.cpp rejects "
              "them for this architecture too)");
  if (const GGUFValue *v = reader.find(arch + ".rope.scaling.type")) {
    // llama.cpp's BitNet converter writes "linear" with factor 1.0, which is plain RoPE.
    std::optional<llvm::StringRef> type = v->asString();
    const GGUFValue *factor = reader.find(arch + ".rope.scaling.factor");
    const bool unitLinear = type && *type == "linear" &&
                            (!factor || factor->asNumber() == 1.0 || factor->asNumber() == 0.0);
    if (!type || (*type != "none" && !type->empty() && !unitLinear))
      error(arch + ".rope.scaling.type",
            "RoPE scaling " + valueText(*v) + " is not supported; only plain RoPE (none, or "
            "linear with factor 1)");
  }

  // Vocabulary size: the explicit key, else the token list, else the embedding rows.
  if (auto v = positiveKey("vocab_size", "the vocabulary size", false))
    h.vocabSize = *v;
  else if (model.tokenizer.vocabSize > 0)
    h.vocabSize = model.tokenizer.vocabSize;
  else if (auto it = byName.find("token_embd.weight");
           it != byName.end() && it->second->shape.size() == 2)
    h.vocabSize = it->second->shape[0];
  if (h.vocabSize <= 0 && !reader.tensorInfos().empty()) {
    error("tokenizer.ggml.tokens", "missing, and no " + arch + ".vocab_size or token_embd.weight "
                                   "says the vocabulary size");
    shapesKnown = false;
  }
  if (model.tokenizer.tokens.empty() && !reader.tensorInfos().empty())
    warning("tokenizer.ggml.tokens", "missing: the model has no tokenizer, so it can only be run "
                                     "on token ids");
}

const TensorRecord *Mapper::tensor(const std::string &name, const std::vector<int64_t> &shape,
                                   const llvm::Twine &role, Kind kind, bool required) {
  auto it = byName.find(name);
  if (it == byName.end()) {
    if (auto info = infoByName.find(name); info != infoByName.end()) {
      used.insert(info->second->name);
      error(name, "has type " + info->second->type.name + ", which ternc cannot decode; expected " +
                      (kind == Kind::Linear && spec->bitnet
                           ? "tq1_0, tq2_0, i2_s or a float type"
                           : "f32, f16, bf16, q8_0 or q4_0") +
                      " for " + role);
    } else if (required) {
      error(name, "missing: expected a " + shapeText(shape) + " tensor for " + role);
    }
    return nullptr;
  }
  const TensorRecord *t = it->second;
  used.insert(t->name);
  std::vector<int64_t> actual = t->shape;
  // A scale may be stored as a scalar (n_dims 0) or as [1]; both are one float.
  if (kind == Kind::Scale && actual.empty())
    actual = {1};
  if (actual != shape) {
    error(name, "has shape " + shapeText(t->shape) + "; expected " + shapeText(shape) + " for " +
                    role);
    return nullptr;
  }
  bool ok = true;
  llvm::StringRef expected;
  switch (kind) {
  case Kind::Norm:
    ok = isNormStorage(t->dtype);
    expected = "f32, f16 or bf16";
    break;
  case Kind::Scale:
    ok = t->dtype == DType::F32;
    expected = "f32";
    break;
  case Kind::Embedding:
    ok = isFloatStorage(t->dtype);
    expected = "f32, f16, bf16, q8_0 or q4_0";
    break;
  case Kind::Linear:
    ok = isFloatStorage(t->dtype) || (spec->bitnet && info(t->dtype).isTernary);
    expected = spec->bitnet ? "tq1_0, tq2_0, i2_s or a float type (f32, f16, bf16, q8_0, q4_0)"
                            : "f32, f16, bf16, q8_0 or q4_0 (ternary types belong to the bitnet "
                              "architectures, whose graph quantizes activations)";
    break;
  }
  if (!ok) {
    error(name, "has type " + llvm::StringRef(info(t->dtype).name) + "; expected " + expected + " for " + role);
    return nullptr;
  }
  return t;
}

LinearWeight Mapper::linear(const std::string &base, int64_t out, int64_t in,
                            const llvm::Twine &role) {
  LinearWeight w;
  w.outFeatures = out;
  w.inFeatures = in;
  w.weight = tensor(base + ".weight", {out, in}, role, Kind::Linear);
  if (!w.weight)
    return w;
  if (info(w.weight->dtype).isTernary) {
    w.encoding = WeightEncoding::TernaryPacked;
  } else {
    w.encoding = WeightEncoding::Float;
    if (spec->bitnet)
      floatLinears.push_back(w.weight->name);
  }
  if (spec->scaleTensors)
    w.scale = tensor(base + ".scale", {1}, role + " scale", Kind::Scale, /*required=*/false);
  w.scaleMode = ScaleMode::Multiply; // ggml_mul(cur, scale) in llama.cpp's graph
  return w;
}

void Mapper::mapTensors() {
  const Hyperparameters &h = model.hparams;
  const int64_t hidden = h.hiddenSize, qDim = h.numHeads * h.headDim,
                kvDim = h.numKVHeads * h.headDim, ffn = h.ffnSize, vocab = h.vocabSize;

  model.tokenEmbedding =
      tensor("token_embd.weight", {vocab, hidden}, "the token embedding", Kind::Embedding);
  model.outputNorm = tensor("output_norm.weight", {hidden}, "the final norm", Kind::Norm);

  const TensorRecord *output = nullptr;
  if (byName.count("output.weight") || infoByName.count("output.weight")) {
    if (spec->outputAlwaysTied) {
      used.insert(infoByName["output.weight"]->name);
      warning("output.weight", "ignored: llama.cpp's " + spec->name +
                                   " graph always multiplies by token_embd.weight (tied)");
    } else {
      output = tensor("output.weight", {vocab, hidden}, "the output projection", Kind::Embedding);
    }
  }
  model.lmHead.outFeatures = vocab;
  model.lmHead.inFeatures = hidden;
  model.lmHead.encoding = WeightEncoding::Float;
  model.lmHead.weight = output ? output : model.tokenEmbedding;
  model.hparams.tiedEmbeddings = !output && !byName.count("output.weight") &&
                                 !infoByName.count("output.weight");
  if (spec->outputAlwaysTied)
    model.hparams.tiedEmbeddings = true;

  model.layers.resize(h.numLayers);
  for (int64_t i = 0; i < h.numLayers; ++i) {
    LayerWeights &l = model.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    const std::string layer = "layer " + std::to_string(i) + " ";
    l.attnNorm = tensor(p + "attn_norm.weight", {hidden}, layer + "attention norm", Kind::Norm);
    l.q = linear(p + "attn_q", qDim, hidden, layer + "attention query projection");
    l.k = linear(p + "attn_k", kvDim, hidden, layer + "attention key projection");
    l.v = linear(p + "attn_v", kvDim, hidden, layer + "attention value projection");
    l.o = linear(p + "attn_output", hidden, qDim, layer + "attention output projection");
    l.ffnNorm = tensor(p + "ffn_norm.weight", {hidden}, layer + "FFN norm", Kind::Norm);
    l.gate = linear(p + "ffn_gate", ffn, hidden, layer + "FFN gate projection");
    l.up = linear(p + "ffn_up", ffn, hidden, layer + "FFN up projection");
    l.down = linear(p + "ffn_down", hidden, ffn, layer + "FFN down projection");
    if (spec->bitnet) {
      l.attnSubNorm =
          tensor(p + "attn_sub_norm.weight", {hidden}, layer + "attention sub-norm", Kind::Norm);
      l.ffnSubNorm = tensor(p + "ffn_sub_norm.weight", {ffn}, layer + "FFN sub-norm", Kind::Norm);
    }
  }
}

void Mapper::reportUnused() {
  for (const GGUFTensorInfo &t : reader.tensorInfos()) {
    if (used.contains(t.name))
      continue;
    llvm::StringRef name = t.name;
    // These change what the graph computes; dropping them would give a different model.
    if (name.ends_with(".bias") || name.ends_with(".scale") || name == "rope_freqs.weight" ||
        name.contains("_exps") || name.contains("ffn_gate_inp"))
      error(name, "not supported: the " + spec->name + " mapping has no place for this tensor "
                  "(biases, per-tensor scales outside llama.cpp's bitnet graph, RoPE frequency "
                  "factors and experts are not implemented)");
    else
      warning(name, "ignored: not part of the " + spec->name + " graph");
  }
}

} // namespace

void mapGGUFModel(const GGUFReader &reader, ModelDescription &model) {
  Mapper(reader, model).run();
}

} // namespace tern::fe
