// GGUF writer: validates the whole file up front, then streams it to a temporary file and renames.
#include "frontends/gguf/GGUFWriter.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"

#include <bit>

namespace tern::fe {
namespace {

template <typename T> void putLE(std::string &out, T v) {
  using U = std::make_unsigned_t<T>;
  U u = static_cast<U>(v);
  for (size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

void putString(std::string &out, llvm::StringRef s) {
  putLE<uint64_t>(out, s.size());
  out.append(s.data(), s.size());
}

template <typename T>
GGUFWriter::Value scalar(GGUFValueType type, T v) {
  GGUFWriter::Value out;
  out.type = type;
  putLE(out.bytes, v);
  return out;
}

llvm::Error fail(llvm::StringRef path, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), path + ": " + message);
}

} // namespace

using Value = GGUFWriter::Value;

Value Value::u8(uint8_t v) { return scalar(GGUFValueType::UInt8, v); }
Value Value::i8(int8_t v) { return scalar(GGUFValueType::Int8, v); }
Value Value::u16(uint16_t v) { return scalar(GGUFValueType::UInt16, v); }
Value Value::i16(int16_t v) { return scalar(GGUFValueType::Int16, v); }
Value Value::u32(uint32_t v) { return scalar(GGUFValueType::UInt32, v); }
Value Value::i32(int32_t v) { return scalar(GGUFValueType::Int32, v); }
Value Value::u64(uint64_t v) { return scalar(GGUFValueType::UInt64, v); }
Value Value::i64(int64_t v) { return scalar(GGUFValueType::Int64, v); }
Value Value::f32(float v) { return scalar(GGUFValueType::Float32, std::bit_cast<uint32_t>(v)); }
Value Value::f64(double v) { return scalar(GGUFValueType::Float64, std::bit_cast<uint64_t>(v)); }
Value Value::boolean(bool v) { return scalar(GGUFValueType::Bool, static_cast<uint8_t>(v)); }
Value Value::string(llvm::StringRef v) {
  Value out;
  out.type = GGUFValueType::String;
  putString(out.bytes, v);
  return out;
}

Value Value::array(GGUFValueType elementType, const std::vector<Value> &elements) {
  Value out;
  out.type = GGUFValueType::Array;
  out.elementType = elementType;
  putLE<uint32_t>(out.bytes, static_cast<uint32_t>(elementType));
  putLE<uint64_t>(out.bytes, elements.size());
  for (const Value &e : elements) {
    // A mismatched element would make the array unreadable; the reader-side test suite relies on
    // the writer producing only valid files, so mismatches are dropped loudly in debug builds.
    assert(e.type == elementType && "array element of the wrong type");
    out.bytes += e.bytes;
  }
  return out;
}

Value Value::stringArray(llvm::ArrayRef<std::string> v) {
  Value out;
  out.type = GGUFValueType::Array;
  out.elementType = GGUFValueType::String;
  putLE<uint32_t>(out.bytes, static_cast<uint32_t>(GGUFValueType::String));
  putLE<uint64_t>(out.bytes, v.size());
  for (const std::string &s : v)
    putString(out.bytes, s);
  return out;
}

template <typename T, typename Put>
static Value packed(GGUFValueType elementType, llvm::ArrayRef<T> v, Put put) {
  Value out;
  out.type = GGUFValueType::Array;
  out.elementType = elementType;
  putLE<uint32_t>(out.bytes, static_cast<uint32_t>(elementType));
  putLE<uint64_t>(out.bytes, v.size());
  for (const T &x : v)
    put(out.bytes, x);
  return out;
}

Value Value::f32Array(llvm::ArrayRef<float> v) {
  return packed(GGUFValueType::Float32, v,
                [](std::string &o, float x) { putLE(o, std::bit_cast<uint32_t>(x)); });
}
Value Value::i32Array(llvm::ArrayRef<int32_t> v) {
  return packed(GGUFValueType::Int32, v, [](std::string &o, int32_t x) { putLE(o, x); });
}
Value Value::u32Array(llvm::ArrayRef<uint32_t> v) {
  return packed(GGUFValueType::UInt32, v, [](std::string &o, uint32_t x) { putLE(o, x); });
}
Value Value::i64Array(llvm::ArrayRef<int64_t> v) {
  return packed(GGUFValueType::Int64, v, [](std::string &o, int64_t x) { putLE(o, x); });
}

GGUFWriter::GGUFWriter(uint64_t alignment, uint32_t version)
    : alignment(alignment), version(version) {}

void GGUFWriter::add(llvm::StringRef key, Value value) {
  kvs.emplace_back(key.str(), std::move(value));
}

void GGUFWriter::addTensor(llvm::StringRef name, std::vector<int64_t> shape, DType type,
                           std::vector<uint8_t> bytes) {
  std::optional<uint32_t> id = ggmlTypeId(type);
  if (!id) {
    deferredError = ("tensor '" + name + "': type " + llvm::StringRef(info(type).name) + " has no GGUF id").str();
    return;
  }
  const uint64_t size = bytes.size();
  auto data = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  addTensor(name, std::move(shape), *id, size, [data](llvm::raw_ostream &os) {
    os.write(reinterpret_cast<const char *>(data->data()), data->size());
    return llvm::Error::success();
  });
}

void GGUFWriter::addTensor(llvm::StringRef name, std::vector<int64_t> shape, uint32_t ggmlTypeId,
                           uint64_t byteSize, DataWriter writer) {
  tensors.push_back({name.str(), std::move(shape), ggmlTypeId, byteSize, std::move(writer)});
}

llvm::Error GGUFWriter::validate(std::vector<uint64_t> &offsets) const {
  auto error = [](const llvm::Twine &m) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), m);
  };
  if (!deferredError.empty())
    return error(deferredError);
  if (version != 2 && version != 3)
    return error("GGUF version " + llvm::Twine(version) + " cannot be written; expected 2 or 3");
  if (alignment == 0 || !llvm::isPowerOf2_64(alignment))
    return error("alignment " + llvm::Twine(alignment) + " is not a positive power of two");
  llvm::StringMap<bool> keys;
  std::string arch;
  for (const auto &[key, value] : kvs) {
    if (!keys.try_emplace(key, true).second)
      return error("key '" + key + "': added twice");
    if (key == "general.architecture" && value.type == GGUFValueType::String)
      arch = value.bytes.substr(8);
    if (key == "general.alignment" &&
        (value.type != GGUFValueType::UInt32 || value.bytes.size() != 4 ||
         static_cast<uint8_t>(value.bytes[0]) + (static_cast<uint8_t>(value.bytes[1]) << 8) +
                 (static_cast<uint64_t>(static_cast<uint8_t>(value.bytes[2])) << 16) +
                 (static_cast<uint64_t>(static_cast<uint8_t>(value.bytes[3])) << 24) !=
             alignment))
      return error("key 'general.alignment' must be the uint32 " + llvm::Twine(alignment) +
                   " the writer was created with");
  }
  llvm::StringMap<bool> names;
  uint64_t offset = 0;
  for (const Tensor &t : tensors) {
    const std::string where = "tensor '" + t.name + "'";
    if (!names.try_emplace(t.name, true).second)
      return error(where + ": added twice");
    if (t.shape.size() > 4)
      return error(where + ": " + llvm::Twine(t.shape.size()) + " dimensions; GGUF allows 4");
    uint64_t elements = 1;
    for (int64_t d : t.shape) {
      if (d < 0)
        return error(where + ": negative dimension " + llvm::Twine(d));
      elements *= static_cast<uint64_t>(d);
    }
    std::string why;
    std::optional<GGMLType> type = ggmlType(t.typeId, arch, why);
    if (!type)
      return error(where + ": " + why);
    const uint64_t row = t.shape.empty() ? 1 : static_cast<uint64_t>(t.shape.back());
    std::optional<uint64_t> need = ggmlTensorBytes(*type, elements);
    if (row % type->blockElements != 0 || !need)
      return error(where + ": row length " + llvm::Twine(row) + " is not a multiple of the " +
                   type->name + " block of " + llvm::Twine(type->blockElements));
    if (*need != t.byteSize)
      return error(where + ": " + llvm::Twine(t.byteSize) + " bytes given, but " + type->name +
                   " with " + llvm::Twine(elements) + " elements takes " + llvm::Twine(*need));
    offsets.push_back(offset);
    offset = llvm::alignTo(offset + t.byteSize, alignment);
  }
  return llvm::Error::success();
}

llvm::Error GGUFWriter::writeTo(llvm::raw_ostream &os, const std::vector<uint64_t> &offsets,
                                llvm::StringRef path) const {
  const bool addAlignmentKey =
      alignment != 32 && llvm::none_of(kvs, [](const auto &kv) {
        return kv.first == "general.alignment";
      });
  std::string header = "GGUF";
  putLE<uint32_t>(header, version);
  putLE<uint64_t>(header, tensors.size());
  putLE<uint64_t>(header, kvs.size() + (addAlignmentKey ? 1 : 0));
  auto putKV = [&](llvm::StringRef key, const Value &v) {
    putString(header, key);
    putLE<uint32_t>(header, static_cast<uint32_t>(v.type));
    header += v.bytes;
  };
  if (addAlignmentKey)
    putKV("general.alignment", Value::u32(static_cast<uint32_t>(alignment)));
  for (const auto &[key, value] : kvs)
    putKV(key, value);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor &t = tensors[i];
    putString(header, t.name);
    putLE<uint32_t>(header, static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) // innermost first
      putLE<uint64_t>(header, static_cast<uint64_t>(*it));
    putLE<uint32_t>(header, t.typeId);
    putLE<uint64_t>(header, offsets[i]);
  }
  header.resize(llvm::alignTo(header.size(), alignment), '\0');
  os << header;
  uint64_t written = 0; // bytes of the data section so far
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor &t = tensors[i];
    os.write_zeros(offsets[i] - written);
    const uint64_t before = os.tell();
    if (llvm::Error err = t.writer(os))
      return err;
    if (os.tell() - before != t.byteSize)
      return fail(path, "tensor '" + t.name + "': its data writer wrote " +
                            llvm::Twine(os.tell() - before) + " bytes, expected " +
                            llvm::Twine(t.byteSize));
    written = offsets[i] + t.byteSize;
  }
  // Pad the last tensor too, as ggml's writer does, so the file size is a multiple of alignment.
  os.write_zeros(llvm::alignTo(written, alignment) - written);
  return llvm::Error::success();
}

llvm::Error GGUFWriter::write(llvm::StringRef path) const {
  std::vector<uint64_t> offsets;
  if (llvm::Error err = validate(offsets))
    return fail(path, llvm::toString(std::move(err)));
  int fd = -1;
  llvm::SmallString<256> tmp;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(path + ".tmp-%%%%%%", fd, tmp))
    return fail(path, "cannot create a temporary file beside it: " + ec.message());
  llvm::Error result = [&]() -> llvm::Error {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    llvm::Error err = writeTo(os, offsets, path);
    os.close();
    // raw_fd_ostream aborts in its destructor on an unchecked stream error.
    const bool streamFailed = os.has_error();
    const std::string streamError = streamFailed ? os.error().message() : "";
    os.clear_error();
    if (err)
      return err;
    if (streamFailed)
      return fail(path, "write failed: " + streamError);
    if (std::error_code ec = llvm::sys::fs::rename(tmp, path))
      return fail(path, "cannot rename " + tmp + " into place: " + ec.message());
    return llvm::Error::success();
  }();
  if (result)
    llvm::sys::fs::remove(tmp);
  return result;
}

} // namespace tern::fe
