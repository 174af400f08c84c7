// Tensor element types found in model files, with their block geometry.
#ifndef TERN_FRONTENDS_COMMON_DTYPE_H
#define TERN_FRONTENDS_COMMON_DTYPE_H

#include <cstdint>
#include <optional>
#include <string_view>

namespace tern::fe {

// Storage types a frontend can meet. Block-quantized types store |blockElements|
// weights in |blockBytes| bytes; plain types have a block of one element.
enum class DType : uint8_t {
  F32,
  F16,
  BF16,
  F64,
  I8,
  U8,
  I16,
  I32,
  I64,
  BOOL,
  Q8_0,  // 32 weights: f16 scale + 32 x int8 (34 bytes)
  Q4_0,  // 32 weights: f16 scale + 16 bytes of nibbles (18 bytes)
  TQ1_0, // 256 ternary weights: 48 + 4 bytes base-3 packed + f16 scale (54 bytes)
  TQ2_0, // 256 ternary weights: 64 bytes of 2-bit codes + f16 scale (66 bytes)
  I2_S,  // bitnet.cpp: 2-bit codes, 128 weights per 32 bytes, one f32 scale per tensor
};

struct DTypeInfo {
  std::string_view name; // as llama.cpp / safetensors spell it ("f32", "tq2_0", "i2_s")
  uint32_t blockElements;
  uint32_t blockBytes;
  bool isTernary;
  bool isFloat; // decodes to real numbers (float types and float-scaled quants)
};

const DTypeInfo &info(DType type);

// Bytes needed for |elements| values; nullopt when |elements| is not a whole number of blocks.
// I2_S adds its trailing 32-byte-aligned per-tensor scale (see decodeTernary).
std::optional<uint64_t> storageBytes(DType type, uint64_t elements);

} // namespace tern::fe

#endif
