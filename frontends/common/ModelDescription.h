// The format-independent account of a model: what the importer and `ternc inspect` work from.
#ifndef TERN_FRONTENDS_COMMON_MODELDESCRIPTION_H
#define TERN_FRONTENDS_COMMON_MODELDESCRIPTION_H

#include "frontends/common/TensorRecord.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tern::fe {

enum class RopeStyle { Normal, Neox }; // adjacent pairs (llama.cpp LLaMA) | pairs j, j+d/2 (HF)
enum class FFNActivation { SiLU, ReLU2, GELU, ReLU }; // GELU: tanh approximation
enum class NormKind { RMS, Layer };                    // Layer: subtract the mean, optional bias
enum class PositionEncoding { Rope, Learned, None };   // Learned: an absolute position table
enum class ScaleMode { Multiply, Divide }; // HF `linear_class`: autobitlinear | bitlinear

// How a linear layer's weights are stored and what the importer must do with them.
enum class WeightEncoding {
  Float,              // plain float weights (F32/F16/BF16/Q8_0/Q4_0): tern.matmul
  TernaryPacked,      // ternary codes in the file (TQ1_0, TQ2_0, I2_S, HF offline uint8)
  TernarizeAtImport,  // float master weights, BitNet absmean ternarization (HF online)
};

struct LinearWeight {
  const TensorRecord *weight = nullptr;      // [out, in] logically
  const TensorRecord *scale = nullptr;       // separate scale tensor (HF weight_scale, GGUF *.scale)
  const TensorRecord *bias = nullptr;        // added after the matmul (GPT-2, ONNX exports)
  WeightEncoding encoding = WeightEncoding::Float;
  ScaleMode scaleMode = ScaleMode::Multiply;
  int64_t outFeatures = 0, inFeatures = 0;
};

struct LayerWeights {
  const TensorRecord *attnNorm = nullptr;
  const TensorRecord *attnNormBias = nullptr; // NormKind::Layer only, optional
  LinearWeight q, k, v, o;
  const TensorRecord *attnSubNorm = nullptr; // BitNet only
  const TensorRecord *ffnNorm = nullptr;
  const TensorRecord *ffnNormBias = nullptr;
  LinearWeight gate, up, down;
  const TensorRecord *ffnSubNorm = nullptr;  // BitNet only
};

struct Hyperparameters {
  std::string family;          // "llama" or "bitnet": which decoder graph to build
  int64_t numLayers = 0;
  int64_t hiddenSize = 0;
  int64_t numHeads = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  int64_t ffnSize = 0;
  int64_t vocabSize = 0;
  int64_t contextLength = 0;
  double rmsNormEps = 1e-5;
  double ropeTheta = 10000.0;
  RopeStyle ropeStyle = RopeStyle::Normal;
  FFNActivation activation = FFNActivation::SiLU;
  bool gatedFFN = true;        // down(act(gate) * up); false: down(act(up)) (GPT-2, OPT)
  NormKind norm = NormKind::RMS;
  PositionEncoding positions = PositionEncoding::Rope;
  bool tiedEmbeddings = false;
  bool quantizeActivations = false; // BitNet per-token absmax int8 before each ternary matmul
};

struct TokenizerInfo {
  std::string model;           // "llama" (SentencePiece), "gpt2" (byte-level BPE), "" when absent
  std::string pre;             // pre-tokenizer name (gpt2, llama-bpe, ...)
  std::string source;          // file the vocabulary comes from (GGUF, tokenizer.json, ...)
  int64_t vocabSize = 0;
  int64_t numMerges = 0;
  bool hasScores = false, hasTokenTypes = false;
  std::optional<int64_t> bosId, eosId, unkId, padId, sepId;
  std::optional<bool> addBos, addEos;
  std::string chatTemplate;
  std::vector<std::string> tokens;  // full vocabulary when the source has it
  std::vector<float> scores;
  std::vector<int32_t> tokenTypes;
  std::vector<std::string> merges;
};

// One reason the model cannot be compiled (or a warning that it can, with a caveat).
struct Problem {
  enum Severity { Warning, Error } severity = Error;
  std::string subject; // tensor name, metadata key or config field
  std::string message; // what is missing, unmapped or out of range
};

// A printable metadata entry for `ternc inspect` (arrays shortened by the reader).
struct MetadataEntry {
  std::string key;
  std::string type;
  std::string value;
};

struct ModelDescription {
  // Keeps the reader (and its memory maps) alive: TensorRecord::data points into it.
  std::shared_ptr<const void> storage;
  std::string format;       // "gguf", "safetensors" or "onnx"
  std::string path;         // file or directory given by the user
  std::string architecture; // as the file names it: llama, bitnet, bitnet-b1.58, bitnet-25, ...
  std::string detail;       // format specifics: "GGUF v3, alignment 32", "offline packing, multiply"
  Hyperparameters hparams;
  // Every tensor in the file(s), file order. Filled once before mapping roles: the role
  // pointers below point into it, so it must not grow afterwards.
  std::vector<TensorRecord> tensors;
  std::vector<MetadataEntry> metadata;
  TokenizerInfo tokenizer;
  // Mapped roles; pointers into |tensors|. Empty when the architecture is not understood.
  const TensorRecord *tokenEmbedding = nullptr;
  const TensorRecord *outputNorm = nullptr;
  const TensorRecord *outputNormBias = nullptr;
  const TensorRecord *positionEmbedding = nullptr; // PositionEncoding::Learned: [positions, hidden]
  LinearWeight lmHead;      // weight == tokenEmbedding when tiedEmbeddings
  std::vector<LayerWeights> layers;
  std::vector<Problem> problems;

  bool supported() const {
    for (const Problem &p : problems)
      if (p.severity == Problem::Error)
        return false;
    return true;
  }
  const TensorRecord *findTensor(const std::string &name) const {
    for (const TensorRecord &t : tensors)
      if (t.name == name)
        return &t;
    return nullptr;
  }
};

} // namespace tern::fe

#endif
