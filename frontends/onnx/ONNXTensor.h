// A small dense tensor value (element type, shape, little-endian bytes) for ONNX constants.
#ifndef TERN_FRONTENDS_ONNX_ONNXTENSOR_H
#define TERN_FRONTENDS_ONNX_ONNXTENSOR_H

#include "frontends/common/TensorDecode.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace tern::onnx {

// Element types, numbered as ONNX's TensorProto.DataType so a proto's value converts directly.
enum class ElemType : int32_t {
  Undefined = 0,
  Float = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Double = 11,
  UInt32 = 12,
  UInt64 = 13,
  Complex64 = 14,
  Complex128 = 15,
  BFloat16 = 16,
};

// ONNX's spelling ("FLOAT", "INT64"); "type <n>" for numbers this enum does not name.
std::string elemTypeName(int32_t type);
inline std::string elemTypeName(ElemType type) { return elemTypeName(static_cast<int32_t>(type)); }
// Bytes per element; nullopt for types without a fixed-size numeric encoding (STRING, unknown).
std::optional<uint64_t> elemSize(ElemType type);
bool isFloatType(ElemType type);    // FLOAT, FLOAT16, BFLOAT16, DOUBLE
bool isSignedType(ElemType type);   // INT8..INT64
bool isUnsignedType(ElemType type); // UINT8..UINT64, BOOL

// f16 and bf16 conversions: the frontends' own (round to nearest even, overflow to inf, NaN
// kept quiet), under ONNX's type names.
using fe::floatToHalf;
using fe::halfToFloat;
inline float bfloat16ToFloat(uint16_t b) { return fe::bf16ToFloat(b); }
inline uint16_t floatToBFloat16(float f) { return fe::floatToBF16(f); }

// memcpy for byte ranges that may be empty: an empty tensor's data() may be null, and memcpy
// with a null pointer is undefined even for zero bytes.
inline void copyBytes(void *dst, const void *src, size_t n) {
  if (n)
    std::memcpy(dst, src, n);
}

// "[2, ?, 4]"-style rendering shared by tensors and value infos.
std::string shapeToString(llvm::ArrayRef<int64_t> shape);

class Tensor {
public:
  Tensor() = default;
  // Zero-filled tensor of |type| and |shape|; |type| must have a fixed element size.
  Tensor(ElemType type, std::vector<int64_t> shape);

  static Tensor scalarInt64(int64_t v);
  static Tensor fromInt64s(llvm::ArrayRef<int64_t> values, std::vector<int64_t> shape);
  static Tensor fromFloats(llvm::ArrayRef<float> values, std::vector<int64_t> shape);

  ElemType type() const { return elemType; }
  const std::vector<int64_t> &shape() const { return dims; }
  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
  int64_t numElements() const;
  const std::vector<uint8_t> &bytes() const { return data; }
  std::vector<uint8_t> &bytes() { return data; }

  // Element access with conversion. Float types go through double; integer types through
  // int64 (UINT64 values above INT64_MAX wrap, which no shape arithmetic produces).
  double getDouble(int64_t i) const;
  int64_t getInt(int64_t i) const;
  // Stores |v| converted to the element type: float types round, integers truncate toward
  // zero (as a C cast, which is what ONNX's Cast does for in-range values), BOOL is v != 0.
  void setDouble(int64_t i, double v);
  void setInt(int64_t i, int64_t v);

  std::vector<int64_t> toInt64s() const;
  std::vector<double> toDoubles() const;
  // The same values in another element type (ONNX Cast semantics for numeric types).
  Tensor castTo(ElemType to) const;
  Tensor reshaped(std::vector<int64_t> shape) const;

  // "FLOAT[2, 3]"
  std::string describe() const;

private:
  ElemType elemType = ElemType::Float;
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

} // namespace tern::onnx

#endif
