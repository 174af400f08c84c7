// Quantizers and unpackers of the block-quantized float layouts in docs/kernels.md.
#include "packing/QuantizedPacking.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace tern::packing {
namespace {

constexpr int64_t kQ4GroupWeights = 64; // q4_b32: two blocks share a 32-byte group
constexpr int64_t kQ4GroupBytes = 32;
constexpr int64_t kQ6GroupWeights = 64; // q6_b32: two blocks share a 48-byte group
constexpr int64_t kQ6GroupBytes = 48;
constexpr int64_t kQ6HighBytes = 32; // where the group's 16 bytes of high 2-bit pairs start
constexpr float kHalfMax = 65504.0f;

int64_t alignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

uint32_t floatBits(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return bits;
}
float bitsFloat(uint32_t bits) {
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

struct Range {
  int lo, hi;
};
Range codeRange(QuantFormat format) {
  switch (format) {
  case QuantFormat::Q8B32:
    return {-127, 127};
  case QuantFormat::Q6B32:
    return {-32, 31};
  case QuantFormat::Q4B32:
    break;
  }
  return {-8, 7};
}

// The block's scale before rounding to f16: absmax / 127 (q8), or the value of largest
// magnitude (the first one on ties) divided by -8 (q4) or -32 (q6), so that value gets the
// most negative code.
float blockScale(QuantFormat format, const float *x) {
  float best = 0.0f;
  for (int64_t i = 0; i < kQuantBlock; ++i)
    if (std::fabs(x[i]) > std::fabs(best))
      best = x[i];
  if (format == QuantFormat::Q8B32)
    return std::fabs(best) / 127.0f;
  return best / float(codeRange(format).lo);
}

void putCode(QuantFormat format, uint8_t *row, int64_t col, int code) {
  if (format == QuantFormat::Q8B32) {
    row[col] = static_cast<uint8_t>(static_cast<int8_t>(code));
    return;
  }
  if (format == QuantFormat::Q6B32) {
    const int64_t within = col % kQ6GroupWeights, slot = within / 16;
    uint8_t *group = row + col / kQ6GroupWeights * kQ6GroupBytes;
    const unsigned u = static_cast<unsigned>(code + 32) & 0x3f;
    uint8_t &low = group[within % 32];
    low = within < 32 ? static_cast<uint8_t>((low & 0xf0) | (u & 0xf))
                      : static_cast<uint8_t>((low & 0x0f) | ((u & 0xf) << 4));
    uint8_t &high = group[kQ6HighBytes + within % 16];
    high = static_cast<uint8_t>((high & ~(3u << (2 * slot))) | ((u >> 4) << (2 * slot)));
    return;
  }
  const int64_t group = col / kQ4GroupWeights, within = col % kQ4GroupWeights;
  uint8_t &byte = row[group * kQ4GroupBytes + within % 32];
  const unsigned nibble = static_cast<unsigned>(code + 8) & 0xf;
  byte = within < 32 ? static_cast<uint8_t>((byte & 0xf0) | nibble)
                     : static_cast<uint8_t>((byte & 0x0f) | (nibble << 4));
}

int getCode(QuantFormat format, const uint8_t *row, int64_t col) {
  if (format == QuantFormat::Q8B32)
    return static_cast<int8_t>(row[col]);
  if (format == QuantFormat::Q6B32) {
    const int64_t within = col % kQ6GroupWeights;
    const uint8_t *group = row + col / kQ6GroupWeights * kQ6GroupBytes;
    const unsigned low = (group[within % 32] >> (within < 32 ? 0 : 4)) & 0xf;
    const unsigned high = (group[kQ6HighBytes + within % 16] >> (2 * (within / 16))) & 3;
    return static_cast<int>(low | (high << 4)) - 32;
  }
  const int64_t group = col / kQ4GroupWeights, within = col % kQ4GroupWeights;
  const uint8_t byte = row[group * kQ4GroupBytes + within % 32];
  return static_cast<int>(within < 32 ? byte & 0xf : byte >> 4) - 8;
}

} // namespace

float halfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  if (exponent == 0x1f)
    return bitsFloat(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0)
    return bitsFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24 is exact in float.
  const float v = std::ldexp(static_cast<float>(mantissa), -24);
  return sign ? -v : v;
}

uint16_t floatToHalfBits(float value) {
  const uint32_t bits = floatBits(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) // NaN stays a (quiet) NaN
    return static_cast<uint16_t>(sign | 0x7e00);
  if (magnitude >= 0x477ff000u) // 65520 and up round past the largest half: infinity
    return static_cast<uint16_t>(sign | 0x7c00);
  if (magnitude < 0x38800000u) {
    // Below the smallest normal half: a multiple of 2^-24, rounded half to even.
    const uint32_t exponent = magnitude >> 23;
    if (exponent < 102) // below 2^-25: rounds to zero
      return sign;
    const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exponent; // 14 .. 24
    uint32_t q = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (q & 1)))
      ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t h = (magnitude >> 13) - (112u << 10);
  const uint32_t rest = magnitude & 0x1fffu;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    ++h; // a carry into the exponent is the correctly rounded result
  return static_cast<uint16_t>(sign | h);
}

bool quantFormatFromName(const char *name, QuantFormat *out) {
  if (std::strcmp(name, "q8_b32") == 0) {
    *out = QuantFormat::Q8B32;
    return true;
  }
  if (std::strcmp(name, "q4_b32") == 0) {
    *out = QuantFormat::Q4B32;
    return true;
  }
  if (std::strcmp(name, "q6_b32") == 0) {
    *out = QuantFormat::Q6B32;
    return true;
  }
  return false;
}

const char *quantFormatName(QuantFormat format) {
  switch (format) {
  case QuantFormat::Q8B32:
    return "q8_b32";
  case QuantFormat::Q4B32:
    return "q4_b32";
  case QuantFormat::Q6B32:
    return "q6_b32";
  }
  return "unknown";
}

bool quantSupportsWidth(int64_t k) { return k > 0 && k % kQuantBlock == 0; }

int64_t quantRowCodeBytes(QuantFormat format, int64_t k) {
  if (format == QuantFormat::Q8B32)
    return k;
  if (format == QuantFormat::Q6B32)
    return alignUp(k, kQ6GroupWeights) / kQ6GroupWeights * kQ6GroupBytes;
  return alignUp(k, kQ4GroupWeights) / kQ4GroupWeights * kQ4GroupBytes;
}

int64_t quantScaleOffset(QuantFormat format, int64_t n, int64_t k) {
  return alignUp(n * quantRowCodeBytes(format, k), 64);
}

int64_t quantPackedBytes(QuantFormat format, int64_t n, int64_t k) {
  return quantScaleOffset(format, n, k) + n * (k / kQuantBlock) * 2;
}

bool quantizeMatrix(QuantFormat format, const float *x, int64_t n, int64_t k, uint8_t *out) {
  if (!quantSupportsWidth(k) || n < 0)
    return false;
  const int64_t rowBytes = quantRowCodeBytes(format, k), blocks = k / kQuantBlock;
  // Padding bytes are zero, except the high nibbles of a q4 row's final half group (k not a
  // multiple of 64): they hold code 0 (stored as 8), so a kernel reading whole groups sees
  // zero weights there; likewise the missing block of a q6 row's final half group.
  std::memset(out, 0, static_cast<size_t>(quantPackedBytes(format, n, k)));
  if (format == QuantFormat::Q4B32 && k % kQ4GroupWeights != 0)
    for (int64_t row = 0; row < n; ++row)
      for (int64_t j = 0; j < 32; ++j)
        out[row * rowBytes + rowBytes - kQ4GroupBytes + j] = 0x80;
  // q6: the block missing from a final half group holds code 0 (u = 32) too.
  if (format == QuantFormat::Q6B32)
    for (int64_t row = 0; row < n; ++row)
      for (int64_t col = k; col < alignUp(k, kQ6GroupWeights); ++col)
        putCode(format, out + row * rowBytes, col, 0);
  uint8_t *scalePlane = out + quantScaleOffset(format, n, k);
  const Range range = codeRange(format);
  for (int64_t row = 0; row < n; ++row) {
    uint8_t *codes = out + row * rowBytes;
    for (int64_t b = 0; b < blocks; ++b) {
      const float *v = x + row * k + b * kQuantBlock;
      for (int64_t i = 0; i < kQuantBlock; ++i)
        if (!std::isfinite(v[i]))
          return false;
      // Saturate rather than store an infinite scale (weights beyond 65504 * 127).
      const float raw = std::clamp(blockScale(format, v), -kHalfMax, kHalfMax);
      const uint16_t bits = floatToHalfBits(raw);
      const float d = halfBitsToFloat(bits);
      std::memcpy(scalePlane + (row * blocks + b) * 2, &bits, 2);
      for (int64_t i = 0; i < kQuantBlock; ++i) {
        int code = 0;
        if (d != 0.0f) {
          // nearbyint in the default rounding mode rounds half to even.
          const float r = std::nearbyint(v[i] / d);
          code = static_cast<int>(std::clamp(r, float(range.lo), float(range.hi)));
        }
        putCode(format, codes, b * kQuantBlock + i, code);
      }
    }
  }
  return true;
}

void unpackQuantized(QuantFormat format, const uint8_t *packed, int64_t n, int64_t k,
                     int64_t rowBegin, int64_t rowEnd, int8_t *codes, float *scales) {
  const int64_t rowBytes = quantRowCodeBytes(format, k), blocks = k / kQuantBlock;
  const uint8_t *scalePlane = packed + quantScaleOffset(format, n, k);
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    const uint8_t *src = packed + row * rowBytes;
    for (int64_t col = 0; col < k; ++col)
      codes[(row - rowBegin) * k + col] = static_cast<int8_t>(getCode(format, src, col));
    for (int64_t b = 0; b < blocks; ++b) {
      uint16_t bits;
      std::memcpy(&bits, scalePlane + (row * blocks + b) * 2, 2);
      scales[(row - rowBegin) * blocks + b] = halfBitsToFloat(bits);
    }
  }
}

void dequantizeRows(QuantFormat format, const uint8_t *packed, int64_t n, int64_t k,
                    int64_t rowBegin, int64_t rowEnd, float *out) {
  const int64_t rowBytes = quantRowCodeBytes(format, k), blocks = k / kQuantBlock;
  const uint8_t *scalePlane = packed + quantScaleOffset(format, n, k);
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    const uint8_t *src = packed + row * rowBytes;
    for (int64_t b = 0; b < blocks; ++b) {
      uint16_t bits;
      std::memcpy(&bits, scalePlane + (row * blocks + b) * 2, 2);
      const float d = halfBitsToFloat(bits);
      for (int64_t i = 0; i < kQuantBlock; ++i) {
        const int64_t col = b * kQuantBlock + i;
        out[(row - rowBegin) * k + col] = d * static_cast<float>(getCode(format, src, col));
      }
    }
  }
}

} // namespace tern::packing
