// Helpers for the GGUF tests: temp dirs, hand-built GGUF bytes, error text.
#ifndef TERN_TESTS_GGUF_GGUFTESTUTIL_H
#define TERN_TESTS_GGUF_GGUFTESTUTIL_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tern::test {

// The project's shared test data, or "" when the checkout has none beside it.
std::string sharedDataDir();

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
public:
  TempDir();
  ~TempDir();
  std::string file(const std::string &name) const;

private:
  std::string dir;
};

void writeFile(const std::string &path, const std::string &bytes);
std::string readFile(const std::string &path);

// Little-endian encoders for building GGUF files by hand.
std::string u32(uint32_t v);
std::string u64(uint64_t v);
std::string f32(float v);
std::string ggufString(llvm::StringRef s); // uint64 length + bytes

// One metadata entry: key, type tag, value bytes.
std::string kv(llvm::StringRef key, uint32_t type, const std::string &value);
// One tensor info: name, n_dims, ne (innermost first), ggml type id, data offset.
std::string tensorInfo(llvm::StringRef name, const std::vector<uint64_t> &ne, uint32_t type,
                       uint64_t offset);

// A whole file: header (counts taken from the vectors unless overridden), metadata, tensor infos,
// zero padding to |alignment|, then |data|.
struct HandFile {
  uint32_t version = 3;
  std::vector<std::string> kvs;
  std::vector<std::string> infos;
  std::string data;
  uint64_t alignment = 32;
  int64_t tensorCount = -1; // -1: infos.size()
  int64_t kvCount = -1;     // -1: kvs.size()
  std::string bytes() const;
};

// The message of |err| (consumed), or "" on success.
std::string errorText(llvm::Error err);

} // namespace tern::test

#endif
