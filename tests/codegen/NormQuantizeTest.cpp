// Generated rms_norm, rms_norm_quantize (with and without a fused residual add or glu),
// layer_norm and quantize_act vs the reference twins.
#include "CodegenTestUtil.h"

#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace tern::cpu::test {
namespace {

class NormQuantizeTest : public ::testing::TestWithParam<std::string> {};

const int64_t kWidths[] = {1, 7, 64, 200, 2560, 6912};
const int64_t kRows[] = {1, 3};

std::vector<float> rowsWithOutliers(std::mt19937 &rng, int64_t rows, int64_t width) {
  std::vector<float> x = randomFloats(rng, rows * width, 3.0f);
  // Values that land exactly on .5 after scaling test the ties-to-even rounding.
  if (width > 4)
    for (int64_t t = 0; t < rows; ++t) {
      x[t * width + 0] = 127.0f;
      x[t * width + 1] = 2.5f;
      x[t * width + 2] = -0.5f;
      x[t * width + 3] = 3.5f;
    }
  return x;
}

TEST_P(NormQuantizeTest, QuantizeActIsBitExact) {
  for (int64_t width : kWidths) {
    KernelSpec spec{"qa", "quantize_act", {{"width", width}}, {}, {}};
    std::string error;
    auto library = buildAndLoad({spec}, GetParam(), &error);
    ASSERT_TRUE(library) << error;
    std::mt19937 rng{uint32_t(width)};
    for (int64_t rows : kRows) {
      std::vector<float> x = rowsWithOutliers(rng, rows, width);
      if (rows > 2)
        std::fill(x.begin() + width, x.begin() + 2 * width, 0.0f); // all-zero row: 1e-5 floor
      std::vector<int8_t> want(rows * width), got(rows * width, 99);
      std::vector<float> wantScale(rows), gotScale(rows);
      ref::quantizeActivations(x.data(), rows, width, want.data(), wantScale.data());
      poison(gotScale);
      library->kernel("qa")(std::vector<void *>{x.data(), got.data(), gotScale.data()}.data(),
                            rows, 0, 0, 1);
      EXPECT_EQ(got, want) << "width " << width << " rows " << rows;
      EXPECT_EQ(gotScale, wantScale) << "width " << width << " rows " << rows;
    }
  }
}

TEST_P(NormQuantizeTest, RmsNormMatchesReference) {
  for (int64_t width : kWidths) {
    KernelSpec spec{"rn", "rms_norm", {{"width", width}}, {{"eps", 1e-5}}, {}};
    std::string error;
    auto library = buildAndLoad({spec}, GetParam(), &error);
    ASSERT_TRUE(library) << error;
    std::mt19937 rng(uint32_t(width) + 7);
    std::vector<float> w = randomFloats(rng, width, 2.0f);
    for (int64_t rows : kRows) {
      std::vector<float> x = rowsWithOutliers(rng, rows, width);
      std::vector<float> want(rows * width), got(rows * width);
      ref::rmsNorm(x.data(), w.data(), rows, width, 1e-5f, want.data());
      poison(got);
      library->kernel("rn")(std::vector<void *>{x.data(), w.data(), got.data()}.data(), rows, 0,
                            0, 1);
      for (int64_t i = 0; i < rows * width; ++i)
        ASSERT_TRUE(closeRelative(got[i], want[i], std::fabs(want[i]), 1e-5))
            << "width " << width << " at " << i << ": " << got[i] << " vs " << want[i];
      // In place (y aliases x), as the runtime may run it.
      std::vector<float> inPlace = x;
      library->kernel("rn")(std::vector<void *>{inPlace.data(), w.data(), inPlace.data()}.data(),
                            rows, 0, 0, 1);
      EXPECT_EQ(inPlace, got);
    }
  }
}

// With row_items (what ternc gives the row-wise kernels of a CPU artifact), work item i is row
// i: a slice computes its rows and writes nothing else, items past the call's rows do nothing,
// and any split of the items gives the whole call's answer.
TEST_P(NormQuantizeTest, RowItemsSplitTheRows) {
  const int64_t width = 200, rowItems = 8;
  KernelSpec norm{"rn", "rms_norm", {{"width", width}, {"row_items", rowItems}}, {{"eps", 1e-5}},
                  {}};
  KernelSpec quant{"qa", "quantize_act", {{"width", width}, {"row_items", rowItems}}, {}, {}};
  std::string error;
  auto library = buildAndLoad({norm, quant}, GetParam(), &error);
  ASSERT_TRUE(library) << error;
  std::mt19937 rng(11);
  std::vector<float> w = randomFloats(rng, width, 2.0f);
  for (int64_t rows : {1, 5, 8}) {
    std::vector<float> x = rowsWithOutliers(rng, rows, width);
    std::vector<float> whole(rows * width), got(rows * width);
    library->kernel("rn")(std::vector<void *>{x.data(), w.data(), whole.data()}.data(), rows, 0,
                          0, rowItems); // every item, some past the rows
    std::vector<float> want(rows * width);
    ref::rmsNorm(x.data(), w.data(), rows, width, 1e-5f, want.data());
    for (int64_t i = 0; i < rows * width; ++i)
      ASSERT_TRUE(closeRelative(whole[i], want[i], std::fabs(want[i]), 1e-5)) << i;
    for (int64_t slices : {2, 3, 5}) {
      poison(got);
      runSliced(library->kernel("rn"), {x.data(), w.data(), got.data()}, rows, 0,
                std::min(rows, rowItems), slices);
      EXPECT_EQ(got, whole) << "rows " << rows << " slices " << slices;
    }
    // One item alone writes its row only.
    poison(got);
    const std::vector<float> poisoned = got;
    const int64_t row = rows / 2;
    library->kernel("rn")(std::vector<void *>{x.data(), w.data(), got.data()}.data(), rows, 0,
                          row, row + 1);
    for (int64_t t = 0; t < rows; ++t)
      for (int64_t i = 0; i < width; ++i) {
        const float expected = t == row ? whole[t * width + i] : poisoned[t * width + i];
        ASSERT_EQ(std::memcmp(&got[t * width + i], &expected, sizeof(float)), 0)
            << "rows " << rows << " row " << t << " at " << i;
      }

    std::vector<int8_t> wantCodes(rows * width), gotCodes(rows * width, 99);
    std::vector<float> wantScale(rows), gotScale(rows);
    ref::quantizeActivations(x.data(), rows, width, wantCodes.data(), wantScale.data());
    runSliced(library->kernel("qa"), {x.data(), gotCodes.data(), gotScale.data()}, rows, 0,
              std::min(rows, rowItems), 3);
    EXPECT_EQ(gotCodes, wantCodes) << "rows " << rows;
    EXPECT_EQ(gotScale, wantScale) << "rows " << rows;
  }
}

TEST_P(NormQuantizeTest, RmsNormQuantizeMatchesReferenceComposition) {
  for (int64_t width : kWidths) {
    KernelSpec spec{"rnq", "rms_norm_quantize", {{"width", width}}, {{"eps", 1e-6}}, {}};
    std::string error;
    auto library = buildAndLoad({spec}, GetParam(), &error);
    ASSERT_TRUE(library) << error;
    std::mt19937 rng(uint32_t(width) + 13);
    std::vector<float> w = randomFloats(rng, width, 2.0f);
    for (int64_t rows : kRows) {
      std::vector<float> x = rowsWithOutliers(rng, rows, width);
      std::vector<float> normalized(rows * width), wantScale(rows), gotScale(rows);
      std::vector<int8_t> want(rows * width), got(rows * width, 99);
      ref::rmsNorm(x.data(), w.data(), rows, width, 1e-6f, normalized.data());
      ref::quantizeActivations(normalized.data(), rows, width, want.data(), wantScale.data());
      poison(gotScale);
      library->kernel("rnq")(
          std::vector<void *>{x.data(), w.data(), got.data(), gotScale.data()}.data(), rows, 0, 0,
          1);
      // The sum of squares is accumulated in double in another order; the rounded float
      // normalizer matches the reference's, so codes and scales are equal.
      EXPECT_EQ(got, want) << "width " << width << " rows " << rows;
      EXPECT_EQ(gotScale, wantScale) << "width " << width << " rows " << rows;
    }
  }
}

TEST_P(NormQuantizeTest, LayerNormMatchesReference) {
  for (int64_t width : kWidths)
    for (bool bias : {false, true}) {
      KernelSpec spec{"ln", "layer_norm", {{"width", width}, {"bias", bias ? 1 : 0}},
                      {{"eps", 1e-5}}, {}};
      std::string error;
      auto library = buildAndLoad({spec}, GetParam(), &error);
      ASSERT_TRUE(library) << error;
      std::mt19937 rng(uint32_t(width) + (bias ? 101 : 29));
      std::vector<float> w = randomFloats(rng, width, 2.0f);
      std::vector<float> b = randomFloats(rng, width, 1.0f);
      for (int64_t rows : kRows) {
        SCOPED_TRACE("width " + std::to_string(width) + " rows " + std::to_string(rows) +
                     (bias ? " with bias" : ""));
        std::vector<float> x = rowsWithOutliers(rng, rows, width);
        // A row far from zero: the mean dominates the spread, which a one-pass variance
        // (mean of x^2 minus the squared mean) would lose.
        if (rows > 1)
          for (int64_t i = 0; i < width; ++i)
            x[width + i] = 1000.0f + x[width + i] * 0.01f;
        std::vector<float> want(rows * width), got(rows * width);
        ref::layerNorm(x.data(), w.data(), bias ? b.data() : nullptr, rows, width, 1e-5f,
                       want.data());
        poison(got);
        std::vector<void *> bindings = {x.data(), w.data()};
        if (bias)
          bindings.push_back(b.data());
        bindings.push_back(got.data());
        library->kernel("ln")(bindings.data(), rows, 0, 0, 1);
        for (int64_t i = 0; i < rows * width; ++i) {
          // The bias can cancel the normalized value: measure the error against both terms.
          const double magnitude = std::fabs(want[i]) + (bias ? std::fabs(b[i % width]) : 0.0);
          ASSERT_TRUE(closeRelative(got[i], want[i], magnitude, 1e-5))
              << "at " << i << ": " << got[i] << " vs " << want[i];
        }
        // In place (y aliases x), as the runtime may run it.
        std::vector<float> inPlace = x;
        bindings.front() = inPlace.data();
        bindings.back() = inPlace.data();
        library->kernel("ln")(bindings.data(), rows, 0, 0, 1);
        EXPECT_EQ(inPlace, got);
      }
    }
}

// The fused residual add (tern-fuse-residual-norm): the sum is the reference's f32 addition and
// the outputs are the unfused norm's of that sum, bit for bit, also with the sum written over
// x or over the residual as the memory plan may place it.
TEST_P(NormQuantizeTest, ResidualNormEqualsAddThenNorm) {
  for (int64_t width : kWidths)
    for (bool quantize : {false, true}) {
      const char *family = quantize ? "rms_norm_quantize" : "rms_norm";
      KernelSpec plain{"plain", family, {{"width", width}}, {{"eps", 1e-5}}, {}};
      KernelSpec fused{"fused", family, {{"width", width}, {"residual", 1}}, {{"eps", 1e-5}}, {}};
      std::string error;
      auto library = buildAndLoad({plain, fused}, GetParam(), &error);
      ASSERT_TRUE(library) << error;
      std::mt19937 rng(uint32_t(width) + (quantize ? 41 : 43));
      std::vector<float> w = randomFloats(rng, width, 2.0f);
      for (int64_t rows : kRows) {
        SCOPED_TRACE(std::string(family) + " width " + std::to_string(width) + " rows " +
                     std::to_string(rows));
        const std::vector<float> x = rowsWithOutliers(rng, rows, width);
        const std::vector<float> residual = randomFloats(rng, rows * width, 3.0f);
        std::vector<float> wantSum(rows * width);
        ref::add(x.data(), residual.data(), rows * width, wantSum.data());
        // Outputs: y, or q and qscale (as floats' bytes), each checked exactly.
        std::vector<float> wantY(rows * width), wantScale(rows);
        std::vector<int8_t> wantQ(rows * width);
        std::vector<void *> plainBindings = {wantSum.data(), w.data()};
        if (quantize)
          plainBindings.insert(plainBindings.end(), {wantQ.data(), wantScale.data()});
        else
          plainBindings.push_back(wantY.data());
        library->kernel("plain")(plainBindings.data(), rows, 0, 0, 1);

        for (int alias : {0, 1, 2}) { // the sum apart, over x, over the residual
          SCOPED_TRACE("sum alias " + std::to_string(alias));
          std::vector<float> xs = x, rs = residual, sum(rows * width), y(rows * width);
          std::vector<float> scale(rows);
          std::vector<int8_t> q(rows * width, 99);
          poison(sum);
          poison(y);
          poison(scale);
          float *sumOut = alias == 1 ? xs.data() : alias == 2 ? rs.data() : sum.data();
          std::vector<void *> bindings = {xs.data(), rs.data(), w.data()};
          if (quantize)
            bindings.insert(bindings.end(), {q.data(), scale.data()});
          else
            bindings.push_back(y.data());
          bindings.push_back(sumOut);
          library->kernel("fused")(bindings.data(), rows, 0, 0, 1);
          EXPECT_EQ(std::vector<float>(sumOut, sumOut + rows * width), wantSum);
          if (quantize) {
            EXPECT_EQ(q, wantQ);
            EXPECT_EQ(scale, wantScale);
          } else {
            EXPECT_EQ(y, wantY);
          }
        }
      }
    }
}

// The fused glu (tern-fuse-glu-norm): gate and up are column slices of one (rows, 2 * width + 3)
// buffer, as the gate/up matmul leaves them; the outputs equal the glu kernel's product
// normalized by the plain kernel, bit for bit, on the same target.
TEST_P(NormQuantizeTest, GatedNormEqualsGluThenNorm) {
  for (int64_t width : kWidths)
    for (bool quantize : {false, true}) {
      const char *family = quantize ? "rms_norm_quantize" : "rms_norm";
      const int64_t stride = 2 * width + 3;
      KernelSpec glu{"glu",
                     "glu",
                     {{"width", width}, {"in_stride", stride}},
                     {},
                     {{"activation", "relu2"}}};
      KernelSpec plain{"plain", family, {{"width", width}}, {{"eps", 1e-5}}, {}};
      KernelSpec fused{"fused",
                       family,
                       {{"width", width}, {"gated", 1}, {"in_stride", stride}},
                       {{"eps", 1e-5}},
                       {{"activation", "relu2"}}};
      std::string error;
      auto library = buildAndLoad({glu, plain, fused}, GetParam(), &error);
      ASSERT_TRUE(library) << error;
      std::mt19937 rng(uint32_t(width) + (quantize ? 47 : 53));
      std::vector<float> w = randomFloats(rng, width, 2.0f);
      for (int64_t rows : kRows) {
        SCOPED_TRACE(std::string(family) + " width " + std::to_string(width) + " rows " +
                     std::to_string(rows));
        std::vector<float> gu = randomFloats(rng, rows * stride, 3.0f);
        for (int64_t t = 0; t < rows; ++t) { // zero gates, a negative zero, a tie
          gu[t * stride] = 0.0f;
          if (width > 2) {
            gu[t * stride + 1] = -0.0f;
            gu[t * stride + 2] = 1.5f;
          }
        }
        const float *gate = gu.data(), *up = gu.data() + width;
        std::vector<float> product(rows * width), wantY(rows * width), wantScale(rows);
        std::vector<int8_t> wantQ(rows * width);
        std::vector<void *> gluBindings = {const_cast<float *>(gate), const_cast<float *>(up),
                                           product.data()};
        library->kernel("glu")(gluBindings.data(), rows, 0, 0, 1);
        std::vector<void *> plainBindings = {product.data(), w.data()};
        if (quantize)
          plainBindings.insert(plainBindings.end(), {wantQ.data(), wantScale.data()});
        else
          plainBindings.push_back(wantY.data());
        library->kernel("plain")(plainBindings.data(), rows, 0, 0, 1);

        std::vector<float> y(rows * width), scale(rows);
        std::vector<int8_t> q(rows * width, 99);
        poison(y);
        poison(scale);
        std::vector<void *> bindings = {const_cast<float *>(gate), const_cast<float *>(up),
                                        w.data()};
        if (quantize)
          bindings.insert(bindings.end(), {q.data(), scale.data()});
        else
          bindings.push_back(y.data());
        library->kernel("fused")(bindings.data(), rows, 0, 0, 1);
        if (quantize) {
          EXPECT_EQ(q, wantQ);
          EXPECT_EQ(scale, wantScale);
        } else {
          EXPECT_EQ(y, wantY);
        }
      }
    }
}

TEST(NormCodegen, RejectsGatedNormWithResidualOrOtherActivation) {
  std::string error;
  KernelSpec both{"rn", "rms_norm", {{"width", 64}, {"residual", 1}, {"gated", 1}},
                  {{"eps", 1e-5}}, {{"activation", "relu2"}}};
  EXPECT_FALSE(buildAndLoad({both}, "generic", &error));
  EXPECT_NE(error.find("not both"), std::string::npos) << error;
  KernelSpec silu{"rn", "rms_norm_quantize", {{"width", 64}, {"gated", 1}}, {{"eps", 1e-5}},
                  {{"activation", "silu"}}};
  EXPECT_FALSE(buildAndLoad({silu}, "generic", &error));
  EXPECT_NE(error.find("relu2 only"), std::string::npos) << error;
}

TEST(NormCodegen, RejectsResidualFlagOtherThanZeroOrOne) {
  KernelSpec spec{"rn", "rms_norm", {{"width", 64}, {"residual", 2}}, {{"eps", 1e-5}}, {}};
  std::string error;
  EXPECT_FALSE(buildAndLoad({spec}, "generic", &error));
  EXPECT_NE(error.find("'residual'"), std::string::npos) << error;
}

TEST(NormCodegen, RejectsLayerNormBiasFlagOtherThanZeroOrOne) {
  KernelSpec spec{"ln", "layer_norm", {{"width", 64}, {"bias", 2}}, {{"eps", 1e-5}}, {}};
  std::string error;
  EXPECT_FALSE(buildAndLoad({spec}, "generic", &error));
  EXPECT_NE(error.find("'bias'"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Targets, NormQuantizeTest, ::testing::ValuesIn(runnableTargets()));

} // namespace
} // namespace tern::cpu::test
