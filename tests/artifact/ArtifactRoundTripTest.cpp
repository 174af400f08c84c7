// Writes artifacts and loads them back: every field and every section byte must survive.
#include "ArtifactTestUtil.h"

#include "compiler/artifact/ArtifactFromModel.h"
#include "frontends/common/ModelFormats.h"
#include "tern/artifact/FileFormat.h"
#include "tern/artifact/HostCpu.h"

#include <cstring>

namespace tern {
namespace {

using test::ScratchDir;
using test::Status;

// The object API packs empty strings and vectors as absent fields.
std::string str(const flatbuffers::String *s) { return s ? s->str() : std::string(); }
template <typename T> size_t size(const flatbuffers::Vector<T> *v) { return v ? v->size() : 0; }

TEST(Artifact, RoundTripsStories260K) {
  std::string source = std::string(TERN_SHARED_DATA_DIR) + "/gguf/stories260K.gguf";
  if (!llvm::sys::fs::exists(source))
    GTEST_SKIP() << source << " is absent";
  auto model = fe::describeModel(source);
  ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());

  ArtifactContents contents;
  describeModelInArtifact(*model, contents);
  contents.target.triple = std::string(hostArchitecture()) + "-unknown-linux-gnu";
  std::vector<const fe::TensorRecord *> written;
  for (const fe::TensorRecord &tensor : model->tensors)
    if (tensor.dtype == fe::DType::F32) {
      contents.sections.push_back(tensorSection(tensor));
      written.push_back(&tensor);
    }
  ASSERT_FALSE(written.empty());
  ScratchDir dir;
  std::string path = dir.file("stories260K.tern");
  ASSERT_FALSE(static_cast<bool>(writeArtifact(path, contents)));

  Status status;
  auto artifact = Artifact::open(path.c_str(), &status.status);
  ASSERT_TRUE(artifact) << status.message();
  EXPECT_EQ(artifact->formatVersion(), kArtifactFormatVersion);

  const schema::ModelMetadata *metadata = artifact->metadata();
  ASSERT_TRUE(metadata && metadata->hparams());
  EXPECT_EQ(str(metadata->architecture()), model->architecture);
  EXPECT_EQ(str(metadata->family()), model->hparams.family);
  const schema::Hyperparameters &h = *metadata->hparams();
  EXPECT_EQ(h.layers(), model->hparams.numLayers);
  EXPECT_EQ(h.hidden(), model->hparams.hiddenSize);
  EXPECT_EQ(h.heads(), model->hparams.numHeads);
  EXPECT_EQ(h.kv_heads(), model->hparams.numKVHeads);
  EXPECT_EQ(h.head_dim(), model->hparams.headDim);
  EXPECT_EQ(h.ffn(), model->hparams.ffnSize);
  EXPECT_EQ(h.vocab(), model->hparams.vocabSize);
  EXPECT_EQ(h.context(), model->hparams.contextLength);
  EXPECT_EQ(h.rms_eps(), model->hparams.rmsNormEps);
  EXPECT_EQ(h.rope_theta(), model->hparams.ropeTheta);
  EXPECT_EQ(h.tied_embeddings(), model->hparams.tiedEmbeddings);
  EXPECT_GT(h.layers(), 0);

  const schema::Tokenizer *tokenizer = artifact->tokenizer();
  const fe::TokenizerInfo &t = model->tokenizer;
  ASSERT_TRUE(tokenizer && tokenizer->tokens());
  EXPECT_EQ(str(tokenizer->model()), t.model);
  ASSERT_EQ(tokenizer->tokens()->size(), t.tokens.size());
  ASSERT_FALSE(t.tokens.empty());
  for (size_t i = 0; i < t.tokens.size(); ++i)
    ASSERT_EQ(tokenizer->tokens()->Get(i)->str(), t.tokens[i]) << "token " << i;
  ASSERT_EQ(size(tokenizer->scores()), t.scores.size());
  for (size_t i = 0; i < t.scores.size(); ++i)
    ASSERT_EQ(tokenizer->scores()->Get(i), t.scores[i]) << "score " << i;
  ASSERT_EQ(size(tokenizer->token_types()), t.tokenTypes.size());
  for (size_t i = 0; i < t.tokenTypes.size(); ++i)
    ASSERT_EQ(tokenizer->token_types()->Get(i), t.tokenTypes[i]) << "type " << i;
  ASSERT_EQ(size(tokenizer->merges()), t.merges.size());
  for (size_t i = 0; i < t.merges.size(); ++i)
    ASSERT_EQ(tokenizer->merges()->Get(i)->str(), t.merges[i]) << "merge " << i;
  EXPECT_EQ(tokenizer->bos_id().has_value(), t.bosId.has_value());
  if (t.bosId) {
    EXPECT_EQ(*tokenizer->bos_id(), *t.bosId);
  }
  EXPECT_EQ(tokenizer->eos_id().has_value(), t.eosId.has_value());
  if (t.eosId) {
    EXPECT_EQ(*tokenizer->eos_id(), *t.eosId);
  }

  ASSERT_EQ(artifact->numSections(), written.size());
  for (size_t i = 0; i < written.size(); ++i) {
    const fe::TensorRecord &tensor = *written[i];
    const schema::Section &section = artifact->section(i);
    EXPECT_EQ(section.name()->str(), tensor.name);
    EXPECT_EQ(section.kind(), schema::SectionKind::Weights);
    ASSERT_TRUE(section.tensor());
    EXPECT_EQ(section.tensor()->dtype()->str(), "f32");
    ASSERT_EQ(section.tensor()->shape()->size(), tensor.shape.size());
    for (size_t d = 0; d < tensor.shape.size(); ++d)
      EXPECT_EQ(section.tensor()->shape()->Get(d), tensor.shape[d]);
    SectionBytes bytes = artifact->sectionBytes(i);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(bytes.data) % kArtifactSectionAlignment, 0u);
    ASSERT_EQ(bytes.size, tensor.byteSize);
    EXPECT_EQ(std::memcmp(bytes.data, tensor.data, tensor.byteSize), 0) << tensor.name;
    EXPECT_EQ(artifact->findSection(tensor.name), static_cast<ptrdiff_t>(i));
  }
}

TEST(Artifact, RoundTripsEveryTable) {
  test::SmallArtifact small;
  ScratchDir dir;
  std::string path = dir.file("small.tern");
  ASSERT_FALSE(static_cast<bool>(writeArtifact(path, small.contents)));
  Status status;
  auto artifact = Artifact::open(path.c_str(), &status.status);
  ASSERT_TRUE(artifact) << status.message();
  EXPECT_EQ(artifact->tokenizer()->tokens()->size(), 4u);
  EXPECT_EQ(*artifact->tokenizer()->bos_id(), 1);
  EXPECT_FALSE(artifact->tokenizer()->eos_id().has_value());
  EXPECT_EQ(*artifact->tokenizer()->add_bos(), true);
  EXPECT_EQ(artifact->memoryPlan()->arena_bytes(), 4096u);
  const auto *entry = artifact->root().entry_points()->Get(0);
  EXPECT_EQ(entry->name()->str(), "decode");
  EXPECT_EQ(entry->dispatches()->Get(0)->bindings()->Get(0)->kind(),
            schema::BindingKind::SectionSlice);
  EXPECT_EQ(entry->logits_only_dispatches(), 1u);
  EXPECT_EQ(artifact->root().kernel_libraries()->Get(0)->kernels()->Get(0)->str(), "tern_decode");
  ASSERT_EQ(artifact->numSections(), 2u);
  SectionBytes w = artifact->sectionBytes(0), k = artifact->sectionBytes(1);
  ASSERT_EQ(w.size, small.weights.size());
  ASSERT_EQ(k.size, small.kernels.size());
  EXPECT_EQ(std::memcmp(w.data, small.weights.data(), w.size), 0);
  EXPECT_EQ(std::memcmp(k.data, small.kernels.data(), k.size), 0);
  EXPECT_EQ(artifact->section(1).offset() % kArtifactSectionAlignment, 0u);
  EXPECT_EQ(artifact->findSection("missing"), -1);
}

} // namespace
} // namespace tern
