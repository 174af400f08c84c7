// Hugging Face BitNet weights: unpacking the offline uint8 layout and absmean ternarization.
#include "frontends/common/TensorDecode.h"

#include <algorithm>
#include <cmath>

namespace tern::fe {

llvm::Expected<TernaryTensor> unpackHFBitNet(const TensorRecord &packed, float weightScale) {
  auto fail = [&](const llvm::Twine &what) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   packed.file + ": tensor '" + packed.name + "': " + what);
  };
  if (packed.dtype != DType::U8 || packed.shape.size() != 2)
    return fail("expected Hugging Face BitNet packing, uint8 [out/4, in]");
  const uint64_t rows = static_cast<uint64_t>(packed.shape[0]);
  const uint64_t cols = static_cast<uint64_t>(packed.shape[1]);
  if (!packed.data || packed.byteSize < rows * cols)
    return fail("has " + llvm::Twine(packed.byteSize) + " bytes, but uint8 [" + llvm::Twine(rows) +
                ", " + llvm::Twine(cols) + "] needs " + llvm::Twine(rows * cols));

  TernaryTensor t;
  t.shape = {static_cast<int64_t>(rows * 4), static_cast<int64_t>(cols)};
  t.values.resize(rows * 4 * cols);
  // transformers' pack_weights puts output row r + i*rows into bits 2i..2i+1 of packed row r,
  // so the four 2-bit fields of one byte belong to rows a quarter of the matrix apart.
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t c = 0; c < cols; ++c) {
      uint8_t byte = packed.data[r * cols + c];
      for (unsigned i = 0; i < 4; ++i) {
        unsigned code = (byte >> (2 * i)) & 3u;
        if (code == 3)
          return fail("2-bit code 3 at packed row " + llvm::Twine(r) + ", column " +
                      llvm::Twine(c) + " is not a ternary value (codes are w+1: 0, 1 or 2)");
        t.values[(r + i * rows) * cols + c] = static_cast<int8_t>(static_cast<int>(code) - 1);
      }
    }
  t.scales = {weightScale};
  t.scaleGroup = t.values.size();
  return t;
}

TernaryTensor ternarizeAbsMean(const std::vector<float> &weights, std::vector<int64_t> shape) {
  // Summed in double so the mean is the correctly rounded float; transformers' float32 GPU
  // reduction lands within an ulp of it (the fixture test checks that bound).
  double sum = 0;
  for (float w : weights)
    sum += std::fabs(static_cast<double>(w));
  float mean = weights.empty() ? 0.0f : static_cast<float>(sum / weights.size());
  // Like transformers' WeightQuant: s = 1 / max(mean, 1e-5) in float32, then round(W * s)
  // with round-half-to-even (torch.round), clamped to [-1, 1]. Multiplying by the reciprocal
  // rather than dividing by the mean matters for values that land exactly on 0.5.
  float clamped = std::max(mean, 1e-5f);
  float inverse = 1.0f / clamped;
  TernaryTensor t;
  t.shape = std::move(shape);
  t.values.resize(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    float q = std::nearbyint(weights[i] * inverse); // default FE_TONEAREST: half to even
    if (std::isnan(q)) // a NaN would make the int8 conversion undefined; torch keeps NaN
      q = 0.0f;
    t.values[i] = static_cast<int8_t>(std::clamp(q, -1.0f, 1.0f));
  }
  t.scales = {clamped};
  t.scaleGroup = weights.size();
  return t;
}

} // namespace tern::fe
