// Names and block geometry of the tensor element types, and the bytes a tensor of each needs.
#include "frontends/common/DType.h"

namespace tern::fe {

const DTypeInfo &info(DType type) {
  // Block geometry as ggml defines it (ggml-common.h): QK8_0 = QK4_0 = 32, QK_K = 256.
  // I2_S is bitnet.cpp's x86 layout: 128 codes per 32 bytes (plus a per-tensor tail, below).
  static const DTypeInfo table[] = {
      {"f32", 1, 4, false, true},     {"f16", 1, 2, false, true},
      {"bf16", 1, 2, false, true},    {"f64", 1, 8, false, true},
      {"i8", 1, 1, false, false},     {"u8", 1, 1, false, false},
      {"i16", 1, 2, false, false},    {"i32", 1, 4, false, false},
      {"i64", 1, 8, false, false},    {"bool", 1, 1, false, false},
      {"q8_0", 32, 34, false, true},  {"q4_0", 32, 18, false, true},
      {"tq1_0", 256, 54, true, true}, {"tq2_0", 256, 66, true, true},
      {"i2_s", 128, 32, true, true},
  };
  return table[static_cast<size_t>(type)];
}

std::optional<uint64_t> storageBytes(DType type, uint64_t elements) {
  const DTypeInfo &i = info(type);
  if (elements % i.blockElements != 0)
    return std::nullopt;
  uint64_t blocks = elements / i.blockElements;
  if (blocks > UINT64_MAX / i.blockBytes)
    return std::nullopt;
  uint64_t bytes = blocks * i.blockBytes;
  // bitnet.cpp's ggml_nbytes for I2_S is n/4 + 32: the float32 scale sits right after the codes
  // and the rest of the 32 bytes is padding that keeps the next tensor aligned.
  if (type == DType::I2_S)
    bytes += 32;
  return bytes;
}

} // namespace tern::fe
