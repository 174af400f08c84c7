// The ggml type id table (ggml.h) and the bitnet.cpp ids that clash with it.
#include "frontends/gguf/GGUFTypes.h"

#include "llvm/ADT/Twine.h"

namespace tern::fe {

llvm::StringRef valueTypeName(GGUFValueType type) {
  switch (type) {
  case GGUFValueType::UInt8: return "uint8";
  case GGUFValueType::Int8: return "int8";
  case GGUFValueType::UInt16: return "uint16";
  case GGUFValueType::Int16: return "int16";
  case GGUFValueType::UInt32: return "uint32";
  case GGUFValueType::Int32: return "int32";
  case GGUFValueType::Float32: return "float32";
  case GGUFValueType::Bool: return "bool";
  case GGUFValueType::String: return "string";
  case GGUFValueType::Array: return "array";
  case GGUFValueType::UInt64: return "uint64";
  case GGUFValueType::Int64: return "int64";
  case GGUFValueType::Float64: return "float64";
  }
  return "?";
}

uint64_t valueTypeSize(GGUFValueType type) {
  switch (type) {
  case GGUFValueType::UInt8:
  case GGUFValueType::Int8:
  case GGUFValueType::Bool:
    return 1;
  case GGUFValueType::UInt16:
  case GGUFValueType::Int16:
    return 2;
  case GGUFValueType::UInt32:
  case GGUFValueType::Int32:
  case GGUFValueType::Float32:
    return 4;
  case GGUFValueType::UInt64:
  case GGUFValueType::Int64:
  case GGUFValueType::Float64:
    return 8;
  case GGUFValueType::String:
  case GGUFValueType::Array:
    return 0;
  }
  return 0;
}

namespace {

// Mainline ggml ids (ggml/include/ggml.h). Sizes of the types we do not decode are kept so the
// reader can still check that such a tensor fits in the file and show it in `ternc inspect`.
constexpr uint32_t QK_K = 256;
const GGMLType kMainline[] = {
    {0, "f32", 1, 4, DType::F32},
    {1, "f16", 1, 2, DType::F16},
    {2, "q4_0", 32, 18, DType::Q4_0},
    {3, "q4_1", 32, 20, std::nullopt},
    {6, "q5_0", 32, 22, std::nullopt},
    {7, "q5_1", 32, 24, std::nullopt},
    {8, "q8_0", 32, 34, DType::Q8_0},
    {9, "q8_1", 32, 36, std::nullopt},
    {10, "q2_K", QK_K, 84, std::nullopt},
    {11, "q3_K", QK_K, 110, std::nullopt},
    {12, "q4_K", QK_K, 144, std::nullopt},
    {13, "q5_K", QK_K, 176, std::nullopt},
    {14, "q6_K", QK_K, 210, std::nullopt},
    {15, "q8_K", QK_K, 292, std::nullopt},
    {16, "iq2_xxs", QK_K, 66, std::nullopt},
    {17, "iq2_xs", QK_K, 74, std::nullopt},
    {18, "iq3_xxs", QK_K, 98, std::nullopt},
    {19, "iq1_s", QK_K, 50, std::nullopt},
    {20, "iq4_nl", 32, 18, std::nullopt},
    {21, "iq3_s", QK_K, 110, std::nullopt},
    {22, "iq2_s", QK_K, 82, std::nullopt},
    {23, "iq4_xs", QK_K, 136, std::nullopt},
    {24, "i8", 1, 1, DType::I8},
    {25, "i16", 1, 2, DType::I16},
    {26, "i32", 1, 4, DType::I32},
    {27, "i64", 1, 8, DType::I64},
    {28, "f64", 1, 8, DType::F64},
    {29, "iq1_m", QK_K, 56, std::nullopt},
    {30, "bf16", 1, 2, DType::BF16},
    {34, "tq1_0", QK_K, 54, DType::TQ1_0},
    {35, "tq2_0", QK_K, 66, DType::TQ2_0},
    {39, "mxfp4", 32, 17, std::nullopt},
};

} // namespace

bool usesBitnetCppTypeIds(llvm::StringRef architecture) {
  // bitnet.cpp's fork names its BitNet graphs "bitnet" (2024 releases), "bitnet-b1.58" and
  // "bitnet-25" (2025), and writes I2_S into its ternary embedding models' "qwen3" and "gemma3"
  // files (utils/convert-bitnet-embedding-to-gguf.py). Mainline llama.cpp never writes ids 36..38
  // (they named IQ4_NL_4_4/4_8/8_8, removed before any file format used them).
  for (llvm::StringRef a : {"bitnet", "bitnet-b1.58", "bitnet-25", "qwen3", "gemma3"})
    if (architecture == a)
      return true;
  return false;
}

std::optional<GGMLType> ggmlType(uint32_t id, llvm::StringRef architecture, std::string &why) {
  if (id >= 36 && id <= 39 && usesBitnetCppTypeIds(architecture)) {
    switch (id) {
    case 36:
      return GGMLType{36, "i2_s", 128, 32, DType::I2_S};
    case 37:
      why = "type id 37 is bitnet.cpp's i8_s, an activation type that never belongs in a file";
      return std::nullopt;
    default:
      why = (llvm::Twine("type id ") + llvm::Twine(id) + " is bitnet.cpp's " +
             (id == 38 ? "tl1" : "tl2") +
             ", a lookup-table layout tied to kernels generated for one machine; re-quantize the "
             "model to i2_s, tq1_0 or tq2_0")
                .str();
      return std::nullopt;
    }
  }
  for (const GGMLType &t : kMainline)
    if (t.id == id)
      return t;
  if (id == 4 || id == 5 || (id >= 31 && id <= 33) || (id >= 36 && id <= 38))
    why = "type id " + std::to_string(id) + " belongs to a ggml type that llama.cpp has removed" +
          (id == 36 ? " (id 36 is bitnet.cpp's i2_s only in files of a bitnet.cpp architecture: "
                      "bitnet, bitnet-b1.58, bitnet-25, qwen3, gemma3)"
                    : "");
  else
    why = "unknown ggml type id " + std::to_string(id);
  return std::nullopt;
}

std::optional<uint32_t> ggmlTypeId(DType type) {
  switch (type) {
  case DType::F32: return 0;
  case DType::F16: return 1;
  case DType::Q4_0: return 2;
  case DType::Q8_0: return 8;
  case DType::I8: return 24;
  case DType::I16: return 25;
  case DType::I32: return 26;
  case DType::I64: return 27;
  case DType::F64: return 28;
  case DType::BF16: return 30;
  case DType::TQ1_0: return 34;
  case DType::TQ2_0: return 35;
  case DType::I2_S: return 36;
  case DType::U8:
  case DType::BOOL:
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<uint64_t> ggmlTensorBytes(const GGMLType &type, uint64_t elements) {
  if (type.dtype)
    return storageBytes(*type.dtype, elements);
  if (elements % type.blockElements != 0)
    return std::nullopt;
  uint64_t blocks = elements / type.blockElements;
  if (blocks > UINT64_MAX / type.blockBytes)
    return std::nullopt;
  return blocks * type.blockBytes;
}

} // namespace tern::fe
