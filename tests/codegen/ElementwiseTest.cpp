// Generated add, mul, bias_add, relu, relu2, silu, gelu and glu kernels vs the reference twins.
#include "CodegenTestUtil.h"

#include "reference/ReferenceKernels.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>

namespace tern::cpu::test {
namespace {

const std::vector<int64_t> kWidths = {3, 64, 172, 2560};
const std::vector<int64_t> kRows = {1, 7};

std::string symbolFor(const std::string &family, int64_t width, const std::string &extra = "") {
  return family + extra + "_" + std::to_string(width);
}

KernelSpec makeSpec(const std::string &family, int64_t width) {
  KernelSpec spec;
  spec.symbol = symbolFor(family, width);
  spec.family = family;
  spec.ints = {{"width", width}};
  return spec;
}

// Every elementwise kernel of the test in one library per target: codegen dominates the time.
std::vector<KernelSpec> allSpecs() {
  std::vector<KernelSpec> specs;
  for (int64_t width : kWidths) {
    for (const char *family : {"add", "mul", "relu", "relu2", "silu", "gelu"})
      specs.push_back(makeSpec(family, width));
    for (int64_t stride : {width, 3 * width + 1}) {
      KernelSpec spec = makeSpec("bias_add", width);
      spec.symbol = symbolFor("bias_add", width, "_" + std::to_string(stride));
      spec.ints["x_stride"] = stride; // contiguous, or one of three fused projections + padding
      specs.push_back(spec);
    }
    for (const char *activation : {"silu", "relu2", "gelu"}) {
      KernelSpec spec = makeSpec("glu", width);
      spec.symbol = symbolFor("glu", width, std::string("_") + activation);
      spec.ints["in_stride"] = 2 * width + 5; // gate and up interleaved per row, plus padding
      spec.strings["activation"] = activation;
      specs.push_back(spec);
    }
  }
  return specs;
}

class ElementwiseTest : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    std::string error;
    library = buildAndLoad(allSpecs(), GetParam(), &error);
    ASSERT_TRUE(library) << error;
  }
  tern_cpu_kernel_fn kernel(const std::string &symbol) {
    tern_cpu_kernel_fn fn = library->kernel(symbol);
    EXPECT_TRUE(fn) << symbol << " is not exported";
    return fn;
  }
  std::unique_ptr<LoadedLibrary> library;
};

// |tolerance| 0 asks for bit-identical results. Otherwise the error is relative to the result,
// with a floor of 1e-9 |x|: the reference's gelu forms 1 + tanh(u) in double, which for
// strongly negative x is itself off by about |x| 2^-53, far more than 1e-5 of the tiny result.
void expectMatches(const std::vector<float> &got, const std::vector<float> &want,
                   const std::vector<float> &x, double tolerance, const std::string &what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (tolerance == 0)
      ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0)
          << what << " at " << i << ": " << got[i] << " vs " << want[i];
    else
      ASSERT_TRUE(closeRelative(got[i], want[i],
                                std::max(std::fabs(double(want[i])), 1e-9 * std::fabs(x[i])),
                                tolerance))
          << what << " at " << i << ": " << got[i] << " vs " << want[i] << " for " << x[i];
  }
}

TEST_P(ElementwiseTest, AddAndMulMatchReferenceExactly) {
  std::mt19937 rng(7);
  for (int64_t width : kWidths)
    for (int64_t rows : kRows) {
      const int64_t n = rows * width;
      std::vector<float> a = randomFloats(rng, n, 4.0f), b = randomFloats(rng, n, 4.0f);
      std::vector<float> want(n), got(n);
      for (const std::string family : {"add", "mul"}) {
        std::string what = family + " width " + std::to_string(width) + " rows " +
                           std::to_string(rows);
        (family == "add" ? ref::add : ref::mul)(a.data(), b.data(), n, want.data());
        poison(got);
        kernel(symbolFor(family, width))(std::vector<void *>{a.data(), b.data(), got.data()}.data(),
                                         rows, 0, 0, 1);
        expectMatches(got, want, a, 0, what);
        // In place: out aliases a.
        std::vector<float> inPlace = a;
        kernel(symbolFor(family, width))(
            std::vector<void *>{inPlace.data(), b.data(), inPlace.data()}.data(), rows, 0, 0, 1);
        expectMatches(inPlace, want, a, 0, what + " in place");
      }
    }
}

using UnaryReference = void (*)(const float *, int64_t, float *);

void checkUnary(tern_cpu_kernel_fn fn, UnaryReference reference,
                int64_t width, int64_t rows, double tolerance, const std::string &what,
                std::mt19937 &rng) {
  const int64_t n = rows * width;
  std::vector<float> x = randomFloats(rng, n, 8.0f);
  x[0] = 0.0f; // the boundary of relu2 and the center of the sigmoids
  std::vector<float> want(n), got(n);
  reference(x.data(), n, want.data());
  poison(got);
  fn(std::vector<void *>{x.data(), got.data()}.data(), rows, 0, 0, 1);
  expectMatches(got, want, x, tolerance, what);
  std::vector<float> inPlace = x;
  fn(std::vector<void *>{inPlace.data(), inPlace.data()}.data(), rows, 0, 0, 1);
  expectMatches(inPlace, want, x, tolerance, what + " in place");
}

TEST_P(ElementwiseTest, ActivationsMatchReference) {
  std::mt19937 rng(11);
  for (int64_t width : kWidths)
    for (int64_t rows : kRows) {
      std::string shape = " width " + std::to_string(width) + " rows " + std::to_string(rows);
      checkUnary(kernel(symbolFor("relu", width)), ref::relu, width, rows, 0,
                 "relu" + shape, rng);
      checkUnary(kernel(symbolFor("relu2", width)), ref::relu2, width, rows, 0,
                 "relu2" + shape, rng);
      checkUnary(kernel(symbolFor("silu", width)), ref::silu, width, rows, 1e-5,
                 "silu" + shape, rng);
      checkUnary(kernel(symbolFor("gelu", width)), ref::gelu, width, rows, 1e-5,
                 "gelu" + shape, rng);
    }
}

TEST_P(ElementwiseTest, ActivationsHandleLargeMagnitudes) {
  // exp(-x) overflows for very negative x: the result must be the signed-zero limit, not NaN.
  const int64_t width = 64;
  std::vector<float> x(width);
  for (int64_t i = 0; i < width; ++i)
    x[i] = (i % 2 ? 1.0f : -1.0f) * float(i) * 3.0f;
  x[1] = 1e30f;
  x[2] = -1e30f;
  for (const std::string family : {"silu", "gelu"}) {
    std::vector<float> got(width);
    poison(got);
    kernel(symbolFor(family, width))(std::vector<void *>{x.data(), got.data()}.data(), 1, 0, 0, 1);
    std::vector<float> want(width);
    (family == "silu" ? ref::silu : ref::gelu)(x.data(), width, want.data());
    for (int64_t i = 0; i < width; ++i) {
      ASSERT_FALSE(std::isnan(got[i])) << family << " of " << x[i];
      ASSERT_NEAR(got[i], want[i], 1e-5 * std::max(std::fabs(want[i]), 1e-9f * std::fabs(x[i])))
          << family << " of " << x[i];
    }
  }
}

TEST_P(ElementwiseTest, ReluMapsNegativeZeroAndNaNToPositiveZero) {
  const int64_t width = 64;
  std::vector<float> x = {-0.0f, std::numeric_limits<float>::quiet_NaN(), 1e-45f, -1e-45f,
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()};
  x.resize(width, -0.0f);
  std::vector<float> want(width), got(width);
  ref::relu(x.data(), width, want.data());
  poison(got);
  kernel(symbolFor("relu", width))(std::vector<void *>{x.data(), got.data()}.data(), 1, 0, 0, 1);
  expectMatches(got, want, x, 0, "relu of special values");
  EXPECT_EQ(std::signbit(got[0]), false);
  EXPECT_EQ(got[1], 0.0f);
}

TEST_P(ElementwiseTest, BiasAddMatchesReferenceExactly) {
  std::mt19937 rng(17);
  for (int64_t width : kWidths)
    for (int64_t rows : kRows)
      for (int64_t stride : {width, 3 * width + 1}) {
        const std::string what = "bias_add width " + std::to_string(width) + " rows " +
                                 std::to_string(rows) + " stride " + std::to_string(stride);
        // x: the middle projection of a fused (rows, stride) output when strided.
        const int64_t offset = stride == width ? 0 : width;
        std::vector<float> fused = randomFloats(rng, rows * stride, 4.0f);
        std::vector<float> bias = randomFloats(rng, width, 2.0f);
        std::vector<float> compact(rows * width);
        for (int64_t t = 0; t < rows; ++t)
          std::memcpy(&compact[t * width], &fused[t * stride + offset], width * 4);
        std::vector<float> want(rows * width), got(rows * width);
        ref::biasAdd(compact.data(), bias.data(), rows, width, want.data());
        poison(got);
        tern_cpu_kernel_fn fn = kernel(symbolFor("bias_add", width, "_" + std::to_string(stride)));
        fn(std::vector<void *>{fused.data() + offset, bias.data(), got.data()}.data(), rows, 0, 0,
           1);
        expectMatches(got, want, compact, 0, what);
        if (stride == width) { // in place: out aliases x, as tern-plan-memory may plan it
          fn(std::vector<void *>{fused.data(), bias.data(), fused.data()}.data(), rows, 0, 0, 1);
          expectMatches(fused, want, compact, 0, what + " in place");
        }
      }
}

TEST_P(ElementwiseTest, GluMatchesActivationTimesUp) {
  std::mt19937 rng(13);
  const std::vector<std::pair<std::string, UnaryReference>> activations = {
      {"silu", ref::silu}, {"relu2", ref::relu2}, {"gelu", ref::gelu}};
  for (int64_t width : kWidths)
    for (int64_t rows : kRows)
      for (const auto &[activation, reference] : activations) {
        const int64_t stride = 2 * width + 5;
        std::vector<float> fused = randomFloats(rng, rows * stride, 6.0f);
        float *gate = fused.data();       // (rows, width), row stride `stride`
        float *up = fused.data() + width; // (rows, width), row stride `stride`
        std::vector<float> compactGate(rows * width), compactUp(rows * width);
        for (int64_t t = 0; t < rows; ++t) {
          std::memcpy(&compactGate[t * width], gate + t * stride, width * 4);
          std::memcpy(&compactUp[t * width], up + t * stride, width * 4);
        }
        std::vector<float> want(rows * width), got(rows * width);
        reference(compactGate.data(), rows * width, want.data());
        ref::mul(want.data(), compactUp.data(), rows * width, want.data());
        poison(got);
        kernel(symbolFor("glu", width, "_" + activation))(
            std::vector<void *>{gate, up, got.data()}.data(), rows, 0, 0, 1);
        expectMatches(got, want, compactGate, activation == "relu2" ? 0 : 1e-5,
                      "glu " + activation + " width " + std::to_string(width) + " rows " +
                          std::to_string(rows));
      }
}

TEST(ElementwiseCodegen, RejectsUnknownActivation) {
  KernelSpec spec = makeSpec("glu", 64);
  spec.strings["activation"] = "swish";
  std::string error;
  EXPECT_FALSE(buildAndLoad({spec}, "generic", &error));
  EXPECT_NE(error.find("activation"), std::string::npos) << error;
  EXPECT_NE(error.find("swish"), std::string::npos) << error;
}

TEST(ElementwiseCodegen, RejectsBiasAddStrideBelowWidth) {
  KernelSpec spec = makeSpec("bias_add", 64);
  spec.ints["x_stride"] = 32;
  std::string error;
  EXPECT_FALSE(buildAndLoad({spec}, "generic", &error));
  EXPECT_NE(error.find("x_stride"), std::string::npos) << error;
}

TEST(ElementwiseCodegen, RejectsNonPositiveWidth) {
  std::string error;
  EXPECT_FALSE(buildAndLoad({makeSpec("add", 0)}, "generic", &error));
  EXPECT_NE(error.find("width"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Targets, ElementwiseTest, ::testing::ValuesIn(runnableTargets()));

} // namespace
} // namespace tern::cpu::test
