// Every kernel family run through runReferenceKernel against direct tern::ref calls.
#include "packing/TernaryPacking.h"
#include "reference/ReferenceDispatch.h"
#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace tern {
namespace {

struct Status {
  tern_status_t status = nullptr;
  ~Status() { tern_status_free(status); }
  tern_status_code_t code() const { return tern_status_code(status); }
  std::string message() const { return tern_status_message(status); }
};

KernelSpec makeSpec(const char *family, std::map<std::string, int64_t> ints,
                    std::map<std::string, double> floats = {},
                    std::map<std::string, std::string> strings = {}) {
  KernelSpec spec;
  spec.symbol = std::string("test_") + family;
  spec.family = family;
  spec.ints = std::move(ints);
  spec.floats = std::move(floats);
  spec.strings = std::move(strings);
  return spec;
}

std::vector<float> randomFloats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

// Runs |spec| over all its work items in two uneven slices, as two threads would.
void runSliced(const KernelSpec &spec, std::vector<void *> bindings, int64_t rows, int64_t pos) {
  ReferenceKernelShape shape;
  Status describe{describeReferenceKernel(spec, rows, &shape)};
  ASSERT_EQ(describe.status, nullptr) << describe.message();
  ASSERT_EQ(shape.bindingBytes.size(), bindings.size());
  const int64_t mid = shape.gridItems / 3;
  Status first{runReferenceKernel(spec, bindings.data(), rows, pos, 0, mid)};
  ASSERT_EQ(first.status, nullptr) << first.message();
  Status second{runReferenceKernel(spec, bindings.data(), rows, pos, mid, shape.gridItems)};
  ASSERT_EQ(second.status, nullptr) << second.message();
}

uint16_t toHalf(float f) { // exact for the small dyadic values these tests use
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint32_t sign = (bits >> 16) & 0x8000;
  const int32_t exponent = int32_t((bits >> 23) & 0xff) - 127 + 15;
  if ((bits & 0x7fffffff) == 0)
    return uint16_t(sign);
  return uint16_t(sign | (uint32_t(exponent) << 10) | ((bits >> 13) & 0x3ff));
}

// A float table (values multiples of 0.25 in [-2, 2], so exact in every form) in the storage
// types the embedding families read: f16, bf16 and q8_0 with scale 0.25.
struct EncodedTable {
  std::vector<uint16_t> f16, bf16;
  std::vector<uint8_t> q8;
  const std::vector<float> *f32;
  explicit EncodedTable(const std::vector<float> &table) : f32(&table) {
    for (float v : table) {
      f16.push_back(toHalf(v));
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      bf16.push_back(uint16_t(bits >> 16));
    }
    for (size_t b = 0; b < table.size() / 32; ++b) {
      const uint16_t scale = toHalf(0.25f);
      q8.push_back(uint8_t(scale & 0xff));
      q8.push_back(uint8_t(scale >> 8));
      for (int i = 0; i < 32; ++i)
        q8.push_back(uint8_t(int8_t(table[b * 32 + i] / 0.25f)));
    }
  }
  // (dtype name, bytes) for each form, the f32 original first.
  std::vector<std::pair<const char *, const void *>> byDtype() const {
    return {{"f32", f32->data()}, {"f16", f16.data()}, {"bf16", bf16.data()}, {"q8_0", q8.data()}};
  }
};

TEST(ReferenceDispatch, EmbeddingDecodesEveryDtype) {
  const int64_t vocab = 5, width = 32, rows = 3;
  std::vector<float> table(vocab * width);
  for (size_t i = 0; i < table.size(); ++i)
    table[i] = float(int(i % 17) - 8) * 0.25f; // exact in f16, bf16 and q8_0 (scale 0.25)
  std::vector<int32_t> tokens = {4, 0, 2};
  std::vector<float> expected(rows * width);
  ref::embedding(table.data(), tokens.data(), rows, width, expected.data());

  const EncodedTable encoded(table);
  for (auto [dtype, data] : encoded.byDtype()) {
    std::vector<float> out(rows * width, -1.0f);
    runSliced(makeSpec("embedding", {{"vocab", vocab}, {"width", width}}, {}, {{"dtype", dtype}}),
              {const_cast<void *>(data), tokens.data(), out.data()}, rows, 0);
    EXPECT_EQ(out, expected) << dtype;
  }
}

TEST(ReferenceDispatch, EmbeddingRejectsTokenOutsideVocabulary) {
  std::vector<float> table(4 * 2), out(2);
  int32_t token = 4;
  std::vector<void *> b = {table.data(), &token, out.data()};
  Status s{runReferenceKernel(makeSpec("embedding", {{"vocab", 4}, {"width", 2}}, {},
                                       {{"dtype", "f32"}}),
                              b.data(), 1, 0, 0, 1)};
  EXPECT_EQ(s.code(), TERN_STATUS_OUT_OF_RANGE);
  EXPECT_NE(s.message().find("token id 4"), std::string::npos) << s.message();
}

TEST(ReferenceDispatch, PositionEmbeddingDecodesRowsFromThePosition) {
  const int64_t positions = 6, width = 32, rows = 3, pos = 2;
  std::vector<float> table(positions * width);
  for (size_t i = 0; i < table.size(); ++i)
    table[i] = float(int(i % 23) - 11) * 0.25f; // exact in f16, bf16 and q8_0 (scale 0.25)
  std::vector<float> expected(rows * width);
  ref::positionEmbedding(table.data(), pos, rows, width, expected.data());
  const EncodedTable encoded(table);
  for (auto [dtype, data] : encoded.byDtype()) {
    std::vector<float> out(rows * width, -1.0f);
    runSliced(makeSpec("position_embedding", {{"positions", positions}, {"width", width}}, {},
                       {{"dtype", dtype}}),
              {const_cast<void *>(data), out.data()}, rows, pos);
    EXPECT_EQ(out, expected) << dtype;
  }

  // Rows past the table's end.
  std::vector<float> out(rows * width);
  std::vector<void *> b = {table.data(), out.data()};
  Status past{runReferenceKernel(
      makeSpec("position_embedding", {{"positions", positions}, {"width", width}}, {},
               {{"dtype", "f32"}}),
      b.data(), rows, positions - rows + 1, 0, 1)};
  EXPECT_EQ(past.code(), TERN_STATUS_OUT_OF_RANGE) << past.message();
  EXPECT_NE(past.message().find("table's 6 rows"), std::string::npos) << past.message();
}

TEST(ReferenceDispatch, NormsAndQuantizeMatchTwins) {
  const int64_t rows = 3, width = 24;
  std::vector<float> x = randomFloats(rows * width, 1), w = randomFloats(width, 2);
  std::vector<float> expectedY(rows * width), y(rows * width);
  ref::rmsNorm(x.data(), w.data(), rows, width, 1e-6f, expectedY.data());
  runSliced(makeSpec("rms_norm", {{"width", width}}, {{"eps", 1e-6}}), {x.data(), w.data(), y.data()},
            rows, 0);
  EXPECT_EQ(y, expectedY);

  std::vector<int8_t> expectedQ(rows * width), q(rows * width);
  std::vector<float> expectedS(rows), s(rows);
  ref::quantizeActivations(expectedY.data(), rows, width, expectedQ.data(), expectedS.data());
  runSliced(makeSpec("rms_norm_quantize", {{"width", width}}, {{"eps", 1e-6}}),
            {x.data(), w.data(), q.data(), s.data()}, rows, 0);
  EXPECT_EQ(q, expectedQ);
  EXPECT_EQ(s, expectedS);

  ref::quantizeActivations(x.data(), rows, width, expectedQ.data(), expectedS.data());
  runSliced(makeSpec("quantize_act", {{"width", width}}), {x.data(), q.data(), s.data()}, rows, 0);
  EXPECT_EQ(q, expectedQ);
  EXPECT_EQ(s, expectedS);

  // layer_norm binds its bias only when it has one.
  std::vector<float> bias = randomFloats(width, 3);
  ref::layerNorm(x.data(), w.data(), nullptr, rows, width, 1e-5f, expectedY.data());
  runSliced(makeSpec("layer_norm", {{"width", width}, {"bias", 0}}, {{"eps", 1e-5}}),
            {x.data(), w.data(), y.data()}, rows, 0);
  EXPECT_EQ(y, expectedY);
  ref::layerNorm(x.data(), w.data(), bias.data(), rows, width, 1e-5f, expectedY.data());
  runSliced(makeSpec("layer_norm", {{"width", width}, {"bias", 1}}, {{"eps", 1e-5}}),
            {x.data(), w.data(), bias.data(), y.data()}, rows, 0);
  EXPECT_EQ(y, expectedY);
}

// residual = 1 binds x, residual, w, the outputs, then the sum; the sum may overwrite x.
TEST(ReferenceDispatch, ResidualNormsAddThenNormalize) {
  const int64_t rows = 3, width = 24;
  std::vector<float> x = randomFloats(rows * width, 1), r = randomFloats(rows * width, 3);
  std::vector<float> w = randomFloats(width, 2);
  std::vector<float> expectedSum(rows * width), expectedY(rows * width);
  ref::add(x.data(), r.data(), rows * width, expectedSum.data());
  ref::rmsNorm(expectedSum.data(), w.data(), rows, width, 1e-6f, expectedY.data());
  std::vector<float> y(rows * width), sum(rows * width);
  runSliced(makeSpec("rms_norm", {{"width", width}, {"residual", 1}}, {{"eps", 1e-6}}),
            {x.data(), r.data(), w.data(), y.data(), sum.data()}, rows, 0);
  EXPECT_EQ(sum, expectedSum);
  EXPECT_EQ(y, expectedY);

  std::vector<int8_t> expectedQ(rows * width), q(rows * width);
  std::vector<float> expectedS(rows), s(rows);
  ref::quantizeActivations(expectedY.data(), rows, width, expectedQ.data(), expectedS.data());
  std::vector<float> inPlace = x;
  runSliced(makeSpec("rms_norm_quantize", {{"width", width}, {"residual", 1}}, {{"eps", 1e-6}}),
            {inPlace.data(), r.data(), w.data(), q.data(), s.data(), inPlace.data()}, rows, 0);
  EXPECT_EQ(inPlace, expectedSum);
  EXPECT_EQ(q, expectedQ);
  EXPECT_EQ(s, expectedS);

  ReferenceKernelShape shape;
  Status bad{describeReferenceKernel(
      makeSpec("rms_norm", {{"width", width}, {"residual", 2}}, {{"eps", 1e-6}}), rows, &shape)};
  EXPECT_EQ(bad.code(), TERN_STATUS_INVALID_ARGUMENT) << bad.message();
}

// gated = 1 binds gate, up (column slices of one buffer, row stride in_stride), w, then the
// outputs: the norm of relu2(gate) * up, the glu family's product.
TEST(ReferenceDispatch, GatedNormsNormalizeTheGluProduct) {
  const int64_t rows = 3, width = 24, inStride = 2 * width + 5;
  std::vector<float> gateUp = randomFloats(rows * inStride, 4, 3), w = randomFloats(width, 2);
  std::vector<float> product(rows * width), expectedY(rows * width), act(width);
  for (int64_t t = 0; t < rows; ++t) {
    ref::relu2(gateUp.data() + t * inStride, width, act.data());
    ref::mul(act.data(), gateUp.data() + t * inStride + width, width, product.data() + t * width);
  }
  ref::rmsNorm(product.data(), w.data(), rows, width, 1e-6f, expectedY.data());
  const std::map<std::string, int64_t> ints = {
      {"width", width}, {"gated", 1}, {"in_stride", inStride}};
  std::vector<float> y(rows * width);
  runSliced(makeSpec("rms_norm", ints, {{"eps", 1e-6}}, {{"activation", "relu2"}}),
            {gateUp.data(), gateUp.data() + width, w.data(), y.data()}, rows, 0);
  EXPECT_EQ(y, expectedY);

  std::vector<int8_t> expectedQ(rows * width), q(rows * width);
  std::vector<float> expectedS(rows), s(rows);
  ref::quantizeActivations(expectedY.data(), rows, width, expectedQ.data(), expectedS.data());
  runSliced(makeSpec("rms_norm_quantize", ints, {{"eps", 1e-6}}, {{"activation", "relu2"}}),
            {gateUp.data(), gateUp.data() + width, w.data(), q.data(), s.data()}, rows, 0);
  EXPECT_EQ(q, expectedQ);
  EXPECT_EQ(s, expectedS);

  // The gate and up span (rows - 1) strides plus one width.
  ReferenceKernelShape shape;
  Status described{describeReferenceKernel(
      makeSpec("rms_norm_quantize", ints, {{"eps", 1e-6}}, {{"activation", "relu2"}}), rows,
      &shape)};
  ASSERT_EQ(described.status, nullptr) << described.message();
  const uint64_t strided = uint64_t((rows - 1) * inStride + width) * 4;
  EXPECT_EQ(shape.bindingBytes,
            (std::vector<uint64_t>{strided, strided, uint64_t(width) * 4, uint64_t(rows * width),
                                   uint64_t(rows) * 4}));
  Status silu{describeReferenceKernel(
      makeSpec("rms_norm", ints, {{"eps", 1e-6}}, {{"activation", "silu"}}), rows, &shape)};
  EXPECT_EQ(silu.code(), TERN_STATUS_INVALID_ARGUMENT) << silu.message();
  Status both{describeReferenceKernel(
      makeSpec("rms_norm", {{"width", width}, {"gated", 1}, {"residual", 1}}, {{"eps", 1e-6}},
               {{"activation", "relu2"}}),
      rows, &shape)};
  EXPECT_EQ(both.code(), TERN_STATUS_INVALID_ARGUMENT) << both.message();
}

TEST(ReferenceDispatch, TernaryMatmulUnpacksAndSlicesColumns) {
  const int64_t rows = 2, n = 12, k = 200, nBlock = 4; // k not a multiple of 128: padded rows
  std::mt19937 rng(7);
  std::vector<int8_t> w(n * k), q(rows * k);
  for (int8_t &v : w)
    v = int8_t(int(rng() % 3) - 1);
  for (int8_t &v : q)
    v = int8_t(int(rng() % 255) - 127);
  std::vector<float> qScale = {3.5f, 0.25f}, wScale = randomFloats(n, 3);
  for (float &s : wScale)
    s = std::fabs(s) + 0.5f;
  std::vector<uint8_t> packed(packing::packedBytes(packing::TernaryLayout::I2B128, n, k));
  ASSERT_TRUE(packing::packTernary(packing::TernaryLayout::I2B128, w.data(), n, k, packed.data()));
  for (int divide = 0; divide <= 1; ++divide) {
    std::vector<float> expected(rows * n), y(rows * n, -7.0f);
    ref::ternaryMatmul(q.data(), qScale.data(), w.data(), wScale.data(), k, divide, rows, n, k,
                       expected.data());
    runSliced(makeSpec("ternary_matmul",
                       {{"n", n}, {"k", k}, {"n_block", nBlock}, {"divide_by_scale", divide}}, {},
                       {{"packing", "i2_b128"}}),
              {q.data(), qScale.data(), packed.data(), wScale.data(), y.data()}, rows, 0);
    EXPECT_EQ(y, expected) << "divide_by_scale " << divide;
  }
}

TEST(ReferenceDispatch, MatmulReadsStridedRowsAndHalfWeights) {
  const int64_t rows = 3, n = 8, k = 32, stride = 40;
  std::vector<float> x = randomFloats(rows * stride, 4), dense(rows * k);
  for (int64_t t = 0; t < rows; ++t)
    std::memcpy(dense.data() + t * k, x.data() + t * stride, k * 4);
  std::vector<float> w(n * k);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = float(int(i * 7 % 13) - 6) * 0.125f;
  std::vector<uint16_t> w16;
  for (float v : w)
    w16.push_back(toHalf(v));
  std::vector<float> expected(rows * n);
  ref::matmul(dense.data(), w.data(), rows, n, k, expected.data());
  for (const char *dtype : {"f32", "f16"}) {
    std::vector<float> y(rows * n);
    void *weights = std::string(dtype) == "f32" ? (void *)w.data() : (void *)w16.data();
    runSliced(makeSpec("matmul", {{"n", n}, {"k", k}, {"n_block", 2}, {"x_stride", stride}}, {},
                       {{"dtype", dtype}}),
              {x.data(), weights, y.data()}, rows, 0);
    EXPECT_EQ(y, expected) << dtype;
  }
}

TEST(ReferenceDispatch, RopeFromTableMatchesThetaTwin) {
  const int64_t rows = 2, heads = 3, headDim = 8, context = 16, pos = 5, stride = heads * headDim + 8;
  const double theta = 10000.0;
  for (bool neox : {false, true}) {
    std::vector<float> table(context * headDim);
    for (int64_t p = 0; p < context; ++p)
      for (int64_t i = 0; i < headDim / 2; ++i) {
        double angle = double(p) * std::pow(theta, -2.0 * double(i) / double(headDim));
        table[(p * headDim / 2 + i) * 2] = float(std::cos(angle));
        table[(p * headDim / 2 + i) * 2 + 1] = float(std::sin(angle));
      }
    std::vector<float> x = randomFloats(rows * stride, 5), dense(rows * heads * headDim);
    for (int64_t t = 0; t < rows; ++t)
      std::memcpy(dense.data() + t * heads * headDim, x.data() + t * stride, heads * headDim * 4);
    ref::rope(dense.data(), rows, heads, headDim, pos, theta, 1.0, neox);
    std::vector<float> untouched(x.begin(), x.end());
    runSliced(makeSpec("rope", {{"heads", heads}, {"head_dim", headDim}, {"stride", stride},
                                {"context", context}},
                       {}, {{"style", neox ? "neox" : "normal"}}),
              {x.data(), table.data()}, rows, pos);
    for (int64_t t = 0; t < rows; ++t) {
      for (int64_t i = 0; i < heads * headDim; ++i)
        EXPECT_NEAR(x[t * stride + i], dense[t * heads * headDim + i], 2e-6) << t << " " << i;
      for (int64_t i = heads * headDim; i < stride; ++i) // the gap between rows stays
        EXPECT_EQ(x[t * stride + i], untouched[t * stride + i]);
    }
  }
}

TEST(ReferenceDispatch, KVCacheWriteAndAttentionMatchTwins) {
  const int64_t heads = 4, kvHeads = 2, headDim = 4, context = 8, rows = 3, pos = 2;
  const int64_t width = kvHeads * headDim, qWidth = heads * headDim, qkvStride = qWidth + 2 * width;
  const float scale = 0.5f;
  std::vector<float> qkv = randomFloats(rows * qkvStride, 6);
  std::vector<float> kCache = randomFloats(context * width, 8), vCache = randomFloats(context * width, 9);
  std::vector<float> expectK = kCache, expectV = vCache;
  std::vector<float> k(rows * width), v(rows * width), q(rows * qWidth);
  for (int64_t t = 0; t < rows; ++t) {
    std::memcpy(q.data() + t * qWidth, qkv.data() + t * qkvStride, qWidth * 4);
    std::memcpy(k.data() + t * width, qkv.data() + t * qkvStride + qWidth, width * 4);
    std::memcpy(v.data() + t * width, qkv.data() + t * qkvStride + qWidth + width, width * 4);
  }
  const ref::KVCacheLayout layout{1, context, kvHeads, headDim};
  ref::kvCacheWrite(layout, expectK.data(), expectV.data(), 0, pos, rows, k.data(), v.data());
  runSliced(makeSpec("kv_cache_write", {{"kv_heads", kvHeads}, {"head_dim", headDim},
                                        {"k_stride", qkvStride}, {"v_stride", qkvStride},
                                        {"context", context}}),
            {qkv.data() + qWidth, qkv.data() + qWidth + width, kCache.data(), vCache.data()}, rows,
            pos);
  EXPECT_EQ(kCache, expectK);
  EXPECT_EQ(vCache, expectV);

  std::vector<double> scratch(context);
  std::vector<float> expected(rows * qWidth), out(rows * qWidth);
  ref::attention(layout, kCache.data(), vCache.data(), 0, pos, rows, heads, scale, q.data(),
                 scratch.data(), expected.data());
  runSliced(makeSpec("attention", {{"heads", heads}, {"kv_heads", kvHeads}, {"head_dim", headDim},
                                   {"q_stride", qkvStride}, {"context", context}},
                     {{"scale", scale}}),
            {qkv.data(), kCache.data(), vCache.data(), out.data()}, rows, pos);
  EXPECT_EQ(out, expected);

  std::vector<void *> b = {qkv.data(), kCache.data(), vCache.data(), out.data()};
  Status past{runReferenceKernel(
      makeSpec("attention", {{"heads", heads}, {"kv_heads", kvHeads}, {"head_dim", headDim},
                             {"q_stride", qkvStride}, {"context", context}},
               {{"scale", scale}}),
      b.data(), rows, context - 1, 0, heads)};
  EXPECT_EQ(past.code(), TERN_STATUS_OUT_OF_RANGE) << past.message();
}

// rope_kv_cache_write (GPU targets) is rope, then kv_cache_write of x's last kv heads and v.
TEST(ReferenceDispatch, RopeKVCacheWriteIsRopeThenTheWrite) {
  const int64_t heads = 3, kvHeads = 1, headDim = 4, context = 8, rows = 2, pos = 3;
  const int64_t width = kvHeads * headDim, stride = heads * headDim + width; // q, k, then v
  std::vector<float> table = randomFloats(context * headDim, 10);
  std::vector<float> qkv = randomFloats(rows * stride, 11);
  std::vector<float> kCache = randomFloats(context * width, 12), vCache = randomFloats(context * width, 13);
  std::vector<float> expectX = qkv, expectK = kCache, expectV = vCache;
  const KernelSpec rope = makeSpec("rope", {{"heads", heads}, {"head_dim", headDim},
                                            {"stride", stride}, {"context", context}},
                                   {}, {{"style", "normal"}});
  runSliced(rope, {expectX.data(), table.data()}, rows, pos);
  const KernelSpec write = makeSpec("kv_cache_write", {{"kv_heads", kvHeads}, {"head_dim", headDim},
                                                       {"k_stride", stride}, {"v_stride", stride},
                                                       {"context", context}});
  const int64_t kColumn = (heads - kvHeads) * headDim;
  runSliced(write, {expectX.data() + kColumn, expectX.data() + heads * headDim, expectK.data(),
                    expectV.data()},
            rows, pos);

  KernelSpec fused = makeSpec("rope_kv_cache_write",
                              {{"heads", heads}, {"head_dim", headDim}, {"stride", stride},
                               {"context", context}, {"kv_heads", kvHeads}, {"v_stride", stride}},
                              {}, {{"style", "normal"}});
  runSliced(fused, {qkv.data(), table.data(), qkv.data() + heads * headDim, kCache.data(),
                    vCache.data()},
            rows, pos);
  EXPECT_EQ(qkv, expectX);
  EXPECT_EQ(kCache, expectK);
  EXPECT_EQ(vCache, expectV);

  fused.ints["kv_heads"] = heads + 1; // more keys than rotated heads
  ReferenceKernelShape shape;
  Status status{describeReferenceKernel(fused, rows, &shape)};
  EXPECT_EQ(status.code(), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(status.message().find("kv_heads"), std::string::npos) << status.message();
}

// rope_kv_attention (GPU decode) is rope_kv_cache_write on a copy of q and k, then attention
// of the rotated q; x itself is left as it is.
TEST(ReferenceDispatch, RopeKVAttentionIsTheRotationWriteThenAttention) {
  const int64_t heads = 4, kvHeads = 2, headDim = 4, context = 8, rows = 1, pos = 5;
  const int64_t width = kvHeads * headDim, qk = (heads + kvHeads) * headDim;
  const int64_t stride = qk + width; // q, k, then v
  const double scale = 0.5;
  std::vector<float> table = randomFloats(context * headDim, 20);
  std::vector<float> qkv = randomFloats(rows * stride, 21);
  std::vector<float> kCache = randomFloats(context * width, 22),
                     vCache = randomFloats(context * width, 23);
  std::vector<float> rotated = qkv, expectK = kCache, expectV = vCache;
  const KernelSpec ropeWrite = makeSpec("rope_kv_cache_write",
                                        {{"heads", heads + kvHeads},
                                         {"head_dim", headDim},
                                         {"stride", stride},
                                         {"context", context},
                                         {"kv_heads", kvHeads},
                                         {"v_stride", stride}},
                                        {}, {{"style", "neox"}});
  runSliced(ropeWrite,
            {rotated.data(), table.data(), rotated.data() + qk, expectK.data(), expectV.data()},
            rows, pos);
  const KernelSpec attention = makeSpec("attention",
                                        {{"heads", heads},
                                         {"kv_heads", kvHeads},
                                         {"head_dim", headDim},
                                         {"q_stride", stride},
                                         {"context", context}},
                                        {{"scale", scale}});
  std::vector<float> expectOut(rows * heads * headDim);
  runSliced(attention, {rotated.data(), expectK.data(), expectV.data(), expectOut.data()}, rows,
            pos);

  KernelSpec fused = makeSpec("rope_kv_attention",
                              {{"heads", heads},
                               {"kv_heads", kvHeads},
                               {"head_dim", headDim},
                               {"stride", stride},
                               {"v_stride", stride},
                               {"context", context}},
                              {{"scale", scale}}, {{"style", "neox"}});
  const std::vector<float> x = qkv;
  std::vector<float> out(rows * heads * headDim);
  runSliced(fused,
            {qkv.data(), table.data(), qkv.data() + qk, kCache.data(), vCache.data(), out.data()},
            rows, pos);
  EXPECT_EQ(qkv, x);
  EXPECT_EQ(kCache, expectK);
  EXPECT_EQ(vCache, expectV);
  EXPECT_EQ(out, expectOut);

  fused.ints["stride"] = qk - 1; // narrower than q and k
  ReferenceKernelShape shape;
  Status status{describeReferenceKernel(fused, rows, &shape)};
  EXPECT_EQ(status.code(), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(status.message().find("stride"), std::string::npos) << status.message();
}

TEST(ReferenceDispatch, ElementwiseAndGluMatchTwins) {
  const int64_t rows = 2, width = 6, inStride = 2 * width;
  std::vector<float> a = randomFloats(rows * width, 10, 3), b = randomFloats(rows * width, 11, 3);
  std::vector<float> expected(rows * width), out(rows * width);
  ref::add(a.data(), b.data(), rows * width, expected.data());
  runSliced(makeSpec("add", {{"width", width}}), {a.data(), b.data(), out.data()}, rows, 0);
  EXPECT_EQ(out, expected);
  ref::mul(a.data(), b.data(), rows * width, expected.data());
  runSliced(makeSpec("mul", {{"width", width}}), {a.data(), b.data(), out.data()}, rows, 0);
  EXPECT_EQ(out, expected);
  // bias_add over the second half of (rows, 2 * width) rows: a column view of a fused output.
  std::vector<float> fused = randomFloats(rows * inStride, 13, 3), bias = randomFloats(width, 14);
  std::vector<float> second(rows * width);
  for (int64_t t = 0; t < rows; ++t)
    std::memcpy(second.data() + t * width, fused.data() + t * inStride + width, width * 4);
  ref::biasAdd(second.data(), bias.data(), rows, width, expected.data());
  runSliced(makeSpec("bias_add", {{"width", width}, {"x_stride", inStride}}),
            {fused.data() + width, bias.data(), out.data()}, rows, 0);
  EXPECT_EQ(out, expected);

  using Unary = void (*)(const float *, int64_t, float *);
  const std::pair<const char *, Unary> unary[] = {
      {"relu", ref::relu}, {"relu2", ref::relu2}, {"silu", ref::silu}, {"gelu", ref::gelu}};
  for (auto [family, twin] : unary) {
    twin(a.data(), rows * width, expected.data());
    runSliced(makeSpec(family, {{"width", width}}), {a.data(), out.data()}, rows, 0);
    EXPECT_EQ(out, expected) << family;
    if (std::string(family) == "relu")
      continue; // glu gates with relu2, silu or gelu only

    // glu: gate and up interleaved in one (rows, 2 * width) buffer.
    std::vector<float> gateUp = randomFloats(rows * inStride, 12, 3), act(width);
    for (int64_t t = 0; t < rows; ++t) {
      twin(gateUp.data() + t * inStride, width, act.data());
      ref::mul(act.data(), gateUp.data() + t * inStride + width, width, expected.data() + t * width);
    }
    runSliced(makeSpec("glu", {{"width", width}, {"in_stride", inStride}}, {},
                       {{"activation", family}}),
              {gateUp.data(), gateUp.data() + width, out.data()}, rows, 0);
    EXPECT_EQ(out, expected) << "glu " << family;
  }
}

TEST(ReferenceDispatch, RejectsUnknownFamilyAndBadParameters) {
  std::vector<void *> none(5, nullptr);
  Status family{runReferenceKernel(makeSpec("softmax", {{"width", 4}}), none.data(), 1, 0, 0, 1)};
  EXPECT_EQ(family.code(), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(family.message().find("softmax"), std::string::npos) << family.message();

  Status missing{runReferenceKernel(makeSpec("matmul", {{"n", 8}, {"n_block", 4}}, {},
                                             {{"dtype", "f32"}}),
                                    none.data(), 1, 0, 0, 2)};
  EXPECT_EQ(missing.code(), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(missing.message().find("'k'"), std::string::npos) << missing.message();

  Status dtype{runReferenceKernel(makeSpec("matmul", {{"n", 8}, {"k", 32}, {"n_block", 4}}, {},
                                           {{"dtype", "q4_0"}}),
                                  none.data(), 1, 0, 0, 2)};
  EXPECT_EQ(dtype.code(), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(dtype.message().find("q4_0"), std::string::npos) << dtype.message();

  Status packing{runReferenceKernel(
      makeSpec("ternary_matmul", {{"n", 8}, {"k", 128}, {"n_block", 4}, {"divide_by_scale", 0}}, {},
               {{"packing", "tl2"}}),
      none.data(), 1, 0, 0, 2)};
  EXPECT_EQ(packing.code(), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(packing.message().find("tl2"), std::string::npos) << packing.message();

  Status slice{runReferenceKernel(makeSpec("matmul", {{"n", 8}, {"k", 32}, {"n_block", 4}}, {},
                                           {{"dtype", "f32"}}),
                                  none.data(), 1, 0, 1, 3)};
  EXPECT_EQ(slice.code(), TERN_STATUS_INVALID_ARGUMENT) << slice.message();
}

TEST(ReferenceDispatch, DescribesGridAndBindingBytes) {
  ReferenceKernelShape shape;
  Status s{describeReferenceKernel(
      makeSpec("matmul", {{"n", 16}, {"k", 64}, {"n_block", 4}, {"x_stride", 192}}, {},
               {{"dtype", "q8_0"}}),
      3, &shape)};
  ASSERT_EQ(s.status, nullptr) << s.message();
  EXPECT_EQ(shape.gridItems, 4);
  EXPECT_EQ(shape.bindingBytes, (std::vector<uint64_t>{(2 * 192 + 64) * 4, 16 * 2 * 34, 3 * 16 * 4}));

  // layer_norm has a bias binding only with bias = 1; bias_add reads strided rows.
  Status ln{describeReferenceKernel(
      makeSpec("layer_norm", {{"width", 64}, {"bias", 1}}, {{"eps", 1e-5}}), 3, &shape)};
  ASSERT_EQ(ln.status, nullptr) << ln.message();
  EXPECT_EQ(shape.bindingBytes, (std::vector<uint64_t>{3 * 64 * 4, 64 * 4, 64 * 4, 3 * 64 * 4}));
  Status lnNoBias{describeReferenceKernel(
      makeSpec("layer_norm", {{"width", 64}, {"bias", 0}}, {{"eps", 1e-5}}), 3, &shape)};
  ASSERT_EQ(lnNoBias.status, nullptr) << lnNoBias.message();
  EXPECT_EQ(shape.bindingBytes.size(), 3u);
  Status badBias{describeReferenceKernel(
      makeSpec("layer_norm", {{"width", 64}, {"bias", 2}}, {{"eps", 1e-5}}), 3, &shape)};
  EXPECT_EQ(badBias.code(), TERN_STATUS_INVALID_ARGUMENT);
  Status biasAdd{describeReferenceKernel(
      makeSpec("bias_add", {{"width", 64}, {"x_stride", 192}}), 3, &shape)};
  ASSERT_EQ(biasAdd.status, nullptr) << biasAdd.message();
  EXPECT_EQ(shape.bindingBytes, (std::vector<uint64_t>{(2 * 192 + 64) * 4, 64 * 4, 3 * 64 * 4}));
  Status positions{describeReferenceKernel(
      makeSpec("position_embedding", {{"positions", 1024}, {"width", 64}}, {}, {{"dtype", "f16"}}),
      3, &shape)};
  ASSERT_EQ(positions.status, nullptr) << positions.message();
  EXPECT_EQ(shape.bindingBytes, (std::vector<uint64_t>{1024 * 64 * 2, 3 * 64 * 4}));
}

} // namespace
} // namespace tern
