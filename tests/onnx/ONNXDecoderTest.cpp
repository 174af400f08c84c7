// The decoder mapping: what it recognizes in real and exported graphs, and how it refuses graphs
// that compute something else (each refusal names the node, op, domain and opset).
#include "frontends/onnx/ONNXDecoder.h"

#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <fstream>
#include <functional>

using namespace tern;

namespace {

const std::string kDataDir = TERN_SHARED_DATA_DIR;
const std::string kSourceDir = TERN_SOURCE_DIR;
const std::string kQwen = kDataDir + "/onnx/hf-internal-testing__tiny-qwen35-cuda__decoder.onnx";
const std::string kGpt2 = kDataDir + "/onnx/hf-internal-testing__tiny-random-gpt2-fp32__past.onnx";
const std::string kLlama = kSourceDir + "/tests/onnx/models/tiny-llama/model.onnx";
const std::string kBitNet = kSourceDir + "/tests/onnx/models/tiny-bitnet/model.onnx";

fe::ModelDescription describe(const std::string &path) {
  auto model = tern::onnx::describeONNXDecoder(path);
  EXPECT_TRUE(bool(model)) << llvm::toString(model.takeError());
  return model ? std::move(*model) : fe::ModelDescription{};
}

std::string errors(const fe::ModelDescription &m) {
  std::string text;
  for (const fe::Problem &p : m.problems)
    if (p.severity == fe::Problem::Error)
      text += p.subject + ": " + p.message + "\n";
  return text;
}

// Loads |path|, applies |edit| to its ModelProto and describes the result from a scratch file.
fe::ModelDescription describeEdited(const std::string &path,
                                    const std::function<void(::onnx::ModelProto &)> &edit) {
  ::onnx::ModelProto proto;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(proto.ParseFromIstream(&in));
  edit(proto);
  llvm::SmallString<128> scratch;
  EXPECT_FALSE(llvm::sys::fs::createTemporaryFile("edited", "onnx", scratch));
  {
    std::ofstream out(scratch.c_str(), std::ios::binary);
    proto.SerializeToOstream(&out);
  }
  fe::ModelDescription m = describe(scratch.str().str());
  llvm::sys::fs::remove(scratch);
  return m;
}

::onnx::NodeProto *findNode(::onnx::ModelProto &m, const std::string &op, int nth = 0) {
  for (auto &n : *m.mutable_graph()->mutable_node())
    if (n.op_type() == op && nth-- == 0)
      return &n;
  ADD_FAILURE() << "no " << op << " node";
  return nullptr;
}

void setIntAttr(::onnx::NodeProto &n, const std::string &name, int64_t value) {
  for (auto &a : *n.mutable_attribute())
    if (a.name() == name) {
      a.set_i(value);
      return;
    }
  auto *a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(value);
}

bool present(const std::string &path) { return llvm::sys::fs::exists(path); }

TEST(ONNXDecoder, QwenStyleGraphWithGroupQueryAttention) {
  if (!present(kQwen))
    GTEST_SKIP() << kQwen << " not present";
  fe::ModelDescription m = describe(kQwen);
  ASSERT_TRUE(m.supported()) << errors(m);
  const fe::Hyperparameters &h = m.hparams;
  EXPECT_EQ(h.numLayers, 2);
  EXPECT_EQ(h.hiddenSize, 64);
  EXPECT_EQ(h.numHeads, 4);
  EXPECT_EQ(h.numKVHeads, 2);
  EXPECT_EQ(h.headDim, 16);
  EXPECT_EQ(h.vocabSize, 1000);
  EXPECT_EQ(h.norm, fe::NormKind::Layer);
  EXPECT_EQ(h.positions, fe::PositionEncoding::None); // GQA without do_rotary
  EXPECT_FALSE(h.gatedFFN);
  EXPECT_EQ(h.activation, fe::FFNActivation::ReLU);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[1].attnNorm->name, "l1.ln1.w"); // from the SkipLayerNormalization
  EXPECT_EQ(m.layers[1].attnNormBias->name, "l1.ln1.b");
  EXPECT_EQ(m.layers[0].k.weight->shape, (std::vector<int64_t>{32, 64})); // [out, in]
  EXPECT_EQ(m.outputNormBias->name, "norm.b");
  EXPECT_FALSE(h.tiedEmbeddings);
}

TEST(ONNXDecoder, Gpt2GraphWithContribAttentionAndLearnedPositions) {
  if (!present(kGpt2))
    GTEST_SKIP() << kGpt2 << " not present";
  fe::ModelDescription m = describe(kGpt2);
  ASSERT_TRUE(m.supported()) << errors(m);
  EXPECT_EQ(m.hparams.numLayers, 5);
  EXPECT_EQ(m.hparams.positions, fe::PositionEncoding::Learned);
  EXPECT_EQ(m.hparams.contextLength, 512); // rows of the position table
  EXPECT_EQ(m.hparams.activation, fe::FFNActivation::GELU);
  EXPECT_TRUE(m.hparams.tiedEmbeddings); // the lm_head initializer repeats wte's values
  // The fused c_attn weight and bias split into q, k, v; FastGelu's bias moved onto c_fc;
  // SkipLayerNormalization's bias onto the projection before it.
  const fe::LayerWeights &l = m.layers[0];
  EXPECT_EQ(l.k.weight->name, "transformer.h.0.attn.c_attn.weight[32:64]");
  EXPECT_EQ(l.k.bias->name, "transformer.h.0.attn.c_attn.bias[32:64]");
  ASSERT_NE(l.up.bias, nullptr);
  EXPECT_EQ(l.up.bias->name, "transformer.h.0.mlp.c_fc.bias");
  EXPECT_NE(l.o.bias, nullptr);
  EXPECT_NE(l.down.bias, nullptr);
}

TEST(ONNXDecoder, StandardOpLlamaGraph) {
  fe::ModelDescription m = describe(kLlama);
  ASSERT_TRUE(m.supported()) << errors(m);
  EXPECT_EQ(m.hparams.family, "llama");
  EXPECT_EQ(m.hparams.norm, fe::NormKind::RMS);
  EXPECT_EQ(m.hparams.positions, fe::PositionEncoding::Rope);
  EXPECT_EQ(m.hparams.ropeStyle, fe::RopeStyle::Neox);
  EXPECT_NEAR(m.hparams.ropeTheta, 10000.0, 1e-2); // fitted from the in-graph cos table
  EXPECT_EQ(m.hparams.activation, fe::FFNActivation::SiLU);
  EXPECT_TRUE(m.hparams.gatedFFN);
  EXPECT_EQ(m.hparams.numKVHeads, 2);
  EXPECT_EQ(m.hparams.ffnSize, 160);
  EXPECT_FALSE(m.hparams.quantizeActivations);
}

TEST(ONNXDecoder, StandardOpBitNetGraphBecomesTernary) {
  fe::ModelDescription m = describe(kBitNet);
  ASSERT_TRUE(m.supported()) << errors(m);
  EXPECT_EQ(m.hparams.family, "bitnet");
  EXPECT_TRUE(m.hparams.quantizeActivations);
  EXPECT_EQ(m.hparams.activation, fe::FFNActivation::ReLU2);
  EXPECT_NEAR(m.hparams.ropeTheta, 500000.0, 5.0);
  EXPECT_TRUE(m.hparams.tiedEmbeddings); // lm_head = Transpose(embedding)
  for (const fe::LayerWeights &l : m.layers) {
    EXPECT_NE(l.attnSubNorm, nullptr);
    EXPECT_NE(l.ffnSubNorm, nullptr);
    for (const fe::LinearWeight *w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) {
      EXPECT_EQ(w->encoding, fe::WeightEncoding::TernaryPacked);
      EXPECT_EQ(w->weight->dtype, fe::DType::I2_S);
    }
  }
}

TEST(ONNXDecoder, MatMulNBitsWeightsAreDequantized) {
  // ONNX Runtime's quantizer output: 4-bit blocks of 32 with packed zero points.
  fe::ModelDescription m = describe(kSourceDir + "/tests/onnx/models/tiny-llama-q4/model.onnx");
  ASSERT_TRUE(m.supported()) << errors(m);
  const fe::TensorRecord *q = m.layers[0].q.weight;
  EXPECT_EQ(q->dtype, fe::DType::F32);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(m.layers[1].down.weight->shape, (std::vector<int64_t>{64, 160}));
  EXPECT_EQ(m.lmHead.weight->shape, (std::vector<int64_t>{384, 64}));
}

TEST(ONNXDecoder, RefusesMatMulNBitsWithUnsupportedBits) {
  fe::ModelDescription m = describeEdited(
      kSourceDir + "/tests/onnx/models/tiny-llama-q4/model.onnx", [](::onnx::ModelProto &p) {
        ::onnx::NodeProto *n = findNode(p, "MatMulNBits", 3);
        n->set_name("three_bits");
        setIntAttr(*n, "bits", 3);
      });
  EXPECT_FALSE(m.supported());
  EXPECT_NE(errors(m).find("node 'three_bits' (MatMulNBits, domain com.microsoft, opset 1)"),
            std::string::npos)
      << errors(m);
  EXPECT_NE(errors(m).find("bits = 3; supported: 2, 4, 8"), std::string::npos) << errors(m);
}

TEST(ONNXDecoder, RefusesAttentionWithAnotherScale) {
  // The 1/sqrt(head_dim) scale is a Mul by a constant; any other value computes different
  // attention, which the sample-input comparison catches.
  fe::ModelDescription m = describeEdited(kLlama, [](::onnx::ModelProto &p) {
    for (auto &init : *p.mutable_graph()->mutable_initializer())
      if (init.dims_size() == 0 && init.data_type() == ::onnx::TensorProto::FLOAT &&
          init.raw_data().size() == 4) {
        float v;
        std::memcpy(&v, init.raw_data().data(), 4);
        if (v == 0.25f) {
          v = 0.3f;
          init.set_raw_data(&v, 4);
        }
      }
  });
  EXPECT_FALSE(m.supported());
  EXPECT_NE(errors(m).find("does not compute causal grouped-query attention"), std::string::npos)
      << errors(m);
  EXPECT_NE(errors(m).find("(MatMul, domain ai.onnx, opset 17)"), std::string::npos) << errors(m);
}

TEST(ONNXDecoder, RefusesSlidingWindowGroupQueryAttention) {
  if (!present(kQwen))
    GTEST_SKIP() << kQwen << " not present";
  fe::ModelDescription m = describeEdited(kQwen, [](::onnx::ModelProto &p) {
    setIntAttr(*findNode(p, "GroupQueryAttention"), "local_window_size", 16);
  });
  EXPECT_FALSE(m.supported());
  EXPECT_NE(errors(m).find("(GroupQueryAttention, domain com.microsoft, opset 1)"),
            std::string::npos)
      << errors(m);
  EXPECT_NE(errors(m).find("local_window_size must be -1"), std::string::npos) << errors(m);
}

TEST(ONNXDecoder, NamesAnUnrecognizedNodeInTheStream) {
  // An Elu where the FFN's Relu was: nothing maps it, and the error names it.
  if (!present(kQwen))
    GTEST_SKIP() << kQwen << " not present";
  fe::ModelDescription m = describeEdited(kQwen, [](::onnx::ModelProto &p) {
    ::onnx::NodeProto *relu = findNode(p, "Relu", 1);
    relu->set_op_type("Elu");
    relu->set_name("layer1_act");
  });
  EXPECT_FALSE(m.supported());
  EXPECT_NE(errors(m).find("expected an activation"), std::string::npos) << errors(m);
  EXPECT_NE(errors(m).find("node 'layer1_act' (Elu, domain ai.onnx, opset 21)"), std::string::npos)
      << errors(m);
}

TEST(ONNXDecoder, RefusesNonTernaryWeightBehindActivationQuantization) {
  fe::ModelDescription m = describeEdited(kBitNet, [](::onnx::ModelProto &p) {
    // Perturb one value of the first [64, 64] float initializer behind a quantizer (q_proj).
    for (auto &init : *p.mutable_graph()->mutable_initializer())
      if (init.dims_size() == 2 && init.dims(0) == 64 && init.dims(1) == 64 &&
          init.raw_data().size() == 64 * 64 * 4) {
        std::string raw = init.raw_data();
        float v;
        std::memcpy(&v, raw.data() + 4, 4);
        v = v * 0.5f + 0.01f;
        std::memcpy(raw.data() + 4, &v, 4);
        init.set_raw_data(raw);
        break;
      }
  });
  EXPECT_FALSE(m.supported());
  EXPECT_NE(errors(m).find("weight is not ternary"), std::string::npos) << errors(m);
}

TEST(ONNXDecoder, ReadErrorsNameTheFile) {
  llvm::SmallString<128> scratch;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("cut", "onnx", scratch));
  {
    std::ifstream in(kLlama, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(scratch.c_str(), std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  }
  auto m = tern::onnx::describeONNXDecoder(scratch);
  ASSERT_FALSE(bool(m));
  EXPECT_NE(llvm::toString(m.takeError()).find(scratch.str().str()), std::string::npos);
  llvm::sys::fs::remove(scratch);
}

} // namespace
