// Packers and unpackers of the ternary weight layouts in docs/kernels.md.
#include "packing/TernaryPacking.h"

#include <cstring>

namespace tern::packing {
namespace {

constexpr int64_t kBlockWeights = 128; // i2_b128: weights per block
constexpr int64_t kBlockBytes = 32;    // 4 weights per byte
constexpr int64_t kLaneWeights = 32;   // weights sharing one 2-bit slot across a block's bytes

int64_t paddedK(int64_t k) { return (k + kBlockWeights - 1) / kBlockWeights * kBlockWeights; }

} // namespace

bool ternaryLayoutFromName(const char *name, TernaryLayout *out) {
  if (std::strcmp(name, "i2_b128") == 0) {
    *out = TernaryLayout::I2B128;
    return true;
  }
  return false;
}

const char *ternaryLayoutName(TernaryLayout layout) {
  switch (layout) {
  case TernaryLayout::I2B128:
    return "i2_b128";
  }
  return "unknown";
}

int64_t packedRowBytes(TernaryLayout layout, int64_t k) {
  switch (layout) {
  case TernaryLayout::I2B128:
    return paddedK(k) / kBlockWeights * kBlockBytes;
  }
  return 0;
}

int64_t packedBytes(TernaryLayout layout, int64_t n, int64_t k) {
  return n * packedRowBytes(layout, k);
}

bool packTernary(TernaryLayout layout, const int8_t *w, int64_t n, int64_t k, uint8_t *out) {
  const int64_t rowBytes = packedRowBytes(layout, k);
  for (int64_t row = 0; row < n; ++row) {
    uint8_t *dst = out + row * rowBytes;
    // Padding weights are zeros, stored as 1 in every slot.
    std::memset(dst, 0x55, static_cast<size_t>(rowBytes));
    for (int64_t col = 0; col < k; ++col) {
      const int8_t value = w[row * k + col];
      if (value < -1 || value > 1)
        return false;
      const int64_t block = col / kBlockWeights, within = col % kBlockWeights;
      const int64_t slot = within / kLaneWeights, byte = within % kLaneWeights;
      uint8_t &target = dst[block * kBlockBytes + byte];
      target = static_cast<uint8_t>((target & ~(3u << (2 * slot))) |
                                    (static_cast<unsigned>(value + 1) << (2 * slot)));
    }
  }
  return true;
}

void unpackTernary(TernaryLayout layout, const uint8_t *packed, int64_t k, int64_t rowBegin,
                   int64_t rowEnd, int8_t *w) {
  const int64_t rowBytes = packedRowBytes(layout, k);
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    const uint8_t *src = packed + row * rowBytes;
    int8_t *dst = w + (row - rowBegin) * k;
    for (int64_t col = 0; col < k; ++col) {
      const int64_t block = col / kBlockWeights, within = col % kBlockWeights;
      const int64_t slot = within / kLaneWeights, byte = within % kLaneWeights;
      dst[col] = static_cast<int8_t>(((src[block * kBlockBytes + byte] >> (2 * slot)) & 3) - 1);
    }
  }
}

} // namespace tern::packing
