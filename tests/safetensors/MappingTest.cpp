// describeSafeTensors on hand-built model directories: config.json rules, roles and problems.
#include "TestFiles.h"

#include "frontends/common/ModelFormats.h"

#include "llvm/Support/FileSystem.h"
#include "gtest/gtest.h"

#include <algorithm>

using namespace tern;
using namespace tern::fe;
using namespace tern::test;

namespace {

// The first problem about |subject|, or nullptr.
const Problem *problemAbout(const ModelDescription &m, const std::string &subject) {
  for (const Problem &p : m.problems)
    if (p.subject == subject)
      return &p;
  return nullptr;
}

std::string describeError(const std::string &path) {
  auto m = describeSafeTensors(path);
  return m ? "" : llvm::toString(m.takeError());
}

ModelDescription describeOK(const std::string &path) {
  auto m = describeSafeTensors(path);
  if (!m) {
    ADD_FAILURE() << llvm::toString(m.takeError());
    return {};
  }
  return std::move(*m);
}

std::vector<FakeTensor> without(std::vector<FakeTensor> ts, const std::string &name) {
  std::erase_if(ts, [&](const FakeTensor &t) { return t.name == name; });
  return ts;
}

TEST(HFBitNetMapping, MapsTinyOfflineModel) {
  TempDir dir;
  writeModel(dir.path(), tinyBitNetConfig(), tinyBitNetTensors());
  ModelDescription m = describeOK(dir.path());
  EXPECT_TRUE(m.supported());
  EXPECT_EQ(m.architecture, "bitnet");
  EXPECT_EQ(m.hparams.headDim, 4);
  EXPECT_EQ(m.hparams.ropeTheta, 500000.0);
  ASSERT_EQ(m.layers.size(), 1u);
  const LinearWeight &k = m.layers[0].k;
  ASSERT_TRUE(k.weight && k.scale);
  EXPECT_EQ(k.weight->name, "model.layers.0.self_attn.k_proj.weight");
  EXPECT_EQ(k.scale->name, "model.layers.0.self_attn.k_proj.weight_scale");
  EXPECT_EQ(k.outFeatures, 4);
  EXPECT_EQ(k.inFeatures, 8);
  EXPECT_EQ(m.tokenizer.bosId, 1);
  EXPECT_EQ(m.tokenizer.eosId, 2);
  EXPECT_EQ(m.lmHead.weight, m.tokenEmbedding);
  // The same model through the file and through the directory.
  ModelDescription viaFile = describeOK(dir.file("model.safetensors"));
  EXPECT_EQ(viaFile.tensors.size(), m.tensors.size());
  EXPECT_TRUE(viaFile.supported());
}

TEST(HFConfig, RejectsMissingConfigJson) {
  TempDir dir;
  writeSafeTensors(dir.file("model.safetensors"), tinyBitNetTensors());
  std::string err = describeError(dir.path());
  EXPECT_NE(err.find(dir.file("config.json") + ": no such file"), std::string::npos) << err;
}

TEST(HFConfig, RejectsConfigSyntaxErrorNamingTheLine) {
  TempDir dir;
  writeSafeTensors(dir.file("model.safetensors"), tinyBitNetTensors());
  writeFile(dir.file("config.json"), "{\n  \"model_type\": \"bitnet\",\n  \"hidden_size\": 8,,\n}");
  std::string err = describeError(dir.path());
  EXPECT_NE(err.find(dir.file("config.json") + ": invalid JSON [3:"), std::string::npos) << err;
}

TEST(HFConfig, RejectsDirectoryWithoutWeights) {
  TempDir dir;
  std::string err = describeError(dir.path());
  EXPECT_NE(err.find(dir.path() + ": no model.safetensors"), std::string::npos) << err;
}

TEST(HFConfig, ReportsMissingConfigKey) {
  TempDir dir;
  llvm::json::Object config = tinyBitNetConfig();
  config.erase("intermediate_size");
  writeModel(dir.path(), config, tinyBitNetTensors());
  ModelDescription m = describeOK(dir.path());
  EXPECT_FALSE(m.supported());
  const Problem *p = problemAbout(m, "intermediate_size");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->severity, Problem::Error);
  EXPECT_NE(p->message.find(dir.file("config.json") + ": missing; expected a positive integer"),
            std::string::npos)
      << p->message;
}

TEST(HFConfig, ReportsUnknownModelType) {
  TempDir dir;
  llvm::json::Object config = tinyBitNetConfig();
  config["model_type"] = "mamba";
  writeModel(dir.path(), config, tinyBitNetTensors());
  ModelDescription m = describeOK(dir.path());
  EXPECT_FALSE(m.supported());
  EXPECT_EQ(m.architecture, "mamba");
  const Problem *p = problemAbout(m, "model_type");
  ASSERT_TRUE(p);
  EXPECT_NE(p->message.find("'mamba' is not supported; expected \"bitnet\""), std::string::npos)
      << p->message;
  // Inspect still lists every tensor.
  EXPECT_EQ(m.tensors.size(), tinyBitNetTensors().size());
}

TEST(HFBitNetMapping, ReportsMissingTensor) {
  TempDir dir;
  writeModel(dir.path(), tinyBitNetConfig(),
             without(tinyBitNetTensors(), "model.layers.0.mlp.ffn_sub_norm.weight"));
  ModelDescription m = describeOK(dir.path());
  EXPECT_FALSE(m.supported());
  const Problem *p = problemAbout(m, "model.layers.0.mlp.ffn_sub_norm.weight");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "missing; expected F32, F16 or BF16 [16] (layer 0 FFN sub-norm)");
}

TEST(HFBitNetMapping, ReportsMissingWeightScale) {
  TempDir dir;
  writeModel(dir.path(), tinyBitNetConfig(),
             without(tinyBitNetTensors(), "model.layers.0.self_attn.o_proj.weight_scale"));
  ModelDescription m = describeOK(dir.path());
  const Problem *p = problemAbout(m, "model.layers.0.self_attn.o_proj.weight_scale");
  ASSERT_TRUE(p);
  EXPECT_NE(p->message.find("missing; expected a one-element"), std::string::npos);
}

TEST(HFBitNetMapping, ReportsWrongShape) {
  TempDir dir;
  std::vector<FakeTensor> ts = tinyBitNetTensors();
  for (FakeTensor &t : ts)
    if (t.name == "model.layers.0.self_attn.q_proj.weight")
      t.shape = {8, 8}; // unpacked row count: the packing needs [out/4, in] = [2, 8]
  writeModel(dir.path(), tinyBitNetConfig(), ts);
  ModelDescription m = describeOK(dir.path());
  EXPECT_FALSE(m.supported());
  const Problem *p = problemAbout(m, "model.layers.0.self_attn.q_proj.weight");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "has shape [8, 8]; expected U8 [2, 8] (layer 0 attention query, packed "
                        "[out/4, in])");
}

TEST(HFBitNetMapping, ReportsDTypeNotAllowedForRole) {
  TempDir dir;
  std::vector<FakeTensor> ts = tinyBitNetTensors();
  for (FakeTensor &t : ts)
    if (t.name == "model.norm.weight")
      t.dtype = "I32";
  writeModel(dir.path(), tinyBitNetConfig(), ts);
  ModelDescription m = describeOK(dir.path());
  const Problem *p = problemAbout(m, "model.norm.weight");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "has dtype I32; expected F32, F16 or BF16 (output norm)");
}

TEST(HFBitNetMapping, AcceptsTopLevelAndNestedRopeTheta) {
  TempDir dir;
  llvm::json::Object config = tinyBitNetConfig();
  config.erase("rope_theta");
  config["rope_parameters"] = llvm::json::Object{{"rope_theta", 12345.0}, {"rope_type", "default"}};
  writeModel(dir.path(), config, tinyBitNetTensors());
  ModelDescription m = describeOK(dir.path());
  EXPECT_EQ(m.hparams.ropeTheta, 12345.0);
  EXPECT_TRUE(m.supported());
}

TEST(HFBitNetMapping, RejectsRopeScaling) {
  TempDir dir;
  llvm::json::Object config = tinyBitNetConfig();
  config["rope_scaling"] = llvm::json::Object{{"rope_type", "llama3"}, {"factor", 8.0}};
  writeModel(dir.path(), config, tinyBitNetTensors());
  ModelDescription m = describeOK(dir.path());
  EXPECT_FALSE(m.supported());
  EXPECT_TRUE(problemAbout(m, "rope_scaling.rope_type"));
}

TEST(HFBitNetMapping, WarnsOnOutOfRangeSpecialIds) {
  TempDir dir;
  llvm::json::Object config = tinyBitNetConfig();
  config["bos_token_id"] = 128000;
  writeModel(dir.path(), config, tinyBitNetTensors());
  ModelDescription m = describeOK(dir.path());
  EXPECT_TRUE(m.supported());
  const Problem *p = problemAbout(m, "bos_token_id");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->severity, Problem::Warning);
  EXPECT_NE(p->message.find("128000 is outside the vocabulary of 32 tokens"), std::string::npos);
  EXPECT_FALSE(m.tokenizer.bosId.has_value());
}

TEST(HFBitNetMapping, BitLinearAlwaysPackedAndDivides) {
  // transformers builds BitLinear for linear_class "bitlinear" whatever quantization_mode says.
  TempDir dir;
  llvm::json::Object config = tinyBitNetConfig();
  config["quantization_config"] = llvm::json::Object{
      {"quant_method", "bitnet"}, {"linear_class", "bitlinear"}, {"quantization_mode", "online"}};
  writeModel(dir.path(), config, tinyBitNetTensors());
  ModelDescription m = describeOK(dir.path());
  EXPECT_TRUE(m.supported());
  EXPECT_EQ(m.layers[0].down.encoding, WeightEncoding::TernaryPacked);
  EXPECT_EQ(m.layers[0].down.scaleMode, ScaleMode::Divide);
}

TEST(HFBitNetMapping, HonoursModulesToNotConvert) {
  TempDir dir;
  llvm::json::Object config = tinyBitNetConfig();
  config["quantization_config"] =
      llvm::json::Object{{"quant_method", "bitnet"},
                         {"linear_class", "autobitlinear"},
                         {"quantization_mode", "offline"},
                         {"modules_to_not_convert", llvm::json::Array{"down_proj"}}};
  std::vector<FakeTensor> ts =
      without(without(tinyBitNetTensors(), "model.layers.0.mlp.down_proj.weight"),
              "model.layers.0.mlp.down_proj.weight_scale");
  ts.push_back({"model.layers.0.mlp.down_proj.weight", "BF16", {8, 16}});
  writeModel(dir.path(), config, ts);
  ModelDescription m = describeOK(dir.path());
  EXPECT_TRUE(m.supported());
  EXPECT_EQ(m.layers[0].down.encoding, WeightEncoding::Float);
  EXPECT_EQ(m.layers[0].up.encoding, WeightEncoding::TernaryPacked);
}

TEST(HFBitNetMapping, RejectsUseRmsNorm) {
  TempDir dir;
  llvm::json::Object config = tinyBitNetConfig();
  config["quantization_config"] = llvm::json::Object{
      {"quant_method", "bitnet"}, {"linear_class", "autobitlinear"}, {"use_rms_norm", true}};
  writeModel(dir.path(), config, tinyBitNetTensors());
  ModelDescription m = describeOK(dir.path());
  EXPECT_FALSE(m.supported());
  EXPECT_TRUE(problemAbout(m, "quantization_config.use_rms_norm"));
}

TEST(HFBitNetMapping, WarnsAboutUnusedTensors) {
  TempDir dir;
  std::vector<FakeTensor> ts = tinyBitNetTensors();
  ts.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {2}});
  writeModel(dir.path(), tinyBitNetConfig(), ts);
  ModelDescription m = describeOK(dir.path());
  EXPECT_TRUE(m.supported());
  const Problem *p = problemAbout(m, "model.layers.0.self_attn.rotary_emb.inv_freq");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->severity, Problem::Warning);
}

// A float LLaMA: the same shapes with plain [out, in] weights and no sub-norms.
std::vector<FakeTensor> tinyLlamaTensors(const std::string &dtype) {
  std::vector<FakeTensor> t{{"model.embed_tokens.weight", dtype, {32, 8}},
                            {"model.norm.weight", dtype, {8}}};
  const std::string p = "model.layers.0.";
  t.push_back({p + "input_layernorm.weight", dtype, {8}});
  t.push_back({p + "self_attn.q_proj.weight", dtype, {8, 8}});
  t.push_back({p + "self_attn.k_proj.weight", dtype, {4, 8}});
  t.push_back({p + "self_attn.v_proj.weight", dtype, {4, 8}});
  t.push_back({p + "self_attn.o_proj.weight", dtype, {8, 8}});
  t.push_back({p + "post_attention_layernorm.weight", dtype, {8}});
  t.push_back({p + "mlp.gate_proj.weight", dtype, {16, 8}});
  t.push_back({p + "mlp.up_proj.weight", dtype, {16, 8}});
  t.push_back({p + "mlp.down_proj.weight", dtype, {8, 16}});
  return t;
}

llvm::json::Object tinyLlamaConfig() {
  llvm::json::Object c = tinyBitNetConfig();
  c["model_type"] = "llama";
  c["hidden_act"] = "silu";
  c.erase("quantization_config");
  c.erase("tie_word_embeddings");
  return c;
}

TEST(HFLlamaMapping, MapsUntiedFloatModel) {
  TempDir dir;
  std::vector<FakeTensor> ts = tinyLlamaTensors("BF16");
  ts.push_back({"lm_head.weight", "BF16", {32, 8}});
  writeModel(dir.path(), tinyLlamaConfig(), ts);
  ModelDescription m = describeOK(dir.path());
  EXPECT_TRUE(m.supported());
  EXPECT_EQ(m.hparams.family, "llama");
  EXPECT_EQ(m.hparams.activation, FFNActivation::SiLU);
  EXPECT_EQ(m.hparams.ropeStyle, RopeStyle::Neox);
  EXPECT_FALSE(m.hparams.quantizeActivations);
  EXPECT_FALSE(m.hparams.tiedEmbeddings);
  ASSERT_TRUE(m.lmHead.weight);
  EXPECT_EQ(m.lmHead.weight->name, "lm_head.weight");
  EXPECT_EQ(m.layers[0].q.encoding, WeightEncoding::Float);
  EXPECT_EQ(m.layers[0].attnSubNorm, nullptr);
}

TEST(HFLlamaMapping, TiesEmbeddingsWhenLmHeadIsAbsent) {
  TempDir dir;
  writeModel(dir.path(), tinyLlamaConfig(), tinyLlamaTensors("F16"));
  ModelDescription m = describeOK(dir.path());
  EXPECT_TRUE(m.supported());
  EXPECT_TRUE(m.hparams.tiedEmbeddings);
  EXPECT_EQ(m.lmHead.weight, m.tokenEmbedding);
}

TEST(HFLlamaMapping, ReportsMissingLmHeadWhenUntied) {
  TempDir dir;
  llvm::json::Object config = tinyLlamaConfig();
  config["tie_word_embeddings"] = false;
  writeModel(dir.path(), config, tinyLlamaTensors("F32"));
  ModelDescription m = describeOK(dir.path());
  EXPECT_FALSE(m.supported());
  EXPECT_TRUE(problemAbout(m, "lm_head.weight"));
}

TEST(HFTokenizer, WarnsWhenAbsent) {
  TempDir dir;
  writeModel(dir.path(), tinyBitNetConfig(), tinyBitNetTensors());
  ModelDescription m = describeOK(dir.path());
  EXPECT_EQ(m.tokenizer.model, "");
  const Problem *p = problemAbout(m, "tokenizer.json");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->severity, Problem::Warning);
  EXPECT_EQ(p->message, "no tokenizer.json: token ids only");
}

TEST(HFTokenizer, ReadsLlama3TokenizerJson) {
  std::string data = sharedDataDir();
  if (data.empty())
    GTEST_SKIP() << "no shared test data";
  TempDir dir;
  llvm::json::Object config = tinyBitNetConfig();
  config["vocab_size"] = 128256;
  std::vector<FakeTensor> ts = tinyBitNetTensors();
  ts[0].shape = {128256, 8};
  writeModel(dir.path(), config, ts);
  ASSERT_FALSE(llvm::sys::fs::copy_file(data + "/tokenizers/llama3_tokenizer.json",
                                        dir.file("tokenizer.json")));
  ASSERT_FALSE(llvm::sys::fs::copy_file(data + "/tokenizers/llama3_tokenizer_config.json",
                                        dir.file("tokenizer_config.json")));
  ModelDescription m = describeOK(dir.path());
  const TokenizerInfo &t = m.tokenizer;
  EXPECT_EQ(t.model, "gpt2");
  EXPECT_EQ(t.pre, "llama-bpe");
  EXPECT_EQ(t.vocabSize, 128256);
  EXPECT_EQ(t.numMerges, 280147);
  EXPECT_EQ(t.bosId, 128000);
  EXPECT_EQ(t.eosId, 128001);
  EXPECT_EQ(t.tokens[128000], "<|begin_of_text|>");
  EXPECT_EQ(t.tokenTypes[128000], 3);
  EXPECT_EQ(t.tokenTypes[0], 1);
  EXPECT_NE(t.chatTemplate.find("<|start_header_id|>"), std::string::npos);
  EXPECT_FALSE(problemAbout(m, "tokenizer.json"));
}

} // namespace
