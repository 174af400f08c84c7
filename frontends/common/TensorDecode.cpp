// Exact decoders from stored tensor bytes to float32 or ternary values, and the matching encoders.
//
// Block layouts follow ggml (ggml-common.h / ggml-quants.c) and bitnet.cpp (ggml-bitnet-mad.cpp);
// docs/formats/gguf.md describes each one byte by byte.
#include "frontends/common/TensorDecode.h"

#include "llvm/Support/Endian.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace tern::fe {
namespace {

using llvm::support::endian::read16le;
using llvm::support::endian::read32le;
using llvm::support::endian::read64le;

llvm::Error fail(const TensorRecord &t, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 t.file + ": tensor '" + t.name + "': " + what);
}

float readF32(const uint8_t *p) { return std::bit_cast<float>(read32le(p)); }

// The bytes |t| must hold for its type and shape, or an error that names the tensor.
llvm::Error checkBytes(const TensorRecord &t) {
  const uint64_t n = t.elementCount();
  std::optional<uint64_t> need = storageBytes(t.dtype, n);
  if (!need)
    return fail(t, llvm::Twine(n) + " elements are not a whole number of " +
                       llvm::StringRef(info(t.dtype).name) + " blocks of " +
                       llvm::Twine(info(t.dtype).blockElements));
  if (!t.data && *need > 0)
    return fail(t, "has no data");
  if (t.byteSize < *need)
    return fail(t, "has " + llvm::Twine(t.byteSize) + " bytes, but " + llvm::StringRef(info(t.dtype).name) +
                       " with " + llvm::Twine(n) + " elements needs " + llvm::Twine(*need));
  return llvm::Error::success();
}

// TQ1_0 packs five trits per byte as a base-3 fixed-point fraction (ggml's "ceiling division by
// 243"): trit n is the integer part of (byte * 3^n mod 256) * 3 / 256.
constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};
int tritOf(uint8_t byte, unsigned n) {
  uint8_t q = static_cast<uint8_t>(byte * kPow3[n]);
  return (static_cast<uint16_t>(q) * 3) >> 8;
}

// Calls |emit(index, code)| for the 256 codes (0, 1, 2 = w+1) of one TQ1_0 block, in order.
template <typename F> void forEachTQ1Code(const uint8_t *block, F emit) {
  const uint8_t *qs = block;      // 48 bytes: 32 holding 5 x 32 weights, then 16 holding 5 x 16
  const uint8_t *qh = block + 48; // 4 bytes holding 4 x 4 weights (the fifth trit is unused)
  for (unsigned n = 0; n < 5; ++n)
    for (unsigned m = 0; m < 32; ++m)
      emit(n * 32 + m, tritOf(qs[m], n));
  for (unsigned n = 0; n < 5; ++n)
    for (unsigned m = 0; m < 16; ++m)
      emit(160 + n * 16 + m, tritOf(qs[32 + m], n));
  for (unsigned n = 0; n < 4; ++n)
    for (unsigned j = 0; j < 4; ++j)
      emit(240 + n * 4 + j, tritOf(qh[j], n));
}

// TQ2_0: byte 32c + m holds weights 128c + m + 32n in bits 2n..2n+1 (c = 0, 1; n = 0..3).
template <typename F> void forEachTQ2Code(const uint8_t *block, F emit) {
  for (unsigned c = 0; c < 2; ++c)
    for (unsigned n = 0; n < 4; ++n)
      for (unsigned m = 0; m < 32; ++m)
        emit(128 * c + 32 * n + m, (block[32 * c + m] >> (2 * n)) & 3);
}

// I2_S (bitnet.cpp, x86 layout): byte j of each 32-byte block holds weights j, j+32, j+64, j+96
// of that block's 128 in bits 7-6, 5-4, 3-2, 1-0.
template <typename F> void forEachI2SCode(const uint8_t *block, F emit) {
  for (unsigned g = 0; g < 4; ++g)
    for (unsigned j = 0; j < 32; ++j)
      emit(32 * g + j, (block[j] >> (6 - 2 * g)) & 3);
}

template <typename T> T readLE(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof(T)); // GGUF and SafeTensors are little-endian, like every host we target
  return v;
}

} // namespace

float halfToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1f;
  const uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0) { // zero or subnormal: mantissa * 2^-24, exact in float
    float v = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -v : v;
  }
  if (exponent == 31) // inf / NaN, payload kept
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t floatToHalf(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) // NaN: keep the top payload bits, force quiet
    return sign | 0x7e00 | ((abs >> 13) & 0x1ff);
  if (abs >= 0x477ff000) // >= 65520 rounds (ties to even) past 65504: infinity
    return sign | 0x7c00;
  if (abs < 0x38800000) { // below the smallest normal half: round to a multiple of 2^-24
    const uint32_t exponent = abs >> 23;
    if (exponent < 102) // < 2^-25: rounds to zero
      return sign;
    const uint32_t mantissa = (abs & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - exponent; // 14..24
    uint32_t q = mantissa >> shift;
    const uint32_t rem = mantissa & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
      ++q;
    return sign | static_cast<uint16_t>(q);
  }
  uint32_t h = (abs >> 13) - (112u << 10);
  const uint32_t rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
    ++h; // a carry into the exponent is the correctly rounded result
  return sign | static_cast<uint16_t>(h);
}

float bf16ToFloat(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

uint16_t floatToBF16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return static_cast<uint16_t>((bits >> 16) | 0x40); // quiet NaN, sign and top payload kept
  return static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

llvm::Expected<std::vector<float>> decodeToFloat(const TensorRecord &t) {
  if (llvm::Error err = checkBytes(t))
    return std::move(err);
  const uint64_t n = t.elementCount();
  const uint8_t *p = t.data;
  std::vector<float> out(n);
  switch (t.dtype) {
  case DType::F32:
    for (uint64_t i = 0; i < n; ++i)
      out[i] = readF32(p + 4 * i);
    break;
  case DType::F16:
    for (uint64_t i = 0; i < n; ++i)
      out[i] = halfToFloat(read16le(p + 2 * i));
    break;
  case DType::BF16:
    for (uint64_t i = 0; i < n; ++i)
      out[i] = bf16ToFloat(read16le(p + 2 * i));
    break;
  case DType::F64:
    for (uint64_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(std::bit_cast<double>(read64le(p + 8 * i)));
    break;
  case DType::I8:
    for (uint64_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(static_cast<int8_t>(p[i]));
    break;
  case DType::U8:
  case DType::BOOL:
    for (uint64_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(p[i]);
    break;
  case DType::I16:
    for (uint64_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(readLE<int16_t>(p + 2 * i));
    break;
  case DType::I32:
    for (uint64_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(readLE<int32_t>(p + 4 * i));
    break;
  case DType::I64:
    for (uint64_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(readLE<int64_t>(p + 8 * i));
    break;
  case DType::Q8_0: // f16 d, then 32 x int8: w = q * d
    for (uint64_t b = 0; b < n / 32; ++b) {
      const uint8_t *block = p + 34 * b;
      const float d = halfToFloat(read16le(block));
      for (unsigned j = 0; j < 32; ++j)
        out[32 * b + j] = static_cast<float>(static_cast<int8_t>(block[2 + j])) * d;
    }
    break;
  case DType::Q4_0: // f16 d, then 16 bytes: low nibbles weights 0..15, high nibbles 16..31
    for (uint64_t b = 0; b < n / 32; ++b) {
      const uint8_t *block = p + 18 * b;
      const float d = halfToFloat(read16le(block));
      for (unsigned j = 0; j < 16; ++j) {
        out[32 * b + j] = static_cast<float>((block[2 + j] & 0x0f) - 8) * d;
        out[32 * b + j + 16] = static_cast<float>((block[2 + j] >> 4) - 8) * d;
      }
    }
    break;
  case DType::TQ1_0:
    for (uint64_t b = 0; b < n / 256; ++b) {
      const uint8_t *block = p + 54 * b;
      const float d = halfToFloat(read16le(block + 52));
      float *dst = out.data() + 256 * b;
      forEachTQ1Code(block, [&](unsigned i, int code) { dst[i] = static_cast<float>(code - 1) * d; });
    }
    break;
  case DType::TQ2_0:
    // Code 3 is not ternary; ggml (and gguf-py) still dequantize it as (3 - 1) * d, and so do we.
    for (uint64_t b = 0; b < n / 256; ++b) {
      const uint8_t *block = p + 66 * b;
      const float d = halfToFloat(read16le(block + 64));
      float *dst = out.data() + 256 * b;
      forEachTQ2Code(block, [&](unsigned i, int code) { dst[i] = static_cast<float>(code - 1) * d; });
    }
    break;
  case DType::I2_S: {
    const float scale = readF32(p + n / 4);
    bool bad = false;
    uint64_t badAt = 0;
    for (uint64_t b = 0; b < n / 128; ++b) {
      float *dst = out.data() + 128 * b;
      forEachI2SCode(p + 32 * b, [&](unsigned i, int code) {
        if (code == 3 && !bad) {
          bad = true;
          badAt = 128 * b + i;
        }
        dst[i] = static_cast<float>(code - 1) * scale;
      });
    }
    // bitnet.cpp never writes code 3, and its kernels disagree on what it would mean.
    if (bad)
      return fail(t, "I2_S code 3 at element " + llvm::Twine(badAt) +
                         " is not a ternary value (codes are w+1: 0, 1 or 2)");
    break;
  }
  }
  return out;
}

llvm::Expected<TernaryTensor> decodeTernary(const TensorRecord &t) {
  if (!info(t.dtype).isTernary)
    return fail(t, "has type " + llvm::StringRef(info(t.dtype).name) +
                       "; expected a ternary type (tq1_0, tq2_0 or i2_s)");
  if (llvm::Error err = checkBytes(t))
    return std::move(err);
  const uint64_t n = t.elementCount();
  const uint8_t *p = t.data;
  TernaryTensor out;
  out.shape = t.shape;
  out.values.resize(n);
  bool bad = false;
  uint64_t badAt = 0;
  auto put = [&](uint64_t index, int code) {
    if (code == 3 && !bad) {
      bad = true;
      badAt = index;
    }
    out.values[index] = static_cast<int8_t>(code - 1);
  };
  switch (t.dtype) {
  case DType::TQ1_0:
    out.scaleGroup = 256;
    for (uint64_t b = 0; b < n / 256; ++b) {
      const uint8_t *block = p + 54 * b;
      out.scales.push_back(halfToFloat(read16le(block + 52)));
      forEachTQ1Code(block, [&](unsigned i, int code) { put(256 * b + i, code); });
    }
    break;
  case DType::TQ2_0:
    out.scaleGroup = 256;
    for (uint64_t b = 0; b < n / 256; ++b) {
      const uint8_t *block = p + 66 * b;
      out.scales.push_back(halfToFloat(read16le(block + 64)));
      forEachTQ2Code(block, [&](unsigned i, int code) { put(256 * b + i, code); });
    }
    break;
  case DType::I2_S:
    out.scaleGroup = n;
    out.scales.push_back(readF32(p + n / 4));
    for (uint64_t b = 0; b < n / 128; ++b)
      forEachI2SCode(p + 32 * b, [&](unsigned i, int code) { put(128 * b + i, code); });
    break;
  default:
    break;
  }
  if (bad)
    return fail(t, llvm::Twine(llvm::StringRef(info(t.dtype).name)) + " code 3 at element " + llvm::Twine(badAt) +
                       " is not a ternary value (codes are w+1: 0, 1 or 2)");
  return out;
}

// The encoders return an empty vector when their precondition does not hold (element count not
// a whole number of blocks, a scale missing, a value outside {-1, 0, 1}); callers that know the
// expected size (the GGUF writer) report that as an error.
namespace {

bool ternaryValues(const std::vector<int8_t> &values, uint64_t block) {
  if (values.size() % block != 0)
    return false;
  return std::all_of(values.begin(), values.end(), [](int8_t v) { return v >= -1 && v <= 1; });
}

void putHalf(uint8_t *p, float v) {
  uint16_t h = floatToHalf(v);
  p[0] = static_cast<uint8_t>(h);
  p[1] = static_cast<uint8_t>(h >> 8);
}

// Five (or four, then shifted up) trits as the base-3 fraction TQ1_0 stores: ceil(q * 256 / 243).
uint8_t packTrits(const int8_t *first, unsigned stride, unsigned count) {
  unsigned q = 0;
  for (unsigned n = 0; n < count; ++n)
    q = q * 3 + static_cast<unsigned>(first[n * stride] + 1);
  for (unsigned n = count; n < 5; ++n)
    q *= 3;
  return static_cast<uint8_t>((q * 256 + 242) / 243);
}

} // namespace

std::vector<uint8_t> encodeTQ1_0(const std::vector<int8_t> &values,
                                 const std::vector<float> &blockScales) {
  if (!ternaryValues(values, 256) || blockScales.size() != values.size() / 256)
    return {};
  std::vector<uint8_t> out(values.size() / 256 * 54);
  for (size_t b = 0; b < blockScales.size(); ++b) {
    const int8_t *x = values.data() + 256 * b;
    uint8_t *block = out.data() + 54 * b;
    for (unsigned m = 0; m < 32; ++m)
      block[m] = packTrits(x + m, 32, 5);
    for (unsigned m = 0; m < 16; ++m)
      block[32 + m] = packTrits(x + 160 + m, 16, 5);
    for (unsigned j = 0; j < 4; ++j)
      block[48 + j] = packTrits(x + 240 + j, 4, 4);
    putHalf(block + 52, blockScales[b]);
  }
  return out;
}

std::vector<uint8_t> encodeTQ2_0(const std::vector<int8_t> &values,
                                 const std::vector<float> &blockScales) {
  if (!ternaryValues(values, 256) || blockScales.size() != values.size() / 256)
    return {};
  std::vector<uint8_t> out(values.size() / 256 * 66);
  for (size_t b = 0; b < blockScales.size(); ++b) {
    const int8_t *x = values.data() + 256 * b;
    uint8_t *block = out.data() + 66 * b;
    for (unsigned c = 0; c < 2; ++c)
      for (unsigned m = 0; m < 32; ++m) {
        unsigned byte = 0;
        for (unsigned n = 0; n < 4; ++n)
          byte |= static_cast<unsigned>(x[128 * c + 32 * n + m] + 1) << (2 * n);
        block[32 * c + m] = static_cast<uint8_t>(byte);
      }
    putHalf(block + 64, blockScales[b]);
  }
  return out;
}

std::vector<uint8_t> encodeI2_S(const std::vector<int8_t> &values, float tensorScale) {
  if (!ternaryValues(values, 128))
    return {};
  const size_t n = values.size();
  std::vector<uint8_t> out(n / 4 + 32, 0);
  for (size_t b = 0; b < n / 128; ++b)
    for (unsigned j = 0; j < 32; ++j) {
      unsigned byte = 0;
      for (unsigned g = 0; g < 4; ++g)
        byte |= static_cast<unsigned>(values[128 * b + 32 * g + j] + 1) << (6 - 2 * g);
      out[32 * b + j] = static_cast<uint8_t>(byte);
    }
  const uint32_t s = std::bit_cast<uint32_t>(tensorScale);
  for (unsigned i = 0; i < 4; ++i)
    out[n / 4 + i] = static_cast<uint8_t>(s >> (8 * i));
  return out;
}

// Q8_0 and Q4_0 follow ggml's reference quantizers (quantize_row_q8_0_ref / _q4_0_ref) so a file
// we write holds the bytes llama.cpp's own quantizer would produce.
std::vector<uint8_t> encodeQ8_0(const std::vector<float> &values) {
  if (values.size() % 32 != 0)
    return {};
  std::vector<uint8_t> out(values.size() / 32 * 34);
  for (size_t b = 0; b < values.size() / 32; ++b) {
    const float *x = values.data() + 32 * b;
    float amax = 0.0f;
    for (unsigned j = 0; j < 32; ++j)
      amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t *block = out.data() + 34 * b;
    putHalf(block, d);
    for (unsigned j = 0; j < 32; ++j)
      block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(x[j] * id)));
  }
  return out;
}

std::vector<uint8_t> encodeQ4_0(const std::vector<float> &values) {
  if (values.size() % 32 != 0)
    return {};
  std::vector<uint8_t> out(values.size() / 32 * 18);
  for (size_t b = 0; b < values.size() / 32; ++b) {
    const float *x = values.data() + 32 * b;
    float amax = 0.0f, max = 0.0f; // the value of largest magnitude, with its sign
    for (unsigned j = 0; j < 32; ++j)
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t *block = out.data() + 18 * b;
    putHalf(block, d);
    for (unsigned j = 0; j < 16; ++j) {
      auto nibble = [&](float v) {
        return static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(v * id + 8.5f))));
      };
      block[2 + j] = static_cast<uint8_t>(nibble(x[j]) | (nibble(x[j + 16]) << 4));
    }
  }
  return out;
}

std::vector<uint8_t> encodeF16(const std::vector<float> &values) {
  std::vector<uint8_t> out(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i)
    putHalf(out.data() + 2 * i, values[i]);
  return out;
}

std::vector<uint8_t> encodeBF16(const std::vector<float> &values) {
  std::vector<uint8_t> out(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t h = floatToBF16(values[i]);
    out[2 * i] = static_cast<uint8_t>(h);
    out[2 * i + 1] = static_cast<uint8_t>(h >> 8);
  }
  return out;
}

} // namespace tern::fe
