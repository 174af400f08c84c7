// Exact decoders from stored tensor bytes to float or ternary values, and the matching encoders.
#ifndef TERN_FRONTENDS_COMMON_TENSORDECODE_H
#define TERN_FRONTENDS_COMMON_TENSORDECODE_H

#include "frontends/common/TensorRecord.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace tern::fe {

float halfToFloat(uint16_t bits);
uint16_t floatToHalf(float value); // round to nearest even
float bf16ToFloat(uint16_t bits);
uint16_t floatToBF16(float value); // round to nearest even

// Ternary weights in row-major order with their scales: weight[i] = values[i] * scales[i / scaleGroup].
struct TernaryTensor {
  std::vector<int64_t> shape;
  std::vector<int8_t> values; // each -1, 0 or +1
  std::vector<float> scales;
  uint64_t scaleGroup = 0;    // elements sharing one scale (elementCount() for per-tensor)
};

// F32, F16, BF16, F64, Q8_0, Q4_0, TQ1_0, TQ2_0, I2_S and the integer types -> float32.
llvm::Expected<std::vector<float>> decodeToFloat(const TensorRecord &tensor);

// TQ1_0, TQ2_0 (one scale per 256-weight block) and I2_S (one scale per tensor).
// Fails naming the tensor when its type is not ternary or its bytes are short.
llvm::Expected<TernaryTensor> decodeTernary(const TensorRecord &tensor);

// Hugging Face BitNet offline packing: uint8 [out/4, in], row r + i*(out/4) in bits 2i..2i+1 as w+1.
llvm::Expected<TernaryTensor> unpackHFBitNet(const TensorRecord &packed, float weightScale);

// BitNet b1.58 weight quantization of float master weights: s = mean|W|, W_t = clamp(round(W/s), -1, 1).
TernaryTensor ternarizeAbsMean(const std::vector<float> &weights, std::vector<int64_t> shape);

// Encoders (used by the GGUF writer, test fixtures and the synthetic benchmark models).
// |values| are in {-1,0,1}; the element count must be a multiple of the type's block.
std::vector<uint8_t> encodeTQ1_0(const std::vector<int8_t> &values, const std::vector<float> &blockScales);
std::vector<uint8_t> encodeTQ2_0(const std::vector<int8_t> &values, const std::vector<float> &blockScales);
std::vector<uint8_t> encodeI2_S(const std::vector<int8_t> &values, float tensorScale);
std::vector<uint8_t> encodeQ8_0(const std::vector<float> &values);
std::vector<uint8_t> encodeQ4_0(const std::vector<float> &values);
std::vector<uint8_t> encodeF16(const std::vector<float> &values);
std::vector<uint8_t> encodeBF16(const std::vector<float> &values);

} // namespace tern::fe

#endif
