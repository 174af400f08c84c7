// GGUF parsing and validation: every length and count is checked against the bytes that remain,
// so a truncated or hostile file gives an error that names the field, never a crash or a hang.
#include "frontends/gguf/GGUFReader.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <bit>
#include <numeric>

namespace tern::fe {
namespace {

using llvm::support::endian::read16le;
using llvm::support::endian::read32le;
using llvm::support::endian::read64le;

constexpr uint32_t kMaxDims = 4;       // GGML_MAX_DIMS
constexpr unsigned kMaxArrayDepth = 32; // arrays of arrays; bounds the parser's recursion
// Smallest encodings, used to bound counts by the bytes left: a key/value is at least an empty
// key (8) + type (4) + a one-byte value; a tensor info is an empty name (8) + n_dims (4) + type
// (4) + offset (8).
constexpr uint64_t kMinKVBytes = 13;
constexpr uint64_t kMinTensorInfoBytes = 24;

llvm::Error fail(llvm::StringRef path, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), path + ": " + message);
}

// A bounds-checked position in the mapped file.
class Cursor {
public:
  Cursor(llvm::StringRef path, const uint8_t *data, uint64_t size)
      : path(path), data(data), size(size) {}

  uint64_t offset() const { return pos; }
  uint64_t offsetOf(const uint8_t *p) const { return static_cast<uint64_t>(p - data); }
  uint64_t remaining() const { return size - pos; }
  const uint8_t *here() const { return data + pos; }

  llvm::Error need(uint64_t bytes, const llvm::Twine &what) const {
    if (bytes <= remaining())
      return llvm::Error::success();
    return fail(path, what + ": truncated: needs " + llvm::Twine(bytes) + " bytes at offset " +
                          llvm::Twine(pos) + ", but the file ends at " + llvm::Twine(size));
  }
  llvm::Expected<const uint8_t *> take(uint64_t bytes, const llvm::Twine &what) {
    if (llvm::Error err = need(bytes, what))
      return std::move(err);
    const uint8_t *p = data + pos;
    pos += bytes;
    return p;
  }
  llvm::Expected<uint32_t> u32(const llvm::Twine &what) {
    auto p = take(4, what);
    if (!p)
      return p.takeError();
    return read32le(*p);
  }
  llvm::Expected<uint64_t> u64(const llvm::Twine &what) {
    auto p = take(8, what);
    if (!p)
      return p.takeError();
    return read64le(*p);
  }
  // A GGUF string: uint64 length, then that many bytes (no terminator).
  llvm::Expected<llvm::StringRef> string(const llvm::Twine &what) {
    auto length = u64(what + " length");
    if (!length)
      return length.takeError();
    if (*length > remaining())
      return fail(path, what + ": string length " + llvm::Twine(*length) + " at offset " +
                            llvm::Twine(pos - 8) + " runs past the end of the file (" +
                            llvm::Twine(remaining()) + " bytes left)");
    auto p = take(*length, what);
    if (!p)
      return p.takeError();
    return llvm::StringRef(reinterpret_cast<const char *>(*p), *length);
  }

  llvm::StringRef path;

private:
  const uint8_t *data;
  uint64_t size;
  uint64_t pos = 0;
};

llvm::Expected<GGUFValueType> valueType(Cursor &c, const llvm::Twine &what) {
  auto raw = c.u32(what);
  if (!raw)
    return raw.takeError();
  if (*raw >= kGGUFValueTypeCount)
    return fail(c.path, what + ": unknown metadata value type " + llvm::Twine(*raw) +
                            " at offset " + llvm::Twine(c.offset() - 4) +
                            "; expected 0..12 (uint8 .. float64)");
  return static_cast<GGUFValueType>(*raw);
}

llvm::Error checkBools(Cursor &c, const uint8_t *p, uint64_t count, const llvm::Twine &what) {
  for (uint64_t i = 0; i < count; ++i)
    if (p[i] > 1)
      return fail(c.path, what + ": bool byte " + llvm::Twine(p[i]) + " at offset " +
                              llvm::Twine(c.offsetOf(p + i)) +
                              " is neither 0 nor 1");
  return llvm::Error::success();
}

llvm::Expected<GGUFValue> parseValue(Cursor &c, GGUFValueType type, const llvm::Twine &what,
                                     unsigned depth);

llvm::Expected<GGUFValue> parseArray(Cursor &c, const llvm::Twine &what, unsigned depth) {
  if (depth >= kMaxArrayDepth)
    return fail(c.path, what + ": arrays nested more than " + llvm::Twine(kMaxArrayDepth) +
                            " deep");
  GGUFValue v;
  v.type = GGUFValueType::Array;
  auto element = valueType(c, what + " element type");
  if (!element)
    return element.takeError();
  v.elementType = *element;
  auto count = c.u64(what + " element count");
  if (!count)
    return count.takeError();
  v.count = *count;
  // Bound the count by the bytes that remain before allocating anything for it.
  const uint64_t fixed = valueTypeSize(v.elementType);
  const uint64_t minBytes = fixed ? fixed : (v.elementType == GGUFValueType::String ? 8 : 12);
  if (v.count > c.remaining() / minBytes)
    return fail(c.path, what + ": array of " + llvm::Twine(v.count) + " " +
                            valueTypeName(v.elementType) + " elements at offset " +
                            llvm::Twine(c.offset() - 12) + " cannot fit in the " +
                            llvm::Twine(c.remaining()) + " bytes left in the file");
  if (fixed) {
    auto p = c.take(v.count * fixed, what + " elements");
    if (!p)
      return p.takeError();
    v.raw = *p;
    if (v.elementType == GGUFValueType::Bool)
      if (llvm::Error err = checkBools(c, v.raw, v.count, what))
        return std::move(err);
    return v;
  }
  if (v.elementType == GGUFValueType::String) {
    v.strings.reserve(v.count);
    for (uint64_t i = 0; i < v.count; ++i) {
      auto s = c.string(what + "[" + llvm::Twine(i) + "]");
      if (!s)
        return s.takeError();
      v.strings.push_back(*s);
    }
    return v;
  }
  v.arrays.reserve(v.count);
  for (uint64_t i = 0; i < v.count; ++i) {
    auto inner = parseArray(c, what + "[" + llvm::Twine(i) + "]", depth + 1);
    if (!inner)
      return inner.takeError();
    v.arrays.push_back(std::move(*inner));
  }
  return v;
}

llvm::Expected<GGUFValue> parseValue(Cursor &c, GGUFValueType type, const llvm::Twine &what,
                                     unsigned depth) {
  if (type == GGUFValueType::Array)
    return parseArray(c, what, depth);
  GGUFValue v;
  v.type = type;
  if (type == GGUFValueType::String) {
    auto s = c.string(what);
    if (!s)
      return s.takeError();
    v.string = *s;
    return v;
  }
  auto p = c.take(valueTypeSize(type), what);
  if (!p)
    return p.takeError();
  v.raw = *p;
  if (type == GGUFValueType::Bool)
    if (llvm::Error err = checkBools(c, v.raw, 1, what))
      return std::move(err);
  return v;
}

std::optional<int64_t> readInt(GGUFValueType type, const uint8_t *p) {
  switch (type) {
  case GGUFValueType::UInt8:
  case GGUFValueType::Bool:
    return p[0];
  case GGUFValueType::Int8:
    return static_cast<int8_t>(p[0]);
  case GGUFValueType::UInt16:
    return read16le(p);
  case GGUFValueType::Int16:
    return static_cast<int16_t>(read16le(p));
  case GGUFValueType::UInt32:
    return read32le(p);
  case GGUFValueType::Int32:
    return static_cast<int32_t>(read32le(p));
  case GGUFValueType::UInt64: {
    uint64_t u = read64le(p);
    if (u > static_cast<uint64_t>(INT64_MAX))
      return std::nullopt;
    return static_cast<int64_t>(u);
  }
  case GGUFValueType::Int64:
    return static_cast<int64_t>(read64le(p));
  default:
    return std::nullopt;
  }
}

std::optional<double> readNumber(GGUFValueType type, const uint8_t *p) {
  if (type == GGUFValueType::Float32)
    return std::bit_cast<float>(read32le(p));
  if (type == GGUFValueType::Float64)
    return std::bit_cast<double>(read64le(p));
  if (type == GGUFValueType::UInt64)
    return static_cast<double>(read64le(p));
  if (type == GGUFValueType::Bool)
    return std::nullopt;
  if (auto i = readInt(type, p))
    return static_cast<double>(*i);
  return std::nullopt;
}

std::string scalarText(GGUFValueType type, const uint8_t *p) {
  switch (type) {
  case GGUFValueType::Bool:
    return p[0] ? "true" : "false";
  case GGUFValueType::UInt64:
    return std::to_string(read64le(p));
  case GGUFValueType::Float32:
  case GGUFValueType::Float64: {
    // Enough digits to read the same value back: 9 for float32, 17 for float64.
    char text[32];
    std::snprintf(text, sizeof(text), type == GGUFValueType::Float32 ? "%.9g" : "%.17g",
                  *readNumber(type, p));
    return text;
  }
  default:
    return std::to_string(*readInt(type, p));
  }
}

std::string quoted(llvm::StringRef s, size_t maxString) {
  std::string out = "\"";
  llvm::raw_string_ostream os(out);
  llvm::printEscapedString(s.take_front(maxString), os);
  os << "\"";
  if (s.size() > maxString)
    os << "... (" << s.size() << " bytes)";
  return out;
}

} // namespace

std::optional<int64_t> GGUFValue::asInt() const {
  if (isArray() || type == GGUFValueType::String || !raw)
    return std::nullopt;
  return readInt(type, raw);
}
std::optional<double> GGUFValue::asNumber() const {
  if (isArray() || type == GGUFValueType::String || !raw)
    return std::nullopt;
  return readNumber(type, raw);
}
std::optional<bool> GGUFValue::asBool() const {
  if (type != GGUFValueType::Bool || !raw)
    return std::nullopt;
  return raw[0] != 0;
}
std::optional<llvm::StringRef> GGUFValue::asString() const {
  if (type != GGUFValueType::String)
    return std::nullopt;
  return string;
}
std::optional<int64_t> GGUFValue::intAt(uint64_t i) const {
  if (!isArray() || i >= count || !raw)
    return std::nullopt;
  return readInt(elementType, raw + i * valueTypeSize(elementType));
}
std::optional<double> GGUFValue::numberAt(uint64_t i) const {
  if (!isArray() || i >= count || !raw)
    return std::nullopt;
  return readNumber(elementType, raw + i * valueTypeSize(elementType));
}

std::string typeText(const GGUFValue &v) {
  if (!v.isArray())
    return valueTypeName(v.type).str();
  return ("array[" + valueTypeName(v.elementType) + "]").str();
}

std::string valueText(const GGUFValue &v, size_t maxItems, size_t maxString) {
  if (v.type == GGUFValueType::String)
    return quoted(v.string, maxString);
  if (!v.isArray())
    return scalarText(v.type, v.raw);
  std::string out = std::to_string(v.count) + " items: [";
  const uint64_t shown = std::min<uint64_t>(v.count, maxItems);
  for (uint64_t i = 0; i < shown; ++i) {
    if (i)
      out += ", ";
    if (v.elementType == GGUFValueType::String)
      out += quoted(v.strings[i], 40);
    else if (v.elementType == GGUFValueType::Array)
      out += valueText(v.arrays[i], std::max<size_t>(1, maxItems / 2), maxString);
    else
      out += scalarText(v.elementType, v.raw + i * valueTypeSize(v.elementType));
  }
  if (v.count > shown)
    out += ", ...";
  return out + "]";
}

llvm::Expected<std::unique_ptr<GGUFReader>> GGUFReader::open(llvm::StringRef path) {
  // No null terminator: llvm then maps the file (when large enough) instead of copying it.
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(path, "cannot read: " + buffer.getError().message());
  std::unique_ptr<GGUFReader> reader(new GGUFReader());
  reader->filePath = path.str();
  reader->buffer = std::move(*buffer);
  if (llvm::Error err = reader->parse())
    return std::move(err);
  return reader;
}

const GGUFValue *GGUFReader::find(llvm::StringRef key) const {
  auto it = keyIndex.find(key);
  return it == keyIndex.end() ? nullptr : &kvs[it->second].second;
}

llvm::Error GGUFReader::parse() {
  const auto *base = reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
  const uint64_t size = buffer->getBufferSize();
  Cursor c(filePath, base, size);

  // Header: magic, version, tensor count, metadata count.
  if (size < 4)
    return fail(filePath, "file is " + llvm::Twine(size) +
                              " bytes, too short for a GGUF header (magic \"GGUF\")");
  auto magic = c.take(4, "magic");
  if (!magic)
    return magic.takeError();
  if (std::memcmp(*magic, "GGUF", 4) != 0)
    return fail(filePath, "bad magic: expected \"GGUF\" (47 47 55 46), found " +
                              llvm::toHex(llvm::StringRef(reinterpret_cast<const char *>(*magic), 4),
                                          /*LowerCase=*/true));
  auto version = c.u32("header version");
  if (!version)
    return version.takeError();
  if (*version == 1)
    return fail(filePath, "GGUF version 1 is not supported (its counts and string lengths are "
                          "32-bit); expected version 2 or 3 (re-convert with a current llama.cpp)");
  if (*version != 2 && *version != 3) {
    if (llvm::byteswap(*version) >= 1 && llvm::byteswap(*version) <= 3)
      return fail(filePath, "big-endian GGUF (version field " + llvm::Twine(*version) +
                                ") is not supported; expected a little-endian file");
    return fail(filePath, "unknown GGUF version " + llvm::Twine(*version) +
                              "; expected version 2 or 3");
  }
  fileVersion = *version;
  auto tensorCount = c.u64("header tensor count");
  if (!tensorCount)
    return tensorCount.takeError();
  auto kvCount = c.u64("header metadata count");
  if (!kvCount)
    return kvCount.takeError();
  if (*kvCount > c.remaining() / kMinKVBytes)
    return fail(filePath, "header metadata count " + llvm::Twine(*kvCount) +
                              " is impossible: the " + llvm::Twine(c.remaining()) +
                              " bytes after the header hold at most " +
                              llvm::Twine(c.remaining() / kMinKVBytes) + " key/value pairs");

  // Metadata.
  kvs.reserve(*kvCount);
  for (uint64_t i = 0; i < *kvCount; ++i) {
    auto key = c.string("metadata key #" + llvm::Twine(i));
    if (!key)
      return key.takeError();
    const std::string where = ("key '" + *key + "'").str();
    auto type = valueType(c, where + " type");
    if (!type)
      return type.takeError();
    auto value = parseValue(c, *type, where + " value", 0);
    if (!value)
      return value.takeError();
    if (!keyIndex.try_emplace(*key, kvs.size()).second)
      return fail(filePath, where + ": duplicate key (metadata #" + llvm::Twine(i) +
                                " repeats an earlier key)");
    kvs.emplace_back(key->str(), std::move(*value));
  }

  if (const GGUFValue *a = find("general.architecture")) {
    if (!a->asString())
      return fail(filePath, "key 'general.architecture': expected a string, found " +
                                typeText(*a));
    arch = a->asString()->str();
  }
  if (const GGUFValue *a = find("general.alignment")) {
    std::optional<int64_t> v = a->asInt();
    if (!v || a->type == GGUFValueType::Bool)
      return fail(filePath, "key 'general.alignment': expected an unsigned integer (uint32), "
                            "found " + typeText(*a));
    if (*v <= 0 || !llvm::isPowerOf2_64(static_cast<uint64_t>(*v)))
      return fail(filePath, "key 'general.alignment': " + llvm::Twine(*v) +
                                " is not a positive power of two");
    fileAlignment = static_cast<uint64_t>(*v);
  }

  // Tensor infos.
  if (*tensorCount > c.remaining() / kMinTensorInfoBytes)
    return fail(filePath, "header tensor count " + llvm::Twine(*tensorCount) +
                              " is impossible: the " + llvm::Twine(c.remaining()) +
                              " bytes after the metadata hold at most " +
                              llvm::Twine(c.remaining() / kMinTensorInfoBytes) + " tensor infos");
  llvm::StringMap<size_t> names;
  infos.reserve(*tensorCount);
  for (uint64_t i = 0; i < *tensorCount; ++i) {
    GGUFTensorInfo t;
    auto name = c.string("tensor info #" + llvm::Twine(i) + " name");
    if (!name)
      return name.takeError();
    t.name = name->str();
    const std::string where = "tensor '" + t.name + "'";
    auto dims = c.u32(where + " n_dims");
    if (!dims)
      return dims.takeError();
    if (*dims > kMaxDims)
      return fail(filePath, where + ": n_dims is " + llvm::Twine(*dims) +
                                "; ggml tensors have at most " + llvm::Twine(kMaxDims));
    uint64_t elements = 1;
    bool overflow = false;
    for (uint32_t d = 0; d < *dims; ++d) {
      auto ne = c.u64(where + " ne[" + llvm::Twine(d) + "]");
      if (!ne)
        return ne.takeError();
      if (*ne > static_cast<uint64_t>(INT64_MAX))
        return fail(filePath, where + ": ne[" + llvm::Twine(d) + "] = " + llvm::Twine(*ne) +
                                  " is negative as ggml's int64 dimensions");
      if (*ne != 0 && elements > static_cast<uint64_t>(INT64_MAX) / *ne)
        overflow = true;
      elements *= *ne;
      t.ne.push_back(*ne);
    }
    if (overflow)
      return fail(filePath, where + ": element count overflows 64 bits");
    auto typeId = c.u32(where + " type");
    if (!typeId)
      return typeId.takeError();
    t.typeId = *typeId;
    std::string why;
    std::optional<GGMLType> type = ggmlType(*typeId, arch, why);
    if (!type)
      return fail(filePath, where + ": " + why);
    t.type = *type;
    auto offset = c.u64(where + " offset");
    if (!offset)
      return offset.takeError();
    t.offset = *offset;
    const uint64_t rowLength = t.ne.empty() ? 1 : t.ne[0];
    if (rowLength % t.type.blockElements != 0)
      return fail(filePath, where + ": row length ne[0] = " + llvm::Twine(rowLength) +
                                " is not a multiple of the " + t.type.name + " block of " +
                                llvm::Twine(t.type.blockElements) + " elements");
    std::optional<uint64_t> bytes = ggmlTensorBytes(t.type, elements);
    if (!bytes)
      return fail(filePath, where + ": " + llvm::Twine(elements) + " elements of type " +
                                t.type.name + " have no valid byte size");
    t.byteSize = *bytes;
    if (!names.try_emplace(t.name, i).second)
      return fail(filePath, where + ": duplicate tensor name (tensor info #" + llvm::Twine(i) +
                                " repeats tensor #" + llvm::Twine(names[t.name]) + ")");
    infos.push_back(std::move(t));
  }

  // Data: the section starts at the next multiple of the alignment; each tensor must be aligned
  // within it, lie inside the file and not overlap another.
  dataStart = llvm::alignTo(c.offset(), fileAlignment);
  for (GGUFTensorInfo &t : infos) {
    const std::string where = "tensor '" + t.name + "'";
    if (t.offset % fileAlignment != 0)
      return fail(filePath, where + ": data offset " + llvm::Twine(t.offset) +
                                " (relative to the data section at " + llvm::Twine(dataStart) +
                                ") is not a multiple of the alignment " +
                                llvm::Twine(fileAlignment));
    if (t.offset > size || dataStart > size - t.offset ||
        t.byteSize > size - dataStart - t.offset) {
      const std::string start = t.offset > UINT64_MAX - dataStart
                                    ? std::to_string(dataStart) + " + " + std::to_string(t.offset)
                                    : std::to_string(dataStart + t.offset);
      return fail(filePath, where + ": data [offset " + start + ", " + llvm::Twine(t.byteSize) +
                                " bytes] extends past the end of the file (" + llvm::Twine(size) +
                                " bytes)");
    }
    t.fileOffset = dataStart + t.offset;
  }
  std::vector<size_t> order(infos.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return infos[a].offset < infos[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const GGUFTensorInfo &a = infos[order[k - 1]], &b = infos[order[k]];
    if (a.byteSize > 0 && b.byteSize > 0 && a.offset + a.byteSize > b.offset)
      return fail(filePath, "tensor '" + b.name + "': data [offset " + llvm::Twine(b.fileOffset) +
                                ", " + llvm::Twine(b.byteSize) + " bytes] overlaps tensor '" +
                                a.name + "' [offset " + llvm::Twine(a.fileOffset) + ", " +
                                llvm::Twine(a.byteSize) + " bytes]");
  }
  return llvm::Error::success();
}

std::vector<TensorRecord> GGUFReader::records() const {
  const auto *base = reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
  std::vector<TensorRecord> out;
  out.reserve(infos.size());
  for (const GGUFTensorInfo &t : infos) {
    if (!t.type.dtype)
      continue;
    TensorRecord r;
    r.name = t.name;
    r.dtype = *t.type.dtype;
    for (auto it = t.ne.rbegin(); it != t.ne.rend(); ++it) // GGUF: innermost first
      r.shape.push_back(static_cast<int64_t>(*it));
    r.file = filePath;
    r.fileOffset = t.fileOffset;
    r.byteSize = t.byteSize;
    r.data = base + t.fileOffset;
    out.push_back(std::move(r));
  }
  return out;
}

} // namespace tern::fe
