// Renders a ModelDescription for `ternc inspect`, as text or JSON, from the same fields.
#include "compiler/ternc/Inspect.h"

#include "frontends/common/DType.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"

#include <map>

using namespace tern::fe;

namespace tern {
namespace {

const char *ropeStyleName(RopeStyle s) { return s == RopeStyle::Neox ? "neox" : "normal"; }

const char *activationName(FFNActivation a) {
  switch (a) {
  case FFNActivation::SiLU:
    return "silu";
  case FFNActivation::ReLU2:
    return "relu2";
  case FFNActivation::GELU:
    return "gelu";
  case FFNActivation::ReLU:
    return "relu";
  }
  return "?";
}

const char *tokenizerKind(const std::string &model) {
  if (model == "llama")
    return "SentencePiece (SPM)";
  if (model == "gpt2")
    return "byte-level BPE";
  if (model.empty())
    return "none";
  return "unknown";
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string humanBytes(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30))
    snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(1ull << 30));
  else if (bytes >= (1ull << 20))
    snprintf(buf, sizeof buf, "%.2f MiB", bytes / double(1ull << 20));
  else if (bytes >= 1024)
    snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else
    snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

// How one linear weight is stored and scaled, in words a user can check against the source.
std::string describeLinear(const LinearWeight &w) {
  if (!w.weight)
    return "";
  std::string dtype(info(w.weight->dtype).name);
  switch (w.encoding) {
  case WeightEncoding::Float:
    return "float " + dtype;
  case WeightEncoding::TernarizeAtImport:
    return "ternary, ternarized at compile time from " + dtype +
           " master weights (absmean scale), scale " +
           (w.scaleMode == ScaleMode::Divide ? "divides" : "multiplies");
  case WeightEncoding::TernaryPacked:
    break;
  }
  std::string packing;
  if (w.weight->dtype == DType::U8)
    packing = "hf packed (uint8 [out/4, in], 2-bit codes w+1)";
  else if (w.weight->dtype == DType::I2_S)
    packing = "i2_s (2-bit codes, per-tensor scale)";
  else if (w.weight->dtype == DType::TQ2_0)
    packing = "tq2_0 (2-bit codes, per-block scales)";
  else if (w.weight->dtype == DType::TQ1_0)
    packing = "tq1_0 (base-3 codes, per-block scales)";
  else
    packing = dtype;
  std::string s = "ternary, packing " + packing;
  if (w.scale) {
    // Name the scale by its suffix so one line covers every layer's tensors.
    size_t dot = w.scale->name.rfind('.');
    s += ", scales in '*" + w.scale->name.substr(dot == std::string::npos ? 0 : dot) + "' tensors";
  }
  s += w.scaleMode == ScaleMode::Divide ? ", scale divides" : ", scale multiplies";
  return s;
}

} // namespace

std::vector<std::string> summarizeLinearWeights(const ModelDescription &model) {
  std::map<std::string, int> counts;
  auto add = [&](const LinearWeight &w) {
    if (w.weight)
      ++counts[describeLinear(w)];
  };
  for (const LayerWeights &l : model.layers)
    for (const LinearWeight *w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down})
      add(*w);
  std::vector<std::string> lines;
  for (auto &[what, n] : counts)
    lines.push_back(what + ": " + std::to_string(n) + " tensors");
  if (model.lmHead.weight)
    lines.push_back("lm_head: " + describeLinear(model.lmHead) +
                    (model.hparams.tiedEmbeddings ? " (tied to the token embedding)" : ""));
  return lines;
}

llvm::json::Value inspectionToJSON(const ModelDescription &model) {
  const Hyperparameters &h = model.hparams;
  const TokenizerInfo &t = model.tokenizer;
  llvm::json::Array tensors;
  uint64_t totalBytes = 0;
  for (const TensorRecord &r : model.tensors) {
    totalBytes += r.byteSize;
    tensors.push_back(llvm::json::Object{{"name", r.name},
                                         {"type", std::string(info(r.dtype).name)},
                                         {"shape", llvm::json::Array(r.shape)},
                                         {"bytes", static_cast<int64_t>(r.byteSize)},
                                         {"offset", static_cast<int64_t>(r.fileOffset)}});
  }
  llvm::json::Array problems, metadata, weights;
  for (const Problem &p : model.problems)
    problems.push_back(llvm::json::Object{
        {"severity", p.severity == Problem::Error ? "error" : "warning"},
        {"subject", p.subject},
        {"message", p.message}});
  for (const MetadataEntry &m : model.metadata)
    metadata.push_back(
        llvm::json::Object{{"key", m.key}, {"type", m.type}, {"value", m.value}});
  for (const std::string &line : summarizeLinearWeights(model))
    weights.push_back(line);
  auto optionalId = [](const std::optional<int64_t> &id) -> llvm::json::Value {
    return id ? llvm::json::Value(*id) : llvm::json::Value(nullptr);
  };
  return llvm::json::Object{
      {"path", model.path},
      {"format", model.format},
      {"detail", model.detail},
      {"architecture", model.architecture},
      {"supported", model.supported()},
      {"hyperparameters",
       llvm::json::Object{{"family", h.family},
                          {"layers", h.numLayers},
                          {"hidden_size", h.hiddenSize},
                          {"heads", h.numHeads},
                          {"kv_heads", h.numKVHeads},
                          {"head_dim", h.headDim},
                          {"ffn_size", h.ffnSize},
                          {"vocab_size", h.vocabSize},
                          {"context_length", h.contextLength},
                          {"rms_norm_eps", h.rmsNormEps},
                          {"rope_theta", h.ropeTheta},
                          {"rope_style", ropeStyleName(h.ropeStyle)},
                          {"activation", activationName(h.activation)},
                          {"gated_ffn", h.gatedFFN},
                          {"norm", h.norm == fe::NormKind::RMS ? "rms" : "layer"},
                          {"positions", h.positions == fe::PositionEncoding::Rope      ? "rope"
                                        : h.positions == fe::PositionEncoding::Learned ? "learned"
                                                                                       : "none"},
                          {"tied_embeddings", h.tiedEmbeddings},
                          {"quantized_activations", h.quantizeActivations}}},
      {"weights", std::move(weights)},
      {"tokenizer",
       llvm::json::Object{{"model", t.model},
                          {"kind", tokenizerKind(t.model)},
                          {"pre", t.pre},
                          {"source", t.source},
                          {"vocab_size", t.vocabSize},
                          {"merges", t.numMerges},
                          {"has_scores", t.hasScores},
                          {"has_token_types", t.hasTokenTypes},
                          {"bos_id", optionalId(t.bosId)},
                          {"eos_id", optionalId(t.eosId)},
                          {"unk_id", optionalId(t.unkId)},
                          {"pad_id", optionalId(t.padId)},
                          {"chat_template", !t.chatTemplate.empty()}}},
      {"tensor_count", static_cast<int64_t>(model.tensors.size())},
      {"tensor_bytes", static_cast<int64_t>(totalBytes)},
      {"tensors", std::move(tensors)},
      {"metadata", std::move(metadata)},
      {"problems", std::move(problems)},
  };
}

void printInspection(const ModelDescription &model, llvm::raw_ostream &os) {
  const Hyperparameters &h = model.hparams;
  const TokenizerInfo &t = model.tokenizer;
  os << model.path << "\n";
  os << "  format:        " << model.format << (model.detail.empty() ? "" : " (" + model.detail + ")")
     << "\n";
  os << "  architecture:  " << model.architecture;
  if (!h.family.empty())
    os << " (compiles as the " << h.family << " decoder graph)";
  os << "\n";
  os << "  supported:     " << (model.supported() ? "yes" : "no") << "\n\n";

  os << "Hyperparameters\n";
  os << "  layers " << h.numLayers << ", dim " << h.hiddenSize << ", heads " << h.numHeads
     << " / KV heads " << h.numKVHeads << ", head dim " << h.headDim << ", FFN " << h.ffnSize
     << ", vocab " << h.vocabSize << ", context " << h.contextLength << "\n";
  os << "  " << (h.norm == fe::NormKind::RMS ? "rms" : "layer") << " norm eps "
     << llvm::format("%g", h.rmsNormEps) << ", positions ";
  if (h.positions == fe::PositionEncoding::Rope)
    os << "rope theta " << llvm::format("%g", h.ropeTheta) << " (" << ropeStyleName(h.ropeStyle)
       << " pairs)";
  else
    os << (h.positions == fe::PositionEncoding::Learned ? "learned table" : "none");
  os << ", FFN activation " << activationName(h.activation) << (h.gatedFFN ? "" : " (ungated)")
     << ", tied embeddings " << (h.tiedEmbeddings ? "yes" : "no") << ", int8 activations "
     << (h.quantizeActivations ? "yes" : "no") << "\n\n";

  os << "Weights\n";
  for (const std::string &line : summarizeLinearWeights(model))
    os << "  " << line << "\n";
  os << "\n";

  os << "Tokenizer\n";
  if (t.model.empty()) {
    os << "  none\n\n";
  } else {
    os << "  " << tokenizerKind(t.model) << " (" << t.model << (t.pre.empty() ? "" : ", pre " + t.pre)
       << "), " << t.vocabSize << " tokens, " << t.numMerges << " merges, scores "
       << (t.hasScores ? "yes" : "no") << ", token types " << (t.hasTokenTypes ? "yes" : "no")
       << "\n  special ids:";
    auto id = [&](const char *name, const std::optional<int64_t> &v) {
      if (v)
        os << " " << name << " " << *v;
    };
    id("bos", t.bosId);
    id("eos", t.eosId);
    id("unk", t.unkId);
    id("pad", t.padId);
    os << "; chat template " << (t.chatTemplate.empty() ? "none" : "yes") << "\n\n";
  }

  uint64_t totalBytes = 0;
  size_t nameWidth = 4;
  for (const TensorRecord &r : model.tensors) {
    totalBytes += r.byteSize;
    nameWidth = std::max(nameWidth, r.name.size());
  }
  os << "Tensors (" << model.tensors.size() << ", " << humanBytes(totalBytes) << ")\n";
  os << "  " << llvm::left_justify("name", nameWidth) << "  " << llvm::left_justify("type", 6)
     << "  " << llvm::left_justify("shape", 16) << "  bytes\n";
  for (const TensorRecord &r : model.tensors)
    os << "  " << llvm::left_justify(r.name, nameWidth) << "  "
       << llvm::left_justify(info(r.dtype).name, 6) << "  "
       << llvm::left_justify(shapeString(r.shape), 16) << "  " << r.byteSize << "\n";
  os << "\n";

  os << "Metadata (" << model.metadata.size() << " entries)\n";
  for (const MetadataEntry &m : model.metadata)
    os << "  " << m.key << " (" << m.type << ") = " << m.value << "\n";
  os << "\n";

  os << "Compatibility: " << (model.supported() ? "supported" : "NOT supported") << "\n";
  if (model.problems.empty())
    os << "  no problems found\n";
  for (const Problem &p : model.problems)
    os << "  " << (p.severity == Problem::Error ? "error" : "warning") << ": " << p.subject
       << ": " << p.message << "\n";
}

} // namespace tern
