// Cases for ternary_matmul, matmul and quantized_matmul: the 2B-4T shapes (fused QKV, o_proj,
// fused gate/up, down_proj, the lm_head) at decode, some at prefill, and small odd shapes that
// exercise the tails (k not a multiple of 128 / 16 / 64, n not a multiple of a block's rows).
#include "tests/gpu/KernelCases.h"

#include "codegen/GPU/GPUCodegen.h"

#include "packing/QuantizedPacking.h"
#include "packing/TernaryPacking.h"

#include <cstring>

namespace tern::gpu::test {
namespace {

constexpr int64_t kMaxPrefillRows = 128;

std::string shapeName(int64_t n, int64_t k) {
  return std::to_string(n) + "x" + std::to_string(k);
}

// int8 activations as quantize_act writes them: codes in [-127, 127] and a positive scale
// (127 / max|x|) per row.
void addActivations(std::mt19937 &rng, KernelCase &c, int64_t k) {
  std::uniform_int_distribution<int> code(-127, 127);
  std::vector<int8_t> q(size_t(c.rows * k));
  for (int8_t &v : q)
    v = int8_t(code(rng));
  std::uniform_real_distribution<float> scale(0.5f, 60.0f);
  std::vector<float> qscale(size_t(c.rows));
  for (float &s : qscale)
    s = scale(rng);
  c.bindings.push_back(bytesOf(q));
  c.bindings.push_back(bytesOf(qscale));
}

KernelCase ternaryCase(std::mt19937 &rng, int64_t n, int64_t k, int64_t rows, int64_t maxRows,
                       bool divide) {
  KernelCase c;
  c.spec.family = "ternary_matmul";
  c.spec.symbol = "tmm_" + shapeName(n, k) + "_r" + std::to_string(rows) + (divide ? "_div" : "");
  c.spec.ints = {{"n", n}, {"k", k}, {"n_block", 1}, {"divide_by_scale", divide ? 1 : 0}};
  c.spec.strings["packing"] = "i2_b128";
  c.rows = rows;
  c.maxRows = maxRows;
  c.name = "ternary_matmul " + shapeName(n, k) + " rows " + std::to_string(rows) +
           (divide ? " divide_by_scale" : "");
  addActivations(rng, c, k);
  std::uniform_int_distribution<int> ternary(-1, 1);
  std::vector<int8_t> w(size_t(n * k));
  for (int8_t &v : w)
    v = int8_t(ternary(rng));
  std::vector<uint8_t> packed(
      size_t(packing::packedBytes(packing::TernaryLayout::I2B128, n, k)));
  packing::packTernary(packing::TernaryLayout::I2B128, w.data(), n, k, packed.data());
  c.bindings.push_back(std::move(packed));
  std::uniform_real_distribution<float> wscale(0.25f, 4.0f);
  std::vector<float> ws(static_cast<size_t>(n));
  for (float &v : ws)
    v = wscale(rng);
  c.bindings.push_back(bytesOf(ws));
  c.bindings.push_back(poisonedBytes(size_t(rows * n * 4)));
  // The dot is exact; only the two scale operations round (the reference rounds once).
  c.outputs = {{4, Compare::Float32, 1e-6}};
  return c;
}

// Random weight bytes of one dtype: f32 / f16 / bf16 values in about [-1, 1], q8_0 blocks with
// small positive f16 scales and codes in [-127, 127].
std::vector<uint8_t> floatWeights(std::mt19937 &rng, const std::string &dtype, int64_t n,
                                  int64_t k) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  const size_t count = size_t(n * k);
  if (dtype == "f32")
    return randomF32Bytes(rng, count, 1.0f);
  if (dtype == "q8_0") {
    std::vector<uint8_t> bytes;
    std::uniform_int_distribution<int> code(-127, 127);
    std::uniform_real_distribution<float> scale(0.001f, 0.02f);
    for (size_t b = 0; b < count / 32; ++b) {
      const uint16_t d = packing::floatToHalfBits(scale(rng));
      bytes.push_back(uint8_t(d & 0xff));
      bytes.push_back(uint8_t(d >> 8));
      for (int i = 0; i < 32; ++i)
        bytes.push_back(uint8_t(int8_t(code(rng))));
    }
    return bytes;
  }
  std::vector<uint16_t> halves(count);
  if (count > (size_t(1) << 26)) {
    // The lm_head: raw bits straight from the generator (sign, a few exponents around 2^-2,
    // any mantissa), ten times faster than converting floats.
    for (size_t i = 0; i < count; i += 2) {
      const uint32_t r = rng();
      const uint16_t lo = uint16_t((r & 0x87ff) | 0x3000), hi = uint16_t(((r >> 16) & 0x87ff) | 0x3000);
      halves[i] = dtype == "f16" ? lo : uint16_t(0x3e00 | (lo & 0x81ff));
      if (i + 1 < count)
        halves[i + 1] = dtype == "f16" ? hi : uint16_t(0x3e00 | (hi & 0x81ff));
    }
    return bytesOf(halves);
  }
  for (uint16_t &h : halves) {
    const float v = value(rng);
    if (dtype == "f16") {
      h = packing::floatToHalfBits(v);
    } else {
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      h = uint16_t(bits >> 16); // bf16: the top half
    }
  }
  return bytesOf(halves);
}

KernelCase matmulCase(std::mt19937 &rng, const std::string &dtype, int64_t n, int64_t k,
                      int64_t xStride, int64_t rows, int64_t maxRows) {
  KernelCase c;
  c.spec.family = "matmul";
  c.spec.symbol = "mm_" + dtype + "_" + shapeName(n, k) + "_s" + std::to_string(xStride) + "_r" +
                  std::to_string(rows);
  c.spec.ints = {{"n", n}, {"k", k}, {"n_block", 1}, {"x_stride", xStride}};
  c.spec.strings["dtype"] = dtype;
  c.rows = rows;
  c.maxRows = maxRows;
  c.name = "matmul " + dtype + " " + shapeName(n, k) + " x_stride " + std::to_string(xStride) +
           " rows " + std::to_string(rows);
  c.bindings.push_back(randomF32Bytes(rng, size_t((rows - 1) * xStride + k), 2.0f));
  c.bindings.push_back(floatWeights(rng, dtype, n, k));
  c.bindings.push_back(poisonedBytes(size_t(rows * n * 4)));
  c.outputs = {{2, Compare::Float32, 2e-5}};
  return c;
}

KernelCase quantizedCase(std::mt19937 &rng, packing::QuantFormat format, int64_t n, int64_t k,
                         int64_t rows, int64_t maxRows) {
  const std::string name = packing::quantFormatName(format);
  KernelCase c;
  c.spec.family = "quantized_matmul";
  c.spec.symbol = "qmm_" + name + "_" + shapeName(n, k) + "_r" + std::to_string(rows);
  c.spec.ints = {{"n", n}, {"k", k}, {"n_block", 1}};
  c.spec.strings["format"] = name;
  c.rows = rows;
  c.maxRows = maxRows;
  c.name = "quantized_matmul " + name + " " + shapeName(n, k) + " rows " + std::to_string(rows);
  addActivations(rng, c, k);
  std::vector<uint8_t> packed(size_t(packing::quantPackedBytes(format, n, k)));
  if (n * k > (int64_t(1) << 26)) {
    // The lm_head: random bytes in the layout (every q4 / q6 byte is a valid pair of codes;
    // q8 codes avoid -128) and random finite positive f16 scales, instead of quantizing 1.3 GB
    // of floats. The small cases below go through the quantizer.
    const int64_t scaleOffset = packing::quantScaleOffset(format, n, k);
    for (int64_t i = 0; i < scaleOffset; i += 4) {
      uint32_t r = rng();
      for (int64_t j = 0; j < 4 && i + j < scaleOffset; ++j, r >>= 8) {
        uint8_t byte = uint8_t(r);
        if (format == packing::QuantFormat::Q8B32 && byte == 0x80)
          byte = 0x81;
        packed[size_t(i + j)] = byte;
      }
    }
    std::uniform_real_distribution<float> scale(0.001f, 0.05f);
    auto *scales = reinterpret_cast<uint16_t *>(packed.data() + scaleOffset);
    for (int64_t i = 0; i < n * (k / packing::kQuantBlock); ++i)
      scales[i] = packing::floatToHalfBits(scale(rng));
  } else {
    std::vector<float> w(size_t(n * k));
    std::normal_distribution<float> value(0.0f, 0.05f);
    for (float &v : w)
      v = value(rng);
    packing::quantizeMatrix(format, w.data(), n, k, packed.data());
  }
  c.bindings.push_back(std::move(packed));
  c.bindings.push_back(poisonedBytes(size_t(rows * n * 4)));
  // Exact block dots; the sum over blocks is f32 here and double in the reference.
  c.outputs = {{3, Compare::Float32, 1e-5}};
  return c;
}

} // namespace

std::vector<KernelCase> matmulCases(std::mt19937 &rng) {
  std::vector<KernelCase> cases;
  const int64_t P = kMaxPrefillRows;

  // ternary_matmul: the 2B-4T projections at decode; two at prefill; odd shapes.
  bool divide = false;
  for (auto [n, k] : {std::pair<int64_t, int64_t>{3840, 2560}, {2560, 2560}, {13824, 2560},
                      {2560, 6912}}) {
    cases.push_back(ternaryCase(rng, n, k, 1, P, divide));
    divide = !divide;
  }
  cases.push_back(ternaryCase(rng, 3840, 2560, 128, P, false));
  cases.push_back(ternaryCase(rng, 2560, 6912, 64, P, true));
  cases.push_back(ternaryCase(rng, 37, 100, 1, 8, false));   // k % 16 != 0: byte staging
  cases.push_back(ternaryCase(rng, 37, 100, 5, 8, true));
  cases.push_back(ternaryCase(rng, 130, 384, 5, 64, false)); // rows beyond a tile's last
  cases.push_back(ternaryCase(rng, 200, 1408, 13, 16, false));
  cases.push_back(ternaryCase(rng, 64, 128, 1, 1, true));
  // k % 16 == 0 but not % 128: a one-row lane's last pieces lie past k, and two lanes of
  // each group have no third chunk.
  cases.push_back(ternaryCase(rng, 75, 1360, 1, 1, false));
  // Prefill on tensor cores (k a multiple of 128): row tiles of 64 with a partial last one,
  // fewer weight rows than one tile, a single row at a prefill entry point.
  cases.push_back(ternaryCase(rng, 13824, 2560, 77, 128, false));
  cases.push_back(ternaryCase(rng, 8, 256, 3, 4, true));
  cases.push_back(ternaryCase(rng, 2560, 2560, 1, 64, false));

  // matmul: the f16 lm_head at decode; prefill tiles; every dtype and the scalar-load tails.
  cases.push_back(matmulCase(rng, "f16", 128256, 2560, 2560, 1, 1));
  cases.push_back(matmulCase(rng, "f16", 1000, 2560, 2560, 64, P));
  cases.push_back(matmulCase(rng, "f32", 19, 37, 45, 1, 8));  // k odd: one float per chunk
  cases.push_back(matmulCase(rng, "f32", 19, 37, 45, 5, 8));
  cases.push_back(matmulCase(rng, "f32", 70, 256, 384, 9, 16));
  cases.push_back(matmulCase(rng, "f16", 100, 96, 96, 1, 8));
  cases.push_back(matmulCase(rng, "f16", 100, 96, 96, 5, 8));
  cases.push_back(matmulCase(rng, "f16", 33, 130, 130, 3, 4)); // k % 4 == 2
  cases.push_back(matmulCase(rng, "bf16", 33, 130, 131, 3, 4));
  cases.push_back(matmulCase(rng, "bf16", 300, 512, 512, 1, 32));
  cases.push_back(matmulCase(rng, "bf16", 300, 512, 512, 32, 32));
  cases.push_back(matmulCase(rng, "q8_0", 50, 96, 96, 1, 8));
  cases.push_back(matmulCase(rng, "q8_0", 50, 96, 100, 7, 8));
  cases.push_back(matmulCase(rng, "f16", 7, 3, 3, 2, 2)); // k < 8: one half per chunk

  // quantized_matmul: the lm_head at decode in each format; small shapes through the packer.
  for (auto format : {packing::QuantFormat::Q8B32, packing::QuantFormat::Q6B32,
                      packing::QuantFormat::Q4B32}) {
    cases.push_back(quantizedCase(rng, format, 128256, 2560, 1, 1));
    cases.push_back(quantizedCase(rng, format, 37, 96, 1, 8)); // k % 64 == 32: half a group
    cases.push_back(quantizedCase(rng, format, 37, 96, 5, 8));
    cases.push_back(quantizedCase(rng, format, 300, 2560, 64, P));
    cases.push_back(quantizedCase(rng, format, 64, 4128, 3, 4)); // odd block count, many slices
  }

  // The one-row variants (parameter one_row, which decode's and prefill's last-row dispatches
  // run) of every one-row case, launched as a decode entry point launches them.
  const size_t general = cases.size();
  for (size_t i = 0; i < general; ++i) {
    if (cases[i].rows != 1)
      continue;
    KernelCase c = cases[i];
    c.spec = *gpu::oneRowVariant(cases[i].spec); // every matmul family has one
    c.name += " one_row";
    c.maxRows = 1;
    cases.push_back(std::move(c));
  }
  return cases;
}

} // namespace tern::gpu::test
