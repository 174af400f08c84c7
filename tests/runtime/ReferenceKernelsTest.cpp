// Tests the reference kernels on hand-computed cases and on properties that pin their semantics.
#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace tern::ref {
namespace {

TEST(ReferenceKernels, RmsNormMatchesHandComputedValues) {
  // mean(x^2) = 30 / 4 = 7.5, so x is scaled by 1 / sqrt(7.5) = 0.3651484.
  std::vector<float> x = {1, 2, 3, 4}, w = {1, 1, 1, 2}, y(4);
  rmsNorm(x.data(), w.data(), 1, 4, 0.0f, y.data());
  EXPECT_NEAR(y[0], 0.3651484f, 1e-6);
  EXPECT_NEAR(y[1], 0.7302967f, 1e-6);
  EXPECT_NEAR(y[2], 1.0954451f, 1e-6);
  EXPECT_NEAR(y[3], 2.9211869f, 1e-6);
}

TEST(ReferenceKernels, LayerNormMatchesHandComputedValues) {
  // mean 2.5, var = (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25, so (x - 2.5) / sqrt(1.25).
  std::vector<float> x = {1, 2, 3, 4}, w = {1, 1, 1, 2}, b = {0, 0.5f, 0, -1}, y(4);
  layerNorm(x.data(), w.data(), nullptr, 1, 4, 0.0f, y.data());
  EXPECT_NEAR(y[0], -1.3416408f, 1e-6);
  EXPECT_NEAR(y[1], -0.4472136f, 1e-6);
  EXPECT_NEAR(y[2], 0.4472136f, 1e-6);
  EXPECT_NEAR(y[3], 2.6832816f, 1e-6);
  layerNorm(x.data(), w.data(), b.data(), 1, 4, 0.0f, y.data());
  EXPECT_NEAR(y[1], 0.0527864f, 1e-6);
  EXPECT_NEAR(y[3], 1.6832816f, 1e-6);
}

TEST(ReferenceKernels, LayerNormIgnoresAnOffsetOfTheRow) {
  // The centered variance is exact where E[x^2] - E[x]^2 in float would cancel to nothing.
  std::vector<float> x = {1, 2, 3, 4}, shifted(4), w(4, 1.0f), y(4), ys(4);
  for (int i = 0; i < 4; ++i)
    shifted[i] = x[i] + 4096.0f;
  layerNorm(x.data(), w.data(), nullptr, 1, 4, 1e-5f, y.data());
  layerNorm(shifted.data(), w.data(), nullptr, 1, 4, 1e-5f, ys.data());
  EXPECT_EQ(ys, y);
}

TEST(ReferenceKernels, PositionEmbeddingReadsRowsFromThePosition) {
  std::vector<float> table = {0, 1, 10, 11, 20, 21, 30, 31}, out(4);
  positionEmbedding(table.data(), 2, 2, 2, out.data());
  EXPECT_EQ(out, (std::vector<float>{20, 21, 30, 31}));
}

TEST(ReferenceKernels, QuantizeActivationsRoundsHalfToEven) {
  // max|x| = 127 gives scale 1, so the values land exactly on the .5 ties.
  std::vector<float> x = {127, 0.5f, 1.5f, 2.5f, -2.5f, -127};
  std::vector<int8_t> q(6);
  float scale = 0;
  quantizeActivations(x.data(), 1, 6, q.data(), &scale);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(q, (std::vector<int8_t>{127, 0, 2, 2, -2, -127}));
}

TEST(ReferenceKernels, QuantizeActivationsOfZeroRowUsesTheFloor) {
  std::vector<float> x(8, 0.0f);
  std::vector<int8_t> q(8, 1);
  float scale = 0;
  quantizeActivations(x.data(), 1, 8, q.data(), &scale);
  EXPECT_FLOAT_EQ(scale, 127.0f / 1e-5f);
  EXPECT_EQ(q, std::vector<int8_t>(8, 0));
}

TEST(ReferenceKernels, TernaryMatmulScalesPerTensorPerBlockAndDivides) {
  std::vector<int8_t> q = {1, 2, 3, 4};
  std::vector<int8_t> w = {1, 0, -1, 1,   // dot = 1 - 3 + 4 = 2
                           -1, -1, 1, 0}; // dot = -1 - 2 + 3 = 0
  float qScale = 2.0f;
  std::vector<float> y(2);
  float tensorScale = 0.5f;
  ternaryMatmul(q.data(), &qScale, w.data(), &tensorScale, 8, false, 1, 2, 4, y.data());
  EXPECT_FLOAT_EQ(y[0], 2 * 0.5f / 2);
  EXPECT_FLOAT_EQ(y[1], 0.0f);
  ternaryMatmul(q.data(), &qScale, w.data(), &tensorScale, 8, true, 1, 2, 4, y.data());
  EXPECT_FLOAT_EQ(y[0], 2 / 0.5f / 2);
  // Blocks of 2: row 0 has partial dots 1 and 1, row 1 has -3 and 3.
  std::vector<float> blockScales = {1, 2, 3, 4};
  ternaryMatmul(q.data(), &qScale, w.data(), blockScales.data(), 2, false, 1, 2, 4, y.data());
  EXPECT_FLOAT_EQ(y[0], (1 * 1 + 1 * 2) / 2.0f);
  EXPECT_FLOAT_EQ(y[1], (-3 * 3 + 3 * 4) / 2.0f);
}

TEST(ReferenceKernels, TernaryMatmulPerBlockEqualsPerTensorWhenScalesAgree) {
  std::mt19937 rng(7);
  const int64_t rows = 3, n = 5, k = 64;
  std::vector<int8_t> q(rows * k), w(n * k);
  for (auto& v : q) v = int8_t(int(rng() % 256) - 128);
  for (auto& v : w) v = int8_t(int(rng() % 3) - 1);
  std::vector<float> qScale = {0.5f, 3.0f, 17.0f}, a(rows * n), b(rows * n);
  float s = 0.75f;
  std::vector<float> blocks(n * k / 16, s);
  ternaryMatmul(q.data(), qScale.data(), w.data(), &s, n * k, false, rows, n, k, a.data());
  ternaryMatmul(q.data(), qScale.data(), w.data(), blocks.data(), 16, false, rows, n, k, b.data());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_FLOAT_EQ(a[i], b[i]);
}

TEST(ReferenceKernels, MatmulIsXTimesWTransposed) {
  std::vector<float> x = {1, 2, 3}, w = {1, 0, 0, 0, 1, 1}, y(2);
  matmul(x.data(), w.data(), 1, 2, 3, y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 5}));
}

TEST(ReferenceKernels, RopeAtPositionZeroIsIdentity) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8}, original = x;
  rope(x.data(), 1, 2, 4, 0, 10000.0, 1.0, true);
  EXPECT_EQ(x, original);
}

TEST(ReferenceKernels, RopeNormalAndNeoxDifferByAPermutation) {
  // Normal style on (a0 b0 a1 b1) equals neox style on (a0 a1 b0 b1), permuted back.
  std::vector<float> normal = {1, 2, 3, 4}, neox = {1, 3, 2, 4};
  rope(normal.data(), 1, 1, 4, 5, 10000.0, 1.0, false);
  rope(neox.data(), 1, 1, 4, 5, 10000.0, 1.0, true);
  EXPECT_FLOAT_EQ(normal[0], neox[0]);
  EXPECT_FLOAT_EQ(normal[1], neox[2]);
  EXPECT_FLOAT_EQ(normal[2], neox[1]);
  EXPECT_FLOAT_EQ(normal[3], neox[3]);
  // And rotating pair (1, 2) by 5 radians (frequency 1 for i = 0) is exact trigonometry.
  EXPECT_NEAR(normal[0], std::cos(5.0) - 2 * std::sin(5.0), 1e-5);
  EXPECT_NEAR(normal[1], std::sin(5.0) + 2 * std::cos(5.0), 1e-5);
}

TEST(ReferenceKernels, AttentionOverOnePositionReturnsItsValue) {
  KVCacheLayout layout{1, 4, 1, 2};
  std::vector<float> k(8, 0), v(8, 0), q = {0.3f, -2, 1, 4}, out(4);
  std::vector<float> key = {5, 6}, value = {7, -8};
  kvCacheWrite(layout, k.data(), v.data(), 0, 0, 1, key.data(), value.data());
  std::vector<double> scratch(4);
  attention(layout, k.data(), v.data(), 0, 0, 1, 2, 0.5f, q.data(), scratch.data(), out.data());
  EXPECT_EQ(out, (std::vector<float>{7, -8, 7, -8})); // both heads share the one KV head
}

TEST(ReferenceKernels, AttentionIsCausalAndWeighsBySoftmax) {
  KVCacheLayout layout{1, 4, 1, 1};
  std::vector<float> k(4, 0), v(4, 0);
  std::vector<float> keys = {0, std::log(3.0f)}, values = {1, 5};
  kvCacheWrite(layout, k.data(), v.data(), 0, 0, 2, keys.data(), values.data());
  std::vector<float> q = {1, 1}, out(2);
  std::vector<double> scratch(4);
  attention(layout, k.data(), v.data(), 0, 0, 2, 1, 1.0f, q.data(), scratch.data(), out.data());
  EXPECT_FLOAT_EQ(out[0], 1.0f);                  // row 0 sees position 0 only
  EXPECT_NEAR(out[1], (1 * 1 + 5 * 3) / 4.0, 1e-6); // weights 1:3
}

TEST(ReferenceKernels, ElementwiseOps) {
  std::vector<float> x = {-2, 0, 3}, y(3);
  relu2(x.data(), 3, y.data());
  EXPECT_EQ(y, (std::vector<float>{0, 0, 9}));
  silu(x.data(), 3, y.data());
  EXPECT_NEAR(y[0], -2 / (1 + std::exp(2.0)), 1e-6);
  EXPECT_NEAR(y[2], 3 / (1 + std::exp(-3.0)), 1e-6);
  gelu(x.data(), 3, y.data());
  EXPECT_NEAR(y[2], 2.9963627, 1e-5);
  std::vector<float> b = {1, 2, 3};
  mul(x.data(), b.data(), 3, y.data());
  EXPECT_EQ(y, (std::vector<float>{-2, 0, 9}));
  add(x.data(), b.data(), 3, y.data());
  EXPECT_EQ(y, (std::vector<float>{-1, 2, 6}));
  relu(x.data(), 3, y.data());
  EXPECT_EQ(y, (std::vector<float>{0, 0, 3}));
  // -0 and NaN give +0.
  std::vector<float> special = {-0.0f, std::nanf("")};
  relu(special.data(), 2, special.data());
  EXPECT_FALSE(std::signbit(special[0]));
  EXPECT_EQ(special[1], 0.0f);
  // bias_add: the bias repeats on every row.
  std::vector<float> rows = {1, 2, 3, 4, 5, 6}, bias = {10, 20, 30}, out(6);
  biasAdd(rows.data(), bias.data(), 2, 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

}  // namespace
}  // namespace tern::ref
