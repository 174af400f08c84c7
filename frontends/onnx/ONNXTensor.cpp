// Element conversions of the ONNX constant tensor type.
#include "frontends/onnx/ONNXTensor.h"

#include <cassert>
#include <cmath>
#include <cstring>

namespace tern::onnx {

std::string elemTypeName(int32_t type) {
  static const char *names[] = {"UNDEFINED", "FLOAT",  "UINT8",     "INT8",       "UINT16",
                                "INT16",     "INT32",  "INT64",     "STRING",     "BOOL",
                                "FLOAT16",   "DOUBLE", "UINT32",    "UINT64",     "COMPLEX64",
                                "COMPLEX128", "BFLOAT16"};
  if (type >= 0 && type < static_cast<int32_t>(sizeof names / sizeof *names))
    return names[type];
  return "type " + std::to_string(type);
}

std::optional<uint64_t> elemSize(ElemType type) {
  switch (type) {
  case ElemType::Float:
  case ElemType::Int32:
  case ElemType::UInt32:
    return 4;
  case ElemType::UInt8:
  case ElemType::Int8:
  case ElemType::Bool:
    return 1;
  case ElemType::UInt16:
  case ElemType::Int16:
  case ElemType::Float16:
  case ElemType::BFloat16:
    return 2;
  case ElemType::Int64:
  case ElemType::Double:
  case ElemType::UInt64:
  case ElemType::Complex64:
    return 8;
  case ElemType::Complex128:
    return 16;
  default:
    return std::nullopt;
  }
}

bool isFloatType(ElemType t) {
  return t == ElemType::Float || t == ElemType::Float16 || t == ElemType::BFloat16 ||
         t == ElemType::Double;
}
bool isSignedType(ElemType t) {
  return t == ElemType::Int8 || t == ElemType::Int16 || t == ElemType::Int32 ||
         t == ElemType::Int64;
}
bool isUnsignedType(ElemType t) {
  return t == ElemType::UInt8 || t == ElemType::UInt16 || t == ElemType::UInt32 ||
         t == ElemType::UInt64 || t == ElemType::Bool;
}

std::string shapeToString(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
  return s + "]";
}

Tensor::Tensor(ElemType type, std::vector<int64_t> shape) : elemType(type), dims(std::move(shape)) {
  std::optional<uint64_t> size = elemSize(type);
  assert(size && "tensor of a type without a fixed element size");
  data.assign(static_cast<size_t>(numElements()) * size.value_or(0), 0);
}

Tensor Tensor::scalarInt64(int64_t v) { return fromInt64s({v}, {}); }

Tensor Tensor::fromInt64s(llvm::ArrayRef<int64_t> values, std::vector<int64_t> shape) {
  Tensor t(ElemType::Int64, std::move(shape));
  assert(t.numElements() == static_cast<int64_t>(values.size()));
  copyBytes(t.data.data(), values.data(), values.size() * 8);
  return t;
}

Tensor Tensor::fromFloats(llvm::ArrayRef<float> values, std::vector<int64_t> shape) {
  Tensor t(ElemType::Float, std::move(shape));
  assert(t.numElements() == static_cast<int64_t>(values.size()));
  copyBytes(t.data.data(), values.data(), values.size() * 4);
  return t;
}

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

template <typename T> static T load(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T> static void store(uint8_t *p, T v) { std::memcpy(p, &v, sizeof v); }

double Tensor::getDouble(int64_t i) const {
  const uint8_t *p = data.data();
  switch (elemType) {
  case ElemType::Float:
    return load<float>(p + 4 * i);
  case ElemType::Double:
    return load<double>(p + 8 * i);
  case ElemType::Float16:
    return halfToFloat(load<uint16_t>(p + 2 * i));
  case ElemType::BFloat16:
    return bfloat16ToFloat(load<uint16_t>(p + 2 * i));
  case ElemType::UInt64:
    return static_cast<double>(load<uint64_t>(p + 8 * i));
  default:
    return static_cast<double>(getInt(i));
  }
}

int64_t Tensor::getInt(int64_t i) const {
  const uint8_t *p = data.data();
  switch (elemType) {
  case ElemType::UInt8:
  case ElemType::Bool:
    return p[i];
  case ElemType::Int8:
    return load<int8_t>(p + i);
  case ElemType::UInt16:
    return load<uint16_t>(p + 2 * i);
  case ElemType::Int16:
    return load<int16_t>(p + 2 * i);
  case ElemType::Int32:
    return load<int32_t>(p + 4 * i);
  case ElemType::UInt32:
    return load<uint32_t>(p + 4 * i);
  case ElemType::Int64:
    return load<int64_t>(p + 8 * i);
  case ElemType::UInt64:
    return static_cast<int64_t>(load<uint64_t>(p + 8 * i));
  default: {
    double d = getDouble(i);
    return std::isfinite(d) ? static_cast<int64_t>(d) : 0;
  }
  }
}

void Tensor::setDouble(int64_t i, double v) {
  uint8_t *p = data.data();
  switch (elemType) {
  case ElemType::Float:
    return store<float>(p + 4 * i, static_cast<float>(v));
  case ElemType::Double:
    return store<double>(p + 8 * i, v);
  case ElemType::Float16:
    return store<uint16_t>(p + 2 * i, floatToHalf(static_cast<float>(v)));
  case ElemType::BFloat16:
    return store<uint16_t>(p + 2 * i, floatToBFloat16(static_cast<float>(v)));
  case ElemType::Bool:
    p[i] = v != 0;
    return;
  case ElemType::UInt64:
    return store<uint64_t>(p + 8 * i, std::isfinite(v) ? static_cast<uint64_t>(v) : 0);
  default:
    // NaN/inf have no integer value; C++ leaves the cast undefined, so pick 0 deterministically.
    return setInt(i, std::isfinite(v) ? static_cast<int64_t>(v) : 0);
  }
}

void Tensor::setInt(int64_t i, int64_t v) {
  uint8_t *p = data.data();
  switch (elemType) {
  case ElemType::UInt8:
    p[i] = static_cast<uint8_t>(v);
    return;
  case ElemType::Bool:
    p[i] = v != 0;
    return;
  case ElemType::Int8:
    return store<int8_t>(p + i, static_cast<int8_t>(v));
  case ElemType::UInt16:
    return store<uint16_t>(p + 2 * i, static_cast<uint16_t>(v));
  case ElemType::Int16:
    return store<int16_t>(p + 2 * i, static_cast<int16_t>(v));
  case ElemType::Int32:
    return store<int32_t>(p + 4 * i, static_cast<int32_t>(v));
  case ElemType::UInt32:
    return store<uint32_t>(p + 4 * i, static_cast<uint32_t>(v));
  case ElemType::Int64:
    return store<int64_t>(p + 8 * i, v);
  case ElemType::UInt64:
    return store<uint64_t>(p + 8 * i, static_cast<uint64_t>(v));
  default:
    return setDouble(i, static_cast<double>(v));
  }
}

std::vector<int64_t> Tensor::toInt64s() const {
  std::vector<int64_t> out(numElements());
  for (int64_t i = 0; i < numElements(); ++i)
    out[i] = getInt(i);
  return out;
}

std::vector<double> Tensor::toDoubles() const {
  std::vector<double> out(numElements());
  for (int64_t i = 0; i < numElements(); ++i)
    out[i] = getDouble(i);
  return out;
}

Tensor Tensor::castTo(ElemType to) const {
  if (to == elemType)
    return *this;
  Tensor out(to, dims);
  bool viaInt = !isFloatType(elemType) && elemType != ElemType::UInt64;
  for (int64_t i = 0; i < numElements(); ++i) {
    if (viaInt)
      out.setInt(i, getInt(i));
    else if (elemType == ElemType::UInt64 && !isFloatType(to))
      out.setInt(i, getInt(i));
    else if (elemType == ElemType::Float && to == ElemType::Float16)
      // Convert from the float itself: going through double would round twice.
      out.setDouble(i, load<float>(data.data() + 4 * i));
    else
      out.setDouble(i, getDouble(i));
  }
  return out;
}

Tensor Tensor::reshaped(std::vector<int64_t> shape) const {
  Tensor t = *this;
  t.dims = std::move(shape);
  assert(t.numElements() == numElements());
  return t;
}

std::string Tensor::describe() const { return elemTypeName(elemType) + shapeToString(dims); }

} // namespace tern::onnx
