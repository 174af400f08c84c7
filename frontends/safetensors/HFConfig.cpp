// Typed, problem-recording access to Hugging Face config.json values.
#include "frontends/safetensors/HFConfig.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MemoryBuffer.h"

namespace tern::fe {

llvm::Expected<llvm::json::Value> loadJSONFile(llvm::StringRef path) {
  auto text = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!text)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": cannot read: " + text.getError().message());
  llvm::Expected<llvm::json::Value> json = llvm::json::parse((*text)->getBuffer());
  if (!json) // llvm::json reports "[line:column, byte=N]: what"
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": invalid JSON " + llvm::toString(json.takeError()));
  return json;
}

const llvm::json::Value *HFConfig::find(llvm::StringRef key) const {
  const llvm::json::Object *obj = &root;
  while (true) {
    auto [head, rest] = key.split('.');
    const llvm::json::Value *v = obj->get(head);
    if (!v || v->kind() == llvm::json::Value::Null)
      return nullptr;
    if (rest.empty())
      return v;
    obj = v->getAsObject();
    if (!obj)
      return nullptr;
    key = rest;
  }
}

void HFConfig::error(llvm::StringRef key, const llvm::Twine &message) {
  problems.push_back({Problem::Error, key.str(), (path + ": " + message).str()});
}

void HFConfig::warning(llvm::StringRef key, const llvm::Twine &message) {
  problems.push_back({Problem::Warning, key.str(), (path + ": " + message).str()});
}

std::optional<int64_t> HFConfig::requirePositiveInt(llvm::StringRef key) {
  const llvm::json::Value *v = find(key);
  if (!v) {
    error(key, "missing; expected a positive integer");
    return std::nullopt;
  }
  std::optional<int64_t> n = v->getAsInteger();
  // The bound keeps products of two dimensions (heads * head_dim, ...) inside int64_t.
  if (!n || *n <= 0 || *n > kMaxDimension) {
    std::string text;
    llvm::raw_string_ostream(text) << *v;
    error(key, "is " + text + "; expected a positive integer below 2^31");
    return std::nullopt;
  }
  return n;
}

int64_t HFConfig::positiveInt(llvm::StringRef key, int64_t fallback) {
  if (!has(key))
    return fallback;
  std::optional<int64_t> n = requirePositiveInt(key);
  return n ? *n : fallback;
}

double HFConfig::number(llvm::StringRef key, double fallback) {
  const llvm::json::Value *v = find(key);
  if (!v)
    return fallback;
  if (std::optional<double> d = v->getAsNumber())
    return *d;
  error(key, "expected a number");
  return fallback;
}

bool HFConfig::boolean(llvm::StringRef key, bool fallback) {
  const llvm::json::Value *v = find(key);
  if (!v)
    return fallback;
  if (std::optional<bool> b = v->getAsBoolean())
    return *b;
  error(key, "expected true or false");
  return fallback;
}

std::string HFConfig::string(llvm::StringRef key, llvm::StringRef fallback) {
  const llvm::json::Value *v = find(key);
  if (!v)
    return fallback.str();
  if (std::optional<llvm::StringRef> s = v->getAsString())
    return s->str();
  error(key, "expected a string");
  return fallback.str();
}

std::vector<std::string> HFConfig::stringList(llvm::StringRef key) {
  std::vector<std::string> out;
  const llvm::json::Value *v = find(key);
  if (!v)
    return out;
  const llvm::json::Array *a = v->getAsArray();
  if (!a) {
    error(key, "expected a list of strings");
    return out;
  }
  for (const llvm::json::Value &e : *a) {
    if (std::optional<llvm::StringRef> s = e.getAsString())
      out.push_back(s->str());
    else
      error(key, "expected a list of strings");
  }
  return out;
}

namespace {

void flattenInto(const llvm::json::Object &obj, const std::string &prefix,
                 std::vector<MetadataEntry> &out) {
  std::vector<llvm::StringRef> keys;
  for (const auto &kv : obj)
    keys.push_back(kv.first);
  llvm::sort(keys);
  for (llvm::StringRef k : keys) {
    const llvm::json::Value &v = *obj.get(k);
    std::string key = prefix + "." + k.str();
    if (const llvm::json::Object *nested = v.getAsObject()) {
      flattenInto(*nested, key, out);
      continue;
    }
    MetadataEntry e{key, "", ""};
    llvm::raw_string_ostream os(e.value);
    switch (v.kind()) {
    case llvm::json::Value::Null:
      e.type = "null";
      os << "null";
      break;
    case llvm::json::Value::Boolean:
      e.type = "bool";
      os << v;
      break;
    case llvm::json::Value::Number:
      e.type = v.getAsInteger() ? "int" : "float";
      os << v;
      break;
    case llvm::json::Value::String:
      e.type = "string";
      os << *v.getAsString();
      break;
    case llvm::json::Value::Array: {
      // Long arrays would drown `inspect`; the first few entries say what it is.
      const llvm::json::Array &a = *v.getAsArray();
      e.type = "array[" + std::to_string(a.size()) + "]";
      os << "[";
      for (size_t i = 0; i < a.size() && i < 8; ++i)
        os << (i ? ", " : "") << a[i];
      os << (a.size() > 8 ? ", ...]" : "]");
      break;
    }
    case llvm::json::Value::Object:
      break;
    }
    out.push_back(std::move(e));
  }
}

} // namespace

std::vector<MetadataEntry> flattenConfig(const llvm::json::Object &root, llvm::StringRef prefix) {
  std::vector<MetadataEntry> out;
  flattenInto(root, prefix.str(), out);
  return out;
}

} // namespace tern::fe
