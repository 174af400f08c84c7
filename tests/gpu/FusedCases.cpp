// Cases for ternary_matmul_rms_norm_quantize: the 2B-4T projections whose result a norm reads
// at decode (o_proj and down_proj with the residual add, gate/up with the gated product, one
// plain norm), more rows than one, and odd widths that take the norm's single-float path. As
// in a program, the norm's input is bound as a view of the matmul's output, so the block that
// normalizes must see what every other block wrote. The scales are powers of two, which makes
// the matmul's output the reference's bit for bit, so the codes can be compared exactly. Then
// attention_rms_norm_quantize: the 2B-4T attention at decode and a small one with rows.
#include "tests/gpu/KernelCases.h"

#include "FusedKernelSpecs.h"

#include <cmath>

namespace tern::gpu::test {

namespace {

enum class NormInput { Plain, Residual, ResidualSummedInPlace, Gated };

struct Shape {
  int64_t n, k, rows, maxRows;
  NormInput input;
};

KernelCase fusedCase(std::mt19937 &rng, const Shape &s) {
  KernelCase c = ternaryMatmulCase(rng, s.n, s.k, s.rows, s.maxRows, false, true);
  const bool gated = s.input == NormInput::Gated;
  const bool residual = s.input == NormInput::Residual || s.input == NormInput::ResidualSummedInPlace;
  const int64_t width = gated ? s.n / 2 : s.n;
  const char *inputs[] = {"plain", "residual", "residual summed in place", "gated"};
  c.spec.family = kTernaryMatmulNormFamily;
  c.spec.symbol = "fused_" + std::to_string(s.n) + "x" + std::to_string(s.k) + "_r" +
                  std::to_string(s.rows) + "_" + std::to_string(int(s.input));
  c.name = std::string(kTernaryMatmulNormFamily) + " " + std::to_string(s.n) + "x" +
           std::to_string(s.k) + " rows " + std::to_string(s.rows) + ", " + inputs[int(s.input)];
  c.spec.ints["width"] = width;
  c.spec.floats["eps"] = 1e-5;
  if (residual)
    c.spec.ints["residual"] = 1;
  if (gated) {
    c.spec.ints["gated"] = 1;
    c.spec.ints["in_stride"] = s.n;
    c.spec.strings["activation"] = "relu2";
  }
  const size_t elements = size_t(s.rows * width);
  // x (or the gate), a view of the matmul's output y (binding 4); then the residual or up.
  c.views.push_back({5, 4, 0});
  c.bindings.emplace_back();
  if (residual) {
    c.bindings.push_back(randomF32Bytes(rng, elements, 4.0f));
  } else if (gated) {
    c.views.push_back({6, 4, size_t(width) * 4});
    c.bindings.emplace_back();
  }
  c.bindings.push_back(randomF32Bytes(rng, size_t(width), 2.0f));
  const int q = int(c.bindings.size());
  c.bindings.push_back(poisonedBytes(elements));
  c.bindings.push_back(poisonedBytes(size_t(s.rows) * 4));
  c.outputs.push_back({q, Compare::Exact});
  c.outputs.push_back({q + 1, Compare::Exact});
  if (s.input == NormInput::Residual) {
    c.bindings.push_back(poisonedBytes(elements * 4));
    c.outputs.push_back({int(c.bindings.size()) - 1, Compare::Exact});
  } else if (s.input == NormInput::ResidualSummedInPlace) {
    c.views.push_back({int(c.bindings.size()), 6, 0}); // the sum overwrites the residual
    c.bindings.emplace_back();
    c.outputs.push_back({6, Compare::Exact});
  }
  // The counter starts at zero and must be left at zero for the next dispatch.
  c.bindings.push_back(std::vector<uint8_t>(4, 0));
  c.outputs.push_back({int(c.bindings.size()) - 1, Compare::Exact});
  return c;
}

// attention, then the sub-norm of its output (x a view of it). The attention's output is
// within float tolerance of the reference's (ex2.approx), so the norm's codes may sit a
// rounding step away: at most 1 apart, and rarely.
KernelCase attentionNormCase(std::mt19937 &rng, int64_t heads, int64_t kvHeads, int64_t headDim,
                             int64_t context, int64_t rows, int64_t pos, int64_t maxRows) {
  const int64_t width = heads * headDim, cacheWidth = kvHeads * headDim;
  KernelCase c;
  c.spec.family = kAttentionNormFamily;
  c.spec.symbol = "fused_attention_" + std::to_string(heads) + "x" + std::to_string(headDim) +
                  "_r" + std::to_string(rows) + "_p" + std::to_string(pos);
  c.name = std::string(kAttentionNormFamily) + " " + std::to_string(heads) + "/" +
           std::to_string(kvHeads) + "x" + std::to_string(headDim) + " rows " +
           std::to_string(rows) + " pos " + std::to_string(pos);
  c.spec.ints = {{"heads", heads}, {"kv_heads", kvHeads}, {"head_dim", headDim},
                 {"q_stride", width}, {"context", context}, {"width", width}};
  c.spec.floats = {{"scale", 1.0 / std::sqrt(double(headDim))}, {"eps", 1e-5}};
  c.rows = rows;
  c.pos = pos;
  c.maxRows = maxRows;
  c.bindings = {randomF32Bytes(rng, size_t(rows * width), 2.0f),
                randomF32Bytes(rng, size_t(context * cacheWidth), 1.0f),
                randomF32Bytes(rng, size_t(context * cacheWidth), 1.0f),
                poisonedBytes(size_t(rows * width) * 4)};
  c.views.push_back({4, 3, 0});
  c.bindings.emplace_back();
  c.bindings.push_back(randomF32Bytes(rng, size_t(width), 2.0f));
  c.bindings.push_back(poisonedBytes(size_t(rows * width)));
  c.bindings.push_back(poisonedBytes(size_t(rows) * 4));
  c.bindings.push_back(std::vector<uint8_t>(4, 0));
  c.outputs = {{3, Compare::Float32, 1e-5},
               {6, Compare::Codes, 0.01},
               {7, Compare::Float32, 1e-5},
               {8, Compare::Exact}};
  return c;
}

} // namespace

std::vector<KernelCase> fusedCases(std::mt19937 &rng) {
  const Shape shapes[] = {
      {2560, 2560, 1, 1, NormInput::Residual},              // o_proj, then the FFN norm
      {2560, 6912, 1, 1, NormInput::ResidualSummedInPlace}, // down_proj, the next layer's norm
      {13824, 2560, 1, 1, NormInput::Gated},                // gate/up, then the FFN sub-norm
      {2560, 2560, 1, 1, NormInput::Plain},
      {40, 256, 3, 4, NormInput::Residual}, // rows: the one block normalizes each
      {72, 128, 2, 2, NormInput::Gated},
      {37, 100, 1, 1, NormInput::Plain}, // odd width: the norm's single-float path
      {37, 100, 2, 8, NormInput::ResidualSummedInPlace},
  };
  std::vector<KernelCase> cases;
  for (const Shape &s : shapes)
    cases.push_back(fusedCase(rng, s));
  cases.push_back(attentionNormCase(rng, 20, 5, 128, 4096, 1, 1000, 1)); // 2B-4T decode
  cases.push_back(attentionNormCase(rng, 20, 5, 128, 4096, 1, 0, 1));    // first token
  cases.push_back(attentionNormCase(rng, 8, 4, 8, 256, 3, 11, 8));       // rows, small heads
  return cases;
}

} // namespace tern::gpu::test
