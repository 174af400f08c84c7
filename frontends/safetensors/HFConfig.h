// Typed access to a Hugging Face config.json that records missing or ill-typed keys as Problems.
#ifndef TERN_FRONTENDS_SAFETENSORS_HFCONFIG_H
#define TERN_FRONTENDS_SAFETENSORS_HFCONFIG_H

#include "frontends/common/ModelDescription.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <optional>
#include <string>
#include <vector>

namespace tern::fe {

// Reads and parses a JSON file; the error names the file and, for syntax errors, line:column.
llvm::Expected<llvm::json::Value> loadJSONFile(llvm::StringRef path);

// Upper bound for any size read from config.json.
inline constexpr int64_t kMaxDimension = int64_t(1) << 31;

class HFConfig {
public:
  HFConfig(std::string path, llvm::json::Object root, std::vector<Problem> &problems)
      : path(std::move(path)), root(std::move(root)), problems(problems) {}

  const std::string &file() const { return path; }
  const llvm::json::Object &json() const { return root; }

  // A dotted key ("rope_parameters.rope_theta") reaches into nested objects; null counts as absent.
  const llvm::json::Value *find(llvm::StringRef key) const;
  bool has(llvm::StringRef key) const { return find(key) != nullptr; }

  // Required keys: an Error problem naming the key when absent or of the wrong type.
  std::optional<int64_t> requirePositiveInt(llvm::StringRef key);
  // Optional keys: |fallback| when absent; an Error problem when present with the wrong type.
  int64_t positiveInt(llvm::StringRef key, int64_t fallback);
  double number(llvm::StringRef key, double fallback);
  bool boolean(llvm::StringRef key, bool fallback);
  std::string string(llvm::StringRef key, llvm::StringRef fallback);
  std::vector<std::string> stringList(llvm::StringRef key);

  void error(llvm::StringRef key, const llvm::Twine &message);
  void warning(llvm::StringRef key, const llvm::Twine &message);

private:
  std::string path;
  llvm::json::Object root;
  std::vector<Problem> &problems;
};

// config.json flattened into printable rows ("config.rope_parameters.rope_theta" = 500000).
std::vector<MetadataEntry> flattenConfig(const llvm::json::Object &root, llvm::StringRef prefix);

} // namespace tern::fe

#endif
