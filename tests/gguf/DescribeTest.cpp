// describeGGUF: the real stories260K and vocabulary files, and synthetic BitNet files of every
// architecture, including the Problems reported for broken ones.
#include "GGUFTestUtil.h"

#include "frontends/common/ModelFormats.h"
#include "frontends/common/TensorDecode.h"
#include "frontends/gguf/GGUFWriter.h"

#include "gtest/gtest.h"

#include "llvm/Support/FileSystem.h"

#include <bit>
#include <map>
#include <set>

namespace tern::fe {
namespace {

using namespace tern::test;

// A tiny model of any architecture; tensor bytes are zeros of the right size.
struct TinyModel {
  std::string arch = "bitnet-b1.58";
  int64_t layers = 2, hidden = 256, heads = 4, kvHeads = 2, ffn = 512, vocab = 64;
  DType linear = DType::I2_S;
  bool output = false, scales = false, subNorms = true;
  float ropeFactor = 1.0f; // bitnet only: llama.cpp's converter writes linear scaling, factor 1
  std::set<std::string> skipTensors, skipKeys;
  std::map<std::string, std::vector<int64_t>> shapes; // overrides
  std::map<std::string, DType> types;                 // overrides

  void write(const std::string &path) const {
    GGUFWriter w;
    auto key = [&](const std::string &k, GGUFWriter::Value v) {
      if (!skipKeys.count(k))
        w.add(k, std::move(v));
    };
    key("general.architecture", GGUFWriter::Value::string(arch));
    key(arch + ".block_count", GGUFWriter::Value::u32(layers));
    key(arch + ".embedding_length", GGUFWriter::Value::u32(hidden));
    key(arch + ".feed_forward_length", GGUFWriter::Value::u32(ffn));
    key(arch + ".attention.head_count", GGUFWriter::Value::u32(heads));
    key(arch + ".attention.head_count_kv", GGUFWriter::Value::u32(kvHeads));
    key(arch + ".attention.layer_norm_rms_epsilon", GGUFWriter::Value::f32(1e-5f));
    key(arch + ".context_length", GGUFWriter::Value::u32(4096));
    key(arch + ".rope.freq_base", GGUFWriter::Value::f32(500000.0f));
    key(arch + ".rope.dimension_count", GGUFWriter::Value::u32(hidden / heads));
    if (arch == "bitnet") { // as llama.cpp's convert_hf_to_gguf.py writes for BitNet
      key(arch + ".rope.scaling.type", GGUFWriter::Value::string("linear"));
      key(arch + ".rope.scaling.factor", GGUFWriter::Value::f32(ropeFactor));
    }
    std::vector<std::string> tokens;
    for (int64_t i = 0; i < vocab; ++i)
      tokens.push_back("t" + std::to_string(i));
    key("tokenizer.ggml.model", GGUFWriter::Value::string("gpt2"));
    key("tokenizer.ggml.tokens", GGUFWriter::Value::stringArray(tokens));
    key("tokenizer.ggml.bos_token_id", GGUFWriter::Value::u32(1));

    auto tensor = [&](const std::string &name, std::vector<int64_t> shape, DType type) {
      if (skipTensors.count(name))
        return;
      if (auto s = shapes.find(name); s != shapes.end())
        shape = s->second;
      if (auto t = types.find(name); t != types.end())
        type = t->second;
      uint64_t n = 1;
      for (int64_t d : shape)
        n *= d;
      w.addTensor(name, shape, type, std::vector<uint8_t>(*storageBytes(type, n), 0));
    };
    const bool bitnet = arch != "llama";
    const int64_t hd = hidden / heads;
    tensor("token_embd.weight", {vocab, hidden}, DType::F16);
    tensor("output_norm.weight", {hidden}, DType::F32);
    if (output)
      tensor("output.weight", {vocab, hidden}, DType::F16);
    for (int64_t i = 0; i < layers; ++i) {
      const std::string p = "blk." + std::to_string(i) + ".";
      auto lin = [&](const std::string &n, int64_t out, int64_t in) {
        tensor(p + n + ".weight", {out, in}, linear);
        if (scales)
          tensor(p + n + ".scale", {1}, DType::F32);
      };
      tensor(p + "attn_norm.weight", {hidden}, DType::F32);
      lin("attn_q", heads * hd, hidden);
      lin("attn_k", kvHeads * hd, hidden);
      lin("attn_v", kvHeads * hd, hidden);
      lin("attn_output", hidden, heads * hd);
      tensor(p + "ffn_norm.weight", {hidden}, DType::F32);
      lin("ffn_gate", ffn, hidden);
      lin("ffn_up", ffn, hidden);
      lin("ffn_down", hidden, ffn);
      if (bitnet && subNorms) {
        tensor(p + "attn_sub_norm.weight", {hidden}, DType::F32);
        tensor(p + "ffn_sub_norm.weight", {ffn}, DType::F32);
      }
    }
    llvm::Error err = w.write(path);
    ASSERT_EQ(errorText(std::move(err)), "");
  }
};

class DescribeGGUFTest : public ::testing::Test {
protected:
  ModelDescription describe(const TinyModel &m) {
    const std::string path = dir.file("m.gguf");
    m.write(path);
    auto d = describeGGUF(path);
    EXPECT_TRUE(static_cast<bool>(d)) << errorText(d.takeError());
    return d ? std::move(*d) : ModelDescription{};
  }
  static std::string problemsText(const ModelDescription &d) {
    std::string s;
    for (const Problem &p : d.problems)
      s += std::string(p.severity == Problem::Error ? "error " : "warning ") + p.subject + ": " +
           p.message + "\n";
    return s;
  }
  static const Problem *findProblem(const ModelDescription &d, llvm::StringRef subject) {
    for (const Problem &p : d.problems)
      if (p.subject == subject)
        return &p;
    return nullptr;
  }
  TempDir dir;
};

TEST_F(DescribeGGUFTest, Stories260K) {
  const std::string data = sharedDataDir();
  const std::string path = data + "/gguf/stories260K.gguf";
  if (data.empty() || !llvm::sys::fs::exists(path))
    GTEST_SKIP() << "shared data not present";
  auto d = describeGGUF(path);
  ASSERT_TRUE(static_cast<bool>(d)) << errorText(d.takeError());
  EXPECT_TRUE(d->supported()) << problemsText(*d);
  EXPECT_EQ(d->format, "gguf");
  EXPECT_EQ(d->architecture, "llama");
  EXPECT_EQ(d->detail, "GGUF v3, alignment 32");
  const Hyperparameters &h = d->hparams;
  EXPECT_EQ(h.family, "llama");
  EXPECT_EQ(h.numLayers, 5);
  EXPECT_EQ(h.hiddenSize, 64);
  EXPECT_EQ(h.numHeads, 8);
  EXPECT_EQ(h.numKVHeads, 4);
  EXPECT_EQ(h.headDim, 8);
  EXPECT_EQ(h.ffnSize, 172);
  EXPECT_EQ(h.vocabSize, 512);
  EXPECT_EQ(h.contextLength, 2048);
  EXPECT_FLOAT_EQ(static_cast<float>(h.rmsNormEps), 1e-5f);
  EXPECT_EQ(h.ropeTheta, 10000.0);
  EXPECT_EQ(h.ropeStyle, RopeStyle::Normal);
  EXPECT_EQ(h.activation, FFNActivation::SiLU);
  EXPECT_FALSE(h.tiedEmbeddings); // the file has its own output.weight
  EXPECT_FALSE(h.quantizeActivations);
  EXPECT_EQ(d->tokenizer.model, "llama");
  EXPECT_EQ(d->tokenizer.vocabSize, 512);
  EXPECT_EQ(d->tokenizer.tokens[1], "<s>");
  EXPECT_TRUE(d->tokenizer.hasScores);
  EXPECT_EQ(d->tokenizer.tokenTypes[3], 6); // <0x00>: byte token
  EXPECT_EQ(d->tokenizer.bosId, 1);
  EXPECT_EQ(d->tokenizer.eosId, 2);
  EXPECT_EQ(d->tokenizer.unkId, 0);
  EXPECT_FALSE(d->tokenizer.sepId.has_value()); // stored as uint32 -1
  EXPECT_FALSE(d->tokenizer.padId.has_value());
  ASSERT_EQ(d->tensors.size(), 48u);
  ASSERT_EQ(d->layers.size(), 5u);
  EXPECT_EQ(d->layers[4].k.weight->name, "blk.4.attn_k.weight");
  EXPECT_EQ(d->layers[4].k.weight->shape, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(d->layers[0].down.weight->shape, (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(d->lmHead.weight->name, "output.weight");
  // Values as the gguf Python package reads them (gguf 0.19, GGUFReader).
  const TensorRecord *embd = d->findTensor("token_embd.weight");
  ASSERT_TRUE(embd);
  EXPECT_EQ(embd->fileOffset, 14176u);
  EXPECT_EQ(embd->shape, (std::vector<int64_t>{512, 64}));
  auto v = decodeToFloat(*embd);
  ASSERT_TRUE(static_cast<bool>(v)) << errorText(v.takeError());
  EXPECT_EQ(std::bit_cast<uint32_t>((*v)[0]), 0xbe96e950u);
  EXPECT_EQ(std::bit_cast<uint32_t>((*v)[1]), 0x3f0fd864u);
  EXPECT_EQ(std::bit_cast<uint32_t>((*v)[3]), 0x3eae5faau);
  EXPECT_EQ(std::bit_cast<uint32_t>(v->back()), 0xbed91acdu);
  // Metadata for printing: header fields first, then the keys in file order.
  ASSERT_GE(d->metadata.size(), 22u);
  EXPECT_EQ(d->metadata[0].key, "GGUF.version");
  EXPECT_EQ(d->metadata[3].key, "tokenizer.ggml.tokens");
  EXPECT_EQ(d->metadata[3].type, "array[string]");
  EXPECT_EQ(d->metadata[3].value.rfind("512 items: [\"<unk>\", \"<s>\"", 0), 0u)
      << d->metadata[3].value;
}

TEST_F(DescribeGGUFTest, VocabOnlyFiles) {
  const std::string data = sharedDataDir();
  if (data.empty())
    GTEST_SKIP() << "shared data not present";
  struct Case {
    const char *file, *model;
    int64_t vocab, merges;
  } cases[] = {{"ggml-vocab-llama-spm.gguf", "llama", 32000, 0},
               {"ggml-vocab-gpt-2.gguf", "gpt2", 50257, 50000},
               {"ggml-vocab-phi-3.gguf", "llama", 32064, 0}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.file);
    auto d = describeGGUF(data + "/gguf/" + c.file);
    ASSERT_TRUE(static_cast<bool>(d)) << errorText(d.takeError());
    EXPECT_EQ(d->tokenizer.model, c.model);
    EXPECT_EQ(d->tokenizer.vocabSize, c.vocab);
    EXPECT_EQ(d->tokenizer.numMerges, c.merges);
    EXPECT_TRUE(d->tensors.empty());
    EXPECT_FALSE(d->supported());
    const Problem *p = findProblem(*d, "tensors");
    ASSERT_TRUE(p) << problemsText(*d);
    EXPECT_NE(p->message.find("no weights"), std::string::npos);
  }
  auto spm = describeGGUF(data + "/gguf/ggml-vocab-llama-spm.gguf");
  ASSERT_TRUE(static_cast<bool>(spm));
  EXPECT_EQ(spm->tokenizer.addBos, true);
  EXPECT_EQ(spm->tokenizer.addEos, false);
  EXPECT_EQ(spm->hparams.numLayers, 32); // hyperparameters are still read for known archs
  auto phi = describeGGUF(data + "/gguf/ggml-vocab-phi-3.gguf");
  ASSERT_TRUE(static_cast<bool>(phi));
  EXPECT_NE(phi->tokenizer.chatTemplate.find("bos_token"), std::string::npos);
  EXPECT_EQ(phi->tokenizer.padId, 32000);
  EXPECT_TRUE(findProblem(*phi, "general.architecture")); // phi3 is not supported
}

TEST_F(DescribeGGUFTest, BitnetCppI2SModel) {
  TinyModel m; // bitnet-b1.58, I2_S, tied embedding
  ModelDescription d = describe(m);
  EXPECT_TRUE(d.supported()) << problemsText(d);
  EXPECT_EQ(d.hparams.family, "bitnet");
  EXPECT_EQ(d.hparams.activation, FFNActivation::ReLU2);
  EXPECT_EQ(d.hparams.ropeStyle, RopeStyle::Neox);
  EXPECT_TRUE(d.hparams.quantizeActivations);
  EXPECT_TRUE(d.hparams.tiedEmbeddings);
  EXPECT_EQ(d.hparams.ropeTheta, 500000.0);
  EXPECT_EQ(d.hparams.vocabSize, 64);
  EXPECT_EQ(d.lmHead.weight, d.tokenEmbedding);
  ASSERT_EQ(d.layers.size(), 2u);
  const LayerWeights &l = d.layers[1];
  EXPECT_EQ(l.q.encoding, WeightEncoding::TernaryPacked);
  EXPECT_EQ(l.q.weight->dtype, DType::I2_S);
  EXPECT_EQ(l.k.outFeatures, 128);
  EXPECT_EQ(l.down.inFeatures, 512);
  EXPECT_EQ(l.ffnSubNorm->shape, (std::vector<int64_t>{512}));
  EXPECT_TRUE(l.attnSubNorm);
  EXPECT_EQ(d.tokenizer.bosId, 1);
}

TEST_F(DescribeGGUFTest, Bitnet25WithOutputProjection) {
  TinyModel m;
  m.arch = "bitnet-25";
  m.linear = DType::TQ1_0;
  m.output = true;
  ModelDescription d = describe(m);
  EXPECT_TRUE(d.supported()) << problemsText(d);
  EXPECT_EQ(d.hparams.activation, FFNActivation::ReLU2);
  EXPECT_FALSE(d.hparams.tiedEmbeddings);
  EXPECT_EQ(d.lmHead.weight->name, "output.weight");
  EXPECT_EQ(d.layers[0].up.weight->dtype, DType::TQ1_0);
}

TEST_F(DescribeGGUFTest, MainlineBitnetWithScales) {
  TinyModel m;
  m.arch = "bitnet";
  m.linear = DType::TQ2_0;
  m.scales = true;
  ModelDescription d = describe(m);
  EXPECT_TRUE(d.supported()) << problemsText(d);
  EXPECT_EQ(d.hparams.activation, FFNActivation::SiLU); // llm_build_bitnet: LLM_FFN_SILU
  EXPECT_EQ(d.hparams.ropeStyle, RopeStyle::Neox);
  EXPECT_TRUE(d.hparams.tiedEmbeddings);
  const LinearWeight &q = d.layers[0].q;
  EXPECT_EQ(q.encoding, WeightEncoding::TernaryPacked);
  ASSERT_TRUE(q.scale);
  EXPECT_EQ(q.scale->name, "blk.0.attn_q.scale");
  EXPECT_EQ(q.scaleMode, ScaleMode::Multiply);
}

TEST_F(DescribeGGUFTest, FloatWeightsInBitnetFileRunAsFloat) {
  TinyModel m;
  m.linear = DType::F16;
  ModelDescription d = describe(m);
  EXPECT_TRUE(d.supported()) << problemsText(d);
  EXPECT_EQ(d.layers[0].gate.encoding, WeightEncoding::Float);
  const Problem *p = findProblem(d, "blk.0.attn_q.weight");
  ASSERT_TRUE(p) << problemsText(d);
  EXPECT_EQ(p->severity, Problem::Warning);
  EXPECT_NE(p->message.find("14 linear weights"), std::string::npos) << p->message;
}

TEST_F(DescribeGGUFTest, ReportsUnknownArchitecture) {
  TinyModel m;
  m.arch = "qwen2";
  m.linear = DType::TQ2_0;
  ModelDescription d = describe(m);
  EXPECT_FALSE(d.supported());
  const Problem *p = findProblem(d, "general.architecture");
  ASSERT_TRUE(p) << problemsText(d);
  EXPECT_EQ(p->message, "'qwen2' is not supported; expected llama, bitnet, bitnet-b1.58 "
                        "(bitnet.cpp) or bitnet-25 (bitnet.cpp)");
  EXPECT_EQ(d.tensors.size(), 2u + 2 * 11); // still listed for `ternc inspect`
}

TEST_F(DescribeGGUFTest, ReportsMissingTensor) {
  TinyModel m;
  m.arch = "llama";
  m.linear = DType::F32;
  m.layers = 4, m.hidden = 512, m.heads = 8, m.kvHeads = 8, m.ffn = 1536;
  m.skipTensors = {"blk.3.ffn_up.weight"};
  ModelDescription d = describe(m);
  EXPECT_FALSE(d.supported());
  const Problem *p = findProblem(d, "blk.3.ffn_up.weight");
  ASSERT_TRUE(p) << problemsText(d);
  EXPECT_EQ(p->severity, Problem::Error);
  EXPECT_EQ(p->message, "missing: expected a [1536, 512] tensor for layer 3 FFN up projection");
  EXPECT_EQ(d.problems.size(), 1u) << problemsText(d);
}

TEST_F(DescribeGGUFTest, ReportsWrongShape) {
  TinyModel m;
  m.shapes["blk.0.attn_q.weight"] = {128, 256};
  ModelDescription d = describe(m);
  const Problem *p = findProblem(d, "blk.0.attn_q.weight");
  ASSERT_TRUE(p) << problemsText(d);
  EXPECT_EQ(p->message,
            "has shape [128, 256]; expected [256, 256] for layer 0 attention query projection");
}

TEST_F(DescribeGGUFTest, ReportsUnsupportedTypeForRole) {
  TinyModel m;
  m.types["blk.1.ffn_down.weight"] = DType::I8;
  m.types["blk.0.ffn_norm.weight"] = DType::TQ2_0;
  ModelDescription d = describe(m);
  const Problem *p = findProblem(d, "blk.1.ffn_down.weight");
  ASSERT_TRUE(p) << problemsText(d);
  EXPECT_NE(p->message.find("has type i8; expected tq1_0, tq2_0, i2_s"), std::string::npos)
      << p->message;
  EXPECT_TRUE(findProblem(d, "blk.0.ffn_norm.weight")) << problemsText(d);
}

TEST_F(DescribeGGUFTest, ReportsTernaryWeightsInLlama) {
  TinyModel m;
  m.arch = "llama";
  m.linear = DType::TQ2_0;
  ModelDescription d = describe(m);
  const Problem *p = findProblem(d, "blk.0.attn_q.weight");
  ASSERT_TRUE(p) << problemsText(d);
  EXPECT_NE(p->message.find("ternary types belong to the bitnet architectures"),
            std::string::npos);
}

TEST_F(DescribeGGUFTest, ReportsMissingHyperparameter) {
  TinyModel m;
  m.skipKeys = {"bitnet-b1.58.embedding_length"};
  ModelDescription d = describe(m);
  EXPECT_FALSE(d.supported());
  const Problem *p = findProblem(d, "bitnet-b1.58.embedding_length");
  ASSERT_TRUE(p) << problemsText(d);
  EXPECT_EQ(p->message, "missing: expected a positive integer (the hidden size)");
}

TEST_F(DescribeGGUFTest, MainlineBitnetFloatWeightsKeepScales) {
  TinyModel m;
  m.arch = "bitnet"; // with rope.scaling.type linear, factor 1: plain RoPE, accepted
  m.linear = DType::F16;
  m.scales = true;
  ModelDescription d = describe(m);
  EXPECT_TRUE(d.supported()) << problemsText(d);
  // llama.cpp's converter stores sign values plus a scale; the graph multiplies after the matmul.
  EXPECT_EQ(d.layers[0].up.encoding, WeightEncoding::Float);
  ASSERT_TRUE(d.layers[0].up.scale);
  EXPECT_EQ(d.layers[0].up.scale->name, "blk.0.ffn_up.scale");
}

TEST_F(DescribeGGUFTest, ReportsRopeScaling) {
  TinyModel m;
  m.arch = "bitnet";
  m.linear = DType::TQ2_0;
  m.ropeFactor = 4.0f;
  ModelDescription d = describe(m);
  const Problem *p = findProblem(d, "bitnet.rope.scaling.type");
  ASSERT_TRUE(p) << problemsText(d);
  EXPECT_EQ(p->severity, Problem::Error);
  EXPECT_NE(p->message.find("not supported"), std::string::npos);
}

TEST_F(DescribeGGUFTest, ReportsMissingSubNorms) {
  TinyModel m;
  m.subNorms = false;
  ModelDescription d = describe(m);
  const Problem *p = findProblem(d, "blk.1.ffn_sub_norm.weight");
  ASSERT_TRUE(p) << problemsText(d);
  EXPECT_EQ(p->message, "missing: expected a [512] tensor for layer 1 FFN sub-norm");
}

} // namespace
} // namespace tern::fe
