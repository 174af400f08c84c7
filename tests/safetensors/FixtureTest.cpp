// The Hugging Face BitNet fixtures (../shared/data/hf-bitnet): mapping, unpacking, ternarization.
#include "TestFiles.h"

#include "frontends/common/ModelFormats.h"
#include "frontends/common/TensorDecode.h"

#include "gtest/gtest.h"

#include <cstring>

using namespace tern;
using namespace tern::fe;
using namespace tern::test;

namespace {

struct Variant {
  const char *dir;
  WeightEncoding encoding;
  ScaleMode scaleMode;
  const char *detail;
};

const Variant kVariants[] = {
    {"online", WeightEncoding::TernarizeAtImport, ScaleMode::Multiply, "online quantization"},
    {"offline_autobitlinear", WeightEncoding::TernaryPacked, ScaleMode::Multiply,
     "offline packing (uint8 [out/4, in]), weight_scale multiplies (autobitlinear)"},
    {"offline_bitlinear", WeightEncoding::TernaryPacked, ScaleMode::Divide,
     "offline packing (uint8 [out/4, in]), weight_scale divides (bitlinear)"},
};

struct Shape {
  const char *name;
  int64_t hidden, layers, heads, kvHeads, ffn, vocab;
  double ropeTheta;
};

const Shape kModels[] = {{"tiny_a", 64, 2, 4, 2, 128, 256, 10000.0},
                         {"tiny_b", 128, 3, 8, 2, 352, 512, 500000.0}};

std::string fixture(const std::string &model, const std::string &variant) {
  return sharedDataDir() + "/hf-bitnet/" + model + "_" + variant;
}

std::vector<float> readF32(const TensorRecord &t) {
  std::vector<float> v(t.elementCount());
  std::memcpy(v.data(), t.data,
              v.size() * sizeof(float)); // SafeTensors is little-endian, as is the host
  return v;
}

std::string metadata(const ModelDescription &m, const std::string &key) {
  for (const MetadataEntry &e : m.metadata)
    if (e.key == key)
      return e.value;
  return "";
}

TEST(HFBitNetFixtures, DescribesEveryVariant) {
  if (sharedDataDir().empty())
    GTEST_SKIP() << "no shared test data";
  for (const Shape &s : kModels)
    for (const Variant &v : kVariants) {
      SCOPED_TRACE(std::string(s.name) + "_" + v.dir);
      auto described = describeSafeTensors(fixture(s.name, v.dir));
      ASSERT_TRUE(!!described) << llvm::toString(described.takeError());
      const ModelDescription &m = *described;
      for (const Problem &p : m.problems)
        EXPECT_NE(p.severity, Problem::Error) << p.subject << ": " << p.message;
      EXPECT_TRUE(m.supported());
      EXPECT_EQ(m.format, "safetensors");
      EXPECT_EQ(m.architecture, "bitnet");
      EXPECT_NE(m.detail.find(v.detail), std::string::npos) << m.detail;
      const Hyperparameters &h = m.hparams;
      EXPECT_EQ(h.family, "bitnet");
      EXPECT_EQ(h.hiddenSize, s.hidden);
      EXPECT_EQ(h.numLayers, s.layers);
      EXPECT_EQ(h.numHeads, s.heads);
      EXPECT_EQ(h.numKVHeads, s.kvHeads);
      EXPECT_EQ(h.headDim, 16);
      EXPECT_EQ(h.ffnSize, s.ffn);
      EXPECT_EQ(h.vocabSize, s.vocab);
      EXPECT_EQ(h.contextLength, 256);
      EXPECT_DOUBLE_EQ(h.rmsNormEps, 1e-5);
      EXPECT_DOUBLE_EQ(h.ropeTheta, s.ropeTheta);
      EXPECT_EQ(h.ropeStyle, RopeStyle::Neox);
      EXPECT_EQ(h.activation, FFNActivation::ReLU2);
      EXPECT_TRUE(h.tiedEmbeddings);
      EXPECT_TRUE(h.quantizeActivations);
      EXPECT_EQ(m.lmHead.weight, m.tokenEmbedding);
      EXPECT_EQ(m.lmHead.encoding, WeightEncoding::Float);
      EXPECT_EQ(metadata(m, "quantization.scale_mode"),
                v.scaleMode == ScaleMode::Divide ? "divide" : "multiply");
      // The fixtures' special ids (128000/128001) lie outside the tiny vocabularies.
      EXPECT_FALSE(m.tokenizer.bosId.has_value());
      EXPECT_EQ(m.tokenizer.model, "");
      ASSERT_EQ(m.layers.size(), static_cast<size_t>(s.layers));
      for (const LayerWeights &l : m.layers) {
        ASSERT_TRUE(l.attnNorm && l.ffnNorm && l.attnSubNorm && l.ffnSubNorm);
        EXPECT_EQ(l.attnSubNorm->shape, std::vector<int64_t>{s.hidden});
        EXPECT_EQ(l.ffnSubNorm->shape, std::vector<int64_t>{s.ffn});
        for (const LinearWeight *w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) {
          ASSERT_TRUE(w->weight);
          EXPECT_EQ(w->encoding, v.encoding) << w->weight->name;
          EXPECT_EQ(w->scaleMode, v.scaleMode) << w->weight->name;
          EXPECT_EQ(w->scale != nullptr, v.encoding == WeightEncoding::TernaryPacked);
          EXPECT_EQ(w->weight->dtype,
                    v.encoding == WeightEncoding::TernaryPacked ? DType::U8 : DType::F32);
        }
        EXPECT_EQ(l.k.outFeatures, s.kvHeads * 16);
        EXPECT_EQ(l.down.inFeatures, s.ffn);
      }
    }
}

// Distance in representable floats between two positive floats.
int64_t ulps(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::abs(static_cast<int64_t>(ia) - ib);
}

// The packed bytes of *_offline_autobitlinear were made by transformers from the float weights of
// *_online; equal ternary values prove the unpacking order and the quantizer's rounding.
TEST(HFBitNetFixtures, OfflinePackingMatchesOnlineTernarization) {
  if (sharedDataDir().empty())
    GTEST_SKIP() << "no shared test data";
  for (const Shape &s : kModels) {
    SCOPED_TRACE(s.name);
    auto online = describeSafeTensors(fixture(s.name, "online"));
    auto offline = describeSafeTensors(fixture(s.name, "offline_autobitlinear"));
    ASSERT_TRUE(!!online) << llvm::toString(online.takeError());
    ASSERT_TRUE(!!offline) << llvm::toString(offline.takeError());
    int checked = 0;
    for (size_t i = 0; i < online->layers.size(); ++i) {
      const LayerWeights &a = online->layers[i], &b = offline->layers[i];
      const LinearWeight *as[] = {&a.q, &a.k, &a.v, &a.o, &a.gate, &a.up, &a.down};
      const LinearWeight *bs[] = {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down};
      for (int j = 0; j < 7; ++j) {
        const TensorRecord &master = *as[j]->weight;
        SCOPED_TRACE(master.name);
        TernaryTensor expected = ternarizeAbsMean(readF32(master), master.shape);
        float scale = readF32(*bs[j]->scale)[0];
        auto unpacked = unpackHFBitNet(*bs[j]->weight, scale);
        ASSERT_TRUE(!!unpacked) << llvm::toString(unpacked.takeError());
        EXPECT_EQ(unpacked->shape, master.shape);
        EXPECT_EQ(unpacked->values, expected.values);
        ASSERT_EQ(expected.scales.size(), 1u);
        // transformers' float32 GPU mean differs from the correctly rounded one by <= 1 ulp.
        EXPECT_LE(ulps(scale, expected.scales[0]), 1) << scale << " vs " << expected.scales[0];
        EXPECT_EQ(unpacked->scaleGroup, unpacked->values.size());
        ++checked;
      }
    }
    EXPECT_EQ(checked, 7 * s.layers);
  }
}

TensorRecord packedRecord(const std::vector<uint8_t> &bytes, int64_t rows, int64_t cols) {
  TensorRecord r;
  r.name = "w";
  r.file = "test";
  r.dtype = DType::U8;
  r.shape = {rows, cols};
  r.byteSize = bytes.size();
  r.data = bytes.data();
  return r;
}

TEST(HFBitNetPacking, UnpacksRowsAQuarterApart) {
  // One packed row, two columns, so output rows 0..3 come from bit pairs 0..3.
  // Column 0: rows (0,1,2,3) = (-1, 0, 1, 0) -> codes (0, 1, 2, 1) -> 0b01'10'01'00.
  // Column 1: rows (0,1,2,3) = (1, 1, -1, -1) -> codes (2, 2, 0, 0) -> 0b00'00'10'10.
  std::vector<uint8_t> bytes{0b01100100, 0b00001010};
  auto t = unpackHFBitNet(packedRecord(bytes, 1, 2), 0.5f);
  ASSERT_TRUE(!!t) << llvm::toString(t.takeError());
  EXPECT_EQ(t->shape, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(t->values, (std::vector<int8_t>{-1, 1, 0, 1, 1, -1, 0, -1}));
  EXPECT_EQ(t->scales, std::vector<float>{0.5f});
}

TEST(HFBitNetPacking, UnpacksTwoPackedRows) {
  // Packed row r holds output rows r, r+2, r+4, r+6 (out = 8, out/4 = 2).
  std::vector<uint8_t> bytes{0b10010010, 0b00000001};
  auto t = unpackHFBitNet(packedRecord(bytes, 2, 1), 1.0f);
  ASSERT_TRUE(!!t);
  // Row 0 byte: codes (2,0,1,2) -> rows 0,2,4,6 = (1,-1,0,1); row 1 byte: (1,0,0,0) -> rows
  // 1,3,5,7.
  EXPECT_EQ(t->values, (std::vector<int8_t>{1, 0, -1, -1, 0, -1, 1, -1}));
}

TEST(HFBitNetPacking, RejectsCodeThree) {
  std::vector<uint8_t> bytes{0b11000000};
  auto t = unpackHFBitNet(packedRecord(bytes, 1, 1), 1.0f);
  ASSERT_FALSE(!!t);
  std::string err = llvm::toString(t.takeError());
  EXPECT_NE(err.find("test: tensor 'w': 2-bit code 3 at packed row 0, column 0"), std::string::npos)
      << err;
}

TEST(HFBitNetPacking, RejectsShortData) {
  std::vector<uint8_t> bytes{0};
  TensorRecord r = packedRecord(bytes, 2, 2);
  auto t = unpackHFBitNet(r, 1.0f);
  ASSERT_FALSE(!!t);
  EXPECT_NE(llvm::toString(t.takeError()).find("has 1 bytes, but uint8 [2, 2] needs 4"),
            std::string::npos);
}

TEST(HFBitNetPacking, TernarizeRoundsHalfToEven) {
  // mean|W| = 0.5, so W * (1 / mean) = (0.5, 1.5, 2, 0, -0.5, -2.5, 0.5, 0.5):
  // torch.round sends +-0.5 to 0 (half to even) where C's round would give +-1.
  std::vector<float> w{0.25f, 0.75f, 1.0f, 0.0f, -0.25f, -1.25f, 0.25f, 0.25f};
  TernaryTensor t = ternarizeAbsMean(w, {2, 4});
  EXPECT_EQ(t.values, (std::vector<int8_t>{0, 1, 1, 0, 0, -1, 0, 0}));
  EXPECT_EQ(t.scales, std::vector<float>{0.5f});
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(t.scaleGroup, 8u);
}

TEST(HFBitNetPacking, TernarizeClampsTheScaleAtEpsilon) {
  // An all-zero tensor: transformers clamps the mean at 1e-5 before taking its reciprocal.
  TernaryTensor t = ternarizeAbsMean(std::vector<float>(4, 0.0f), {4});
  EXPECT_EQ(t.values, std::vector<int8_t>(4, 0));
  EXPECT_EQ(t.scales, std::vector<float>{1e-5f});
  // Tiny weights below the epsilon are scaled by 1e5, not by their own mean.
  TernaryTensor u = ternarizeAbsMean({4e-6f, -8e-6f, 1e-6f, 3e-6f}, {4});
  EXPECT_EQ(u.values, (std::vector<int8_t>{0, -1, 0, 0}));
}

} // namespace
