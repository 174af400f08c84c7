// GGUF metadata value types and ggml tensor type ids, with the block geometry of each.
#ifndef TERN_FRONTENDS_GGUF_GGUFTYPES_H
#define TERN_FRONTENDS_GGUF_GGUFTYPES_H

#include "frontends/common/DType.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace tern::fe {

// gguf_type in ggml's gguf.h; the numbering is part of the file format.
enum class GGUFValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};
inline constexpr uint32_t kGGUFValueTypeCount = 13;

// "uint32", "string", "array", ...
llvm::StringRef valueTypeName(GGUFValueType type);
// Bytes of one value of a fixed-size type; 0 for String and Array.
uint64_t valueTypeSize(GGUFValueType type);

// One ggml tensor type as a file can name it.
struct GGMLType {
  uint32_t id;
  llvm::StringRef name;     // ggml_type_name: "f32", "q4_k", "i2_s"
  uint32_t blockElements;   // elements per block (rows must hold whole blocks)
  uint32_t blockBytes;      // bytes per block
  std::optional<DType> dtype; // nullopt: ggml knows it, this compiler does not decode it
};

// Architectures whose files come from bitnet.cpp's llama.cpp fork, where ids 36..39 mean
// I2_S, I8_S, TL1, TL2. Mainline llama.cpp gives those ids to other (removed or newer) types,
// so an id alone cannot say which; see docs/formats/gguf.md.
bool usesBitnetCppTypeIds(llvm::StringRef architecture);

// The type |id| means in a file whose general.architecture is |architecture|, or nullopt with
// |why| saying what the id is (or that it is unknown).
std::optional<GGMLType> ggmlType(uint32_t id, llvm::StringRef architecture, std::string &why);

// The ggml id that stores |type| (I2_S: 36, bitnet.cpp's id); nullopt for U8/BOOL, which GGUF lacks.
std::optional<uint32_t> ggmlTypeId(DType type);

// Bytes a tensor of |elements| takes (I2_S adds its 32-byte scale tail); nullopt when not a
// whole number of blocks or on overflow.
std::optional<uint64_t> ggmlTensorBytes(const GGMLType &type, uint64_t elements);

} // namespace tern::fe

#endif
