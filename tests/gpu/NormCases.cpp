// Cases for rms_norm, rms_norm_quantize (also with a fused residual add or glu), layer_norm and
// quantize_act: the 2B-4T widths (2560 hidden, 6912 FFN), GPT-2's 768, decode and prefill rows,
// and odd widths that take the kernels' single-float path.
#include "tests/gpu/KernelCases.h"

namespace tern::gpu::test {

namespace {

struct Shape {
  int64_t width, rows, maxRows;
};

// A row of activations with a wide range of magnitudes: one row in |tinyEvery| is scaled far
// below 1e-5 so quantize_act's floor on max|x| is exercised.
std::vector<uint8_t> activations(std::mt19937 &rng, int64_t rows, int64_t width,
                                 int64_t tinyEvery = 0) {
  std::vector<float> values(size_t(rows * width));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::uniform_real_distribution<float> rowScale(0.05f, 8.0f);
  for (int64_t t = 0; t < rows; ++t) {
    const float scale = tinyEvery && t % tinyEvery == tinyEvery - 1 ? 1e-7f : rowScale(rng);
    for (int64_t i = 0; i < width; ++i)
      values[size_t(t * width + i)] = dist(rng) * scale;
  }
  return bytesOf(values);
}

} // namespace

std::vector<KernelCase> normCases(std::mt19937 &rng) {
  std::vector<KernelCase> cases;
  const Shape shapes[] = {
      {2560, 1, 64}, // decode, hidden width
      {2560, 7, 64}, // short prefill
      {6912, 64, 64}, // FFN width, a full prefill
      {6912, 1, 1},   // decode entry point
      {1001, 5, 8},   // odd width: single-float path
      {36, 3, 4},     // smaller than a warp's chunks
  };
  for (const char *family : {"rms_norm", "rms_norm_quantize", "quantize_act"}) {
    const std::string name = family;
    for (const Shape &s : shapes) {
      KernelCase c;
      c.spec.family = family;
      c.spec.symbol = "norm_" + name + "_" + std::to_string(s.width) + "_" + std::to_string(s.rows);
      c.spec.ints["width"] = s.width;
      if (name != "quantize_act")
        c.spec.floats["eps"] = s.width == 2560 ? 1e-5 : 1e-6;
      c.rows = s.rows;
      c.maxRows = s.maxRows;
      c.name = name + " width " + std::to_string(s.width) + " rows " + std::to_string(s.rows);
      const size_t elements = size_t(s.rows * s.width);
      std::vector<uint8_t> x = activations(rng, s.rows, s.width, name == "quantize_act" ? 3 : 0);
      if (name == "rms_norm") {
        c.bindings = {x, randomF32Bytes(rng, size_t(s.width), 2.0f), poisonedBytes(elements * 4)};
        c.outputs = {{2, Compare::Float32, 1e-6}};
      } else if (name == "rms_norm_quantize") {
        c.bindings = {x, randomF32Bytes(rng, size_t(s.width), 2.0f), poisonedBytes(elements),
                      poisonedBytes(size_t(s.rows) * 4)};
        // Codes feed exact integer matmuls and the scale divides their results: both must be
        // the reference's bit for bit.
        c.outputs = {{2, Compare::Exact}, {3, Compare::Exact}};
      } else {
        c.bindings = {x, poisonedBytes(elements), poisonedBytes(size_t(s.rows) * 4)};
        c.outputs = {{1, Compare::Exact}, {2, Compare::Exact}};
      }
      cases.push_back(std::move(c));
    }
  }
  // rms_norm and rms_norm_quantize with a fused second input (bindings x, residual | up, w,
  // outputs[, sum]). With a residual, the sum is the add family's f32 addition, bit for bit.
  // Gated (relu2(gate) * up), gate and up are column slices of the gate/up matmul output, row
  // stride in_stride (2 * 6912 in 2B-4T; an odd stride misaligns the rows and takes the
  // single-float path).
  auto fusedInputCase = [&](const std::string &family, const Shape &s, bool gated) {
    const int64_t stride = !gated ? s.width : s.width % 4 ? 2 * s.width + 1 : 2 * s.width;
    const std::string size = std::to_string(s.width) + "_" + std::to_string(s.rows);
    KernelCase c;
    c.spec.family = family;
    c.spec.symbol = (gated ? "norm_gated_" : "norm_residual_") + family + "_" + size;
    c.spec.ints["width"] = s.width;
    if (gated) {
      c.spec.ints["gated"] = 1;
      c.spec.ints["in_stride"] = stride;
      c.spec.strings["activation"] = "relu2";
    } else {
      c.spec.ints["residual"] = 1;
    }
    c.spec.floats["eps"] = 1e-5;
    c.rows = s.rows;
    c.maxRows = s.maxRows;
    c.name = family + (gated ? " gated" : " with residual") + " width " +
             std::to_string(s.width) + " rows " + std::to_string(s.rows);
    const size_t elements = size_t(s.rows * s.width);
    c.bindings = {activations(rng, s.rows, stride), activations(rng, s.rows, stride),
                  randomF32Bytes(rng, size_t(s.width), 2.0f)};
    if (family == "rms_norm") {
      c.bindings.push_back(poisonedBytes(elements * 4));
      c.outputs = {{3, Compare::Float32, 1e-6}};
    } else {
      c.bindings.push_back(poisonedBytes(elements));
      c.bindings.push_back(poisonedBytes(size_t(s.rows) * 4));
      c.outputs = {{3, Compare::Exact}, {4, Compare::Exact}};
    }
    if (!gated) {
      c.bindings.push_back(poisonedBytes(elements * 4));
      c.outputs.push_back({int(c.bindings.size()) - 1, Compare::Exact});
    }
    cases.push_back(std::move(c));
  };
  const Shape residualShapes[] = {{2560, 1, 64}, {2560, 7, 64}, {1001, 5, 8}, {36, 3, 4}};
  const Shape gatedShapes[] = {{6912, 1, 64}, {6912, 5, 64}, {1001, 3, 8}, {36, 2, 4}};
  for (const char *family : {"rms_norm", "rms_norm_quantize"})
    for (const Shape &s : residualShapes)
      fusedInputCase(family, s, false);
  for (const char *family : {"rms_norm", "rms_norm_quantize"})
    for (const Shape &s : gatedShapes)
      fusedInputCase(family, s, true);
  // layer_norm (GPT-2, OPT): with and without a bias; rows offset far from zero, whose spread
  // a one-pass variance would lose.
  const Shape layerShapes[] = {
      {768, 1, 64}, {768, 64, 64}, {2560, 7, 64}, {1001, 5, 8}, {36, 3, 4}};
  int index = 0;
  for (const Shape &s : layerShapes)
    for (bool bias : {true, false}) {
      KernelCase c;
      c.spec.family = "layer_norm";
      c.spec.symbol = "norm_layer_norm_" + std::to_string(index++);
      c.spec.ints["width"] = s.width;
      c.spec.ints["bias"] = bias ? 1 : 0;
      c.spec.floats["eps"] = 1e-5;
      c.rows = s.rows;
      c.maxRows = s.maxRows;
      c.name = "layer_norm width " + std::to_string(s.width) + " rows " + std::to_string(s.rows) +
               (bias ? " with bias" : "");
      std::vector<float> x(size_t(s.rows * s.width));
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      for (int64_t t = 0; t < s.rows; ++t) {
        const float offset = t % 2 ? 100.0f : 0.0f;
        for (int64_t i = 0; i < s.width; ++i)
          x[size_t(t * s.width + i)] = offset + dist(rng) * (t % 2 ? 0.1f : 4.0f);
      }
      c.bindings = {bytesOf(x), randomF32Bytes(rng, size_t(s.width), 2.0f)};
      if (bias)
        c.bindings.push_back(randomF32Bytes(rng, size_t(s.width), 1.0f));
      c.bindings.push_back(poisonedBytes(size_t(s.rows * s.width) * 4));
      c.outputs = {{int(c.bindings.size()) - 1, Compare::Float32, 1e-6}};
      cases.push_back(std::move(c));
    }
  return cases;
}

} // namespace tern::gpu::test
