// Parses and validates SafeTensors headers and shard indexes; tensor bytes stay in the file
// mapping.
#include "frontends/safetensors/SafeTensorsReader.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <map>

namespace tern::fe {
namespace {

llvm::Error fail(llvm::StringRef file, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), file + ": " + message);
}

const char *kindName(const llvm::json::Value &v) {
  switch (v.kind()) {
  case llvm::json::Value::Null:
    return "null";
  case llvm::json::Value::Boolean:
    return "a boolean";
  case llvm::json::Value::Number:
    return "a number";
  case llvm::json::Value::String:
    return "a string";
  case llvm::json::Value::Array:
    return "an array";
  case llvm::json::Value::Object:
    return "an object";
  }
  return "?";
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// One tensor entry of a header, before the data section is known to hold it.
struct Entry {
  std::string name;
  llvm::StringRef dtypeName;
  DType dtype;
  uint64_t elementSize;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

llvm::Expected<Entry> parseEntry(llvm::StringRef file, llvm::StringRef name,
                                 const llvm::json::Value &value) {
  std::string where = ("tensor '" + name + "'").str();
  const llvm::json::Object *obj = value.getAsObject();
  if (!obj)
    return fail(file, where + ": expected an object with dtype, shape and data_offsets, got " +
                          kindName(value));
  Entry e;
  e.name = name.str();

  std::optional<llvm::StringRef> dtype = obj->getString("dtype");
  if (!dtype)
    return fail(file, where + ": missing string 'dtype'");
  auto known = safeTensorsDType(*dtype);
  if (!known)
    return fail(file, where + ": unknown dtype '" + *dtype +
                          "'; expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL");
  e.dtypeName = *dtype;
  e.dtype = known->first;
  e.elementSize = known->second;

  const llvm::json::Array *shape = obj->getArray("shape");
  if (!shape)
    return fail(file, where + ": missing array 'shape'");
  uint64_t elements = 1;
  bool overflow = false;
  for (const llvm::json::Value &d : *shape) {
    std::optional<int64_t> dim = d.getAsInteger();
    if (!dim || *dim < 0)
      return fail(file, where + ": shape entries must be non-negative integers");
    e.shape.push_back(*dim);
    overflow |= __builtin_mul_overflow(elements, static_cast<uint64_t>(*dim), &elements);
  }
  uint64_t needed = 0;
  overflow |= __builtin_mul_overflow(elements, e.elementSize, &needed);
  if (overflow)
    return fail(file, where + ": shape " + shapeText(e.shape) + " is too large to address");

  const llvm::json::Array *offsets = obj->getArray("data_offsets");
  std::optional<uint64_t> begin, end;
  if (offsets && offsets->size() == 2) {
    begin = (*offsets)[0].getAsUINT64();
    end = (*offsets)[1].getAsUINT64();
  }
  if (!begin || !end)
    return fail(file, where + ": 'data_offsets' must be [begin, end] with non-negative integers");
  e.begin = *begin;
  e.end = *end;
  if (e.begin > e.end)
    return fail(file, where + ": data_offsets [" + llvm::Twine(e.begin) + ", " +
                          llvm::Twine(e.end) + "] end before they begin");
  if (e.end - e.begin != needed)
    return fail(file, where + ": data_offsets [" + llvm::Twine(e.begin) + ", " +
                          llvm::Twine(e.end) + "] give " + llvm::Twine(e.end - e.begin) +
                          " bytes, but " + e.dtypeName + " " + shapeText(e.shape) + " needs " +
                          llvm::Twine(needed));
  return e;
}

} // namespace

std::optional<std::pair<DType, uint64_t>> safeTensorsDType(llvm::StringRef name) {
  static const std::pair<llvm::StringLiteral, std::pair<DType, uint64_t>> table[] = {
      {"F64", {DType::F64, 8}},   {"F32", {DType::F32, 4}}, {"F16", {DType::F16, 2}},
      {"BF16", {DType::BF16, 2}}, {"I64", {DType::I64, 8}}, {"I32", {DType::I32, 4}},
      {"I16", {DType::I16, 2}},   {"I8", {DType::I8, 1}},   {"U8", {DType::U8, 1}},
      {"BOOL", {DType::BOOL, 1}},
  };
  for (const auto &[n, t] : table)
    if (n == name)
      return t;
  return std::nullopt;
}

llvm::StringRef safeTensorsDTypeName(DType type) {
  switch (type) {
  case DType::F64:
    return "F64";
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  case DType::I64:
    return "I64";
  case DType::I32:
    return "I32";
  case DType::I16:
    return "I16";
  case DType::I8:
    return "I8";
  case DType::U8:
    return "U8";
  case DType::BOOL:
    return "BOOL";
  default:
    return "?";
  }
}

llvm::Expected<std::unique_ptr<SafeTensorsReader>> SafeTensorsReader::open(llvm::StringRef path) {
  std::unique_ptr<SafeTensorsReader> reader(new SafeTensorsReader());
  llvm::Error err =
      path.ends_with(".json") ? reader->readIndex(path.str()) : reader->readFile(path.str());
  if (err)
    return std::move(err);
  return std::move(reader);
}

llvm::Error SafeTensorsReader::readFile(const std::string &path) {
  // Mapped, not read: checkpoints are gigabytes and the importer only references the bytes.
  auto mapped = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!mapped)
    return fail(path, "cannot open: " + mapped.getError().message());
  llvm::StringRef bytes = (*mapped)->getBuffer();
  uint64_t size = bytes.size();
  if (size < 8)
    return fail(path, "file is " + llvm::Twine(size) +
                          " bytes; a SafeTensors file starts with an 8-byte little-endian header "
                          "length");
  uint64_t headerLen = llvm::support::endian::read64le(bytes.data());
  if (headerLen > kMaxSafeTensorsHeaderBytes)
    return fail(path, "header length " + llvm::Twine(headerLen) + " exceeds the limit of " +
                          llvm::Twine(kMaxSafeTensorsHeaderBytes) + " bytes");
  if (headerLen > size - 8)
    return fail(path, "header length " + llvm::Twine(headerLen) +
                          " runs past the end of the file (" + llvm::Twine(size - 8) +
                          " bytes follow the length field)");
  if (headerLen < 2)
    return fail(path,
                "header length " + llvm::Twine(headerLen) + " is too short for a JSON object");

  llvm::Expected<llvm::json::Value> header = llvm::json::parse(bytes.substr(8, headerLen));
  if (!header)
    return fail(path, "header is not valid JSON: " + llvm::toString(header.takeError()));
  const llvm::json::Object *root = header->getAsObject();
  if (!root)
    return fail(path, llvm::Twine("header must be a JSON object, got ") + kindName(*header));

  const uint64_t dataStart = 8 + headerLen;
  const uint64_t dataSize = size - dataStart;
  std::vector<Entry> entries;
  // llvm::json::Object is unordered; sort keys so errors and metadata are deterministic.
  std::vector<llvm::StringRef> keys;
  for (const auto &kv : *root)
    keys.push_back(kv.first);
  llvm::sort(keys);
  for (llvm::StringRef key : keys) {
    const llvm::json::Value &value = *root->get(key);
    if (key == "__metadata__") {
      const llvm::json::Object *m = value.getAsObject();
      if (!m)
        return fail(path, llvm::Twine("'__metadata__' must be an object of strings, got ") +
                              kindName(value));
      std::vector<std::pair<std::string, std::string>> pairs;
      for (const auto &[k, v] : *m) {
        std::optional<llvm::StringRef> s = v.getAsString();
        if (!s)
          return fail(path,
                      "'__metadata__' key '" + k.str() + "' must be a string, got " + kindName(v));
        pairs.emplace_back(k.str(), s->str());
      }
      llvm::sort(pairs);
      llvm::append_range(meta, pairs);
      continue;
    }
    auto entry = parseEntry(path, key, value);
    if (!entry)
      return entry.takeError();
    if (entry->end > dataSize)
      return fail(path, "tensor '" + key + "': data_offsets [" + llvm::Twine(entry->begin) + ", " +
                            llvm::Twine(entry->end) + "] lie outside the data section of " +
                            llvm::Twine(dataSize) + " bytes");
    entries.push_back(std::move(*entry));
  }

  llvm::sort(entries, [](const Entry &a, const Entry &b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  // Empty tensors own no bytes, so only non-empty ones can overlap.
  const Entry *last = nullptr;
  for (const Entry &e : entries) {
    if (e.begin == e.end)
      continue;
    if (last && e.begin < last->end)
      return fail(path, "tensor '" + e.name + "': data_offsets [" + llvm::Twine(e.begin) + ", " +
                            llvm::Twine(e.end) + "] overlap tensor '" + last->name + "' [" +
                            llvm::Twine(last->begin) + ", " + llvm::Twine(last->end) + "]");
    if (!last || e.end > last->end)
      last = &e;
  }

  const uint8_t *base = reinterpret_cast<const uint8_t *>(bytes.data());
  for (Entry &e : entries) {
    TensorRecord r;
    r.name = std::move(e.name);
    r.dtype = e.dtype;
    r.shape = std::move(e.shape);
    r.file = path;
    r.fileOffset = dataStart + e.begin;
    r.byteSize = e.end - e.begin;
    r.data = base + r.fileOffset;
    records.push_back(std::move(r));
  }
  fileNames.push_back(path);
  buffers.push_back(std::move(*mapped));
  return llvm::Error::success();
}

llvm::Error SafeTensorsReader::readIndex(const std::string &path) {
  auto text = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!text)
    return fail(path, "cannot open: " + text.getError().message());
  llvm::Expected<llvm::json::Value> json = llvm::json::parse((*text)->getBuffer());
  if (!json)
    return fail(path, "not valid JSON: " + llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  const llvm::json::Object *weightMap = root ? root->getObject("weight_map") : nullptr;
  if (!weightMap)
    return fail(path, "missing object 'weight_map' (tensor name -> shard file)");

  if (const llvm::json::Object *m = root->getObject("metadata")) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto &[k, v] : *m) {
      std::string s;
      llvm::raw_string_ostream os(s);
      if (auto str = v.getAsString())
        os << *str;
      else
        os << v;
      pairs.emplace_back(k.str(), s);
    }
    llvm::sort(pairs);
    llvm::append_range(meta, pairs);
  }

  // Shard -> the tensors the index puts there; std::map keeps shard order deterministic.
  std::map<std::string, std::vector<std::string>> shards;
  for (const auto &[name, shard] : *weightMap) {
    std::optional<llvm::StringRef> file = shard.getAsString();
    if (!file)
      return fail(path, "weight_map entry for tensor '" + name.str() +
                            "' must be a shard file name, got " + kindName(shard));
    // Shards live beside the index; a name that climbs out of that directory is refused.
    if (file->empty() || llvm::sys::path::is_absolute(*file) ||
        llvm::is_contained(
            llvm::make_range(llvm::sys::path::begin(*file), llvm::sys::path::end(*file)), ".."))
      return fail(path, "weight_map entry for tensor '" + name.str() + "' names shard '" + *file +
                            "'; expected a file name relative to the index");
    shards[file->str()].push_back(name.str());
  }
  if (shards.empty())
    return fail(path, "'weight_map' names no tensors");

  llvm::SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  llvm::StringMap<std::string> owner; // tensor -> shard that holds it
  for (auto &[shard, names] : shards) {
    llvm::sort(names);
    llvm::SmallString<256> shardPath(dir);
    llvm::sys::path::append(shardPath, shard);
    if (!llvm::sys::fs::exists(shardPath))
      return fail(path, "shard '" + shard + "' (named for tensor '" + names.front() +
                            "') does not exist");
    size_t first = records.size();
    if (llvm::Error err = readFile(std::string(shardPath)))
      return err;
    llvm::StringMap<bool> present;
    for (size_t i = first; i < records.size(); ++i) {
      auto [it, inserted] = owner.try_emplace(records[i].name, shard);
      if (!inserted)
        return fail(shardPath,
                    "tensor '" + records[i].name + "' is also in shard '" + it->second + "'");
      present[records[i].name] = true;
    }
    for (const std::string &name : names)
      if (!present.count(name))
        return fail(path, "weight_map puts tensor '" + name + "' in shard '" + shard +
                              "', but that shard has no such tensor");
  }
  return llvm::Error::success();
}

} // namespace tern::fe
