// Translation from the frontends' ModelDescription to the artifact schema's tables.
#include "compiler/artifact/ArtifactFromModel.h"

namespace tern {
namespace {

schema::RopeStyle ropeStyle(fe::RopeStyle style) {
  switch (style) {
  case fe::RopeStyle::Normal:
    return schema::RopeStyle::Normal;
  case fe::RopeStyle::Neox:
    return schema::RopeStyle::Neox;
  }
  return schema::RopeStyle::Normal;
}

schema::Activation activation(fe::FFNActivation activation) {
  switch (activation) {
  case fe::FFNActivation::SiLU:
    return schema::Activation::SiLU;
  case fe::FFNActivation::ReLU2:
    return schema::Activation::ReLU2;
  case fe::FFNActivation::GELU:
    return schema::Activation::GELU;
  case fe::FFNActivation::ReLU:
    return schema::Activation::ReLU;
  }
  return schema::Activation::SiLU;
}

template <typename T> flatbuffers::Optional<T> optional(const std::optional<T> &value) {
  if (value)
    return *value;
  return flatbuffers::nullopt;
}

} // namespace

void describeModelInArtifact(const fe::ModelDescription &model, ArtifactContents &contents) {
  schema::ModelMetadataT &metadata = contents.metadata;
  metadata.architecture = model.architecture;
  metadata.family = model.hparams.family;
  metadata.source_format = model.format;
  auto hparams = std::make_unique<schema::HyperparametersT>();
  const fe::Hyperparameters &h = model.hparams;
  hparams->layers = h.numLayers;
  hparams->hidden = h.hiddenSize;
  hparams->heads = h.numHeads;
  hparams->kv_heads = h.numKVHeads;
  hparams->head_dim = h.headDim;
  hparams->ffn = h.ffnSize;
  hparams->vocab = h.vocabSize;
  hparams->context = h.contextLength;
  hparams->rms_eps = h.rmsNormEps;
  hparams->rope_theta = h.ropeTheta;
  hparams->rope_style = ropeStyle(h.ropeStyle);
  hparams->activation = activation(h.activation);
  hparams->tied_embeddings = h.tiedEmbeddings;
  hparams->quantize_activations = h.quantizeActivations;
  metadata.hparams = std::move(hparams);

  schema::TokenizerT &tokenizer = contents.tokenizer;
  const fe::TokenizerInfo &t = model.tokenizer;
  tokenizer.model = t.model;
  tokenizer.pre = t.pre;
  tokenizer.tokens = t.tokens;
  tokenizer.scores = t.scores;
  tokenizer.token_types = t.tokenTypes;
  tokenizer.merges = t.merges;
  tokenizer.bos_id = optional(t.bosId);
  tokenizer.eos_id = optional(t.eosId);
  tokenizer.unk_id = optional(t.unkId);
  tokenizer.pad_id = optional(t.padId);
  tokenizer.sep_id = optional(t.sepId);
  tokenizer.add_bos = optional(t.addBos);
  tokenizer.add_eos = optional(t.addEos);
  tokenizer.chat_template = t.chatTemplate;
}

ArtifactSection tensorSection(const fe::TensorRecord &tensor) {
  ArtifactSection section;
  section.name = tensor.name;
  section.kind = schema::SectionKind::Weights;
  section.size = tensor.byteSize;
  section.bytes = llvm::ArrayRef<uint8_t>(tensor.data, tensor.byteSize);
  schema::TensorInfoT info;
  info.name = tensor.name;
  info.dtype = std::string(fe::info(tensor.dtype).name);
  info.shape = tensor.shape;
  section.tensor = std::move(info);
  return section;
}

} // namespace tern
