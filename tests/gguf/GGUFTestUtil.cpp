// Helpers for the GGUF tests: temp dirs, hand-built GGUF bytes, error text.
#include "GGUFTestUtil.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"

#include <bit>
#include <fstream>
#include <sstream>

namespace tern::test {

std::string sharedDataDir() {
#ifdef TERN_SHARED_DATA_DIR
  if (llvm::sys::fs::is_directory(TERN_SHARED_DATA_DIR))
    return TERN_SHARED_DATA_DIR;
#endif
  return "";
}

TempDir::TempDir() {
  llvm::SmallString<128> path;
  if (llvm::sys::fs::createUniqueDirectory("tern-gguf-test", path))
    std::abort();
  dir = std::string(path);
}

TempDir::~TempDir() { llvm::sys::fs::remove_directories(dir); }

std::string TempDir::file(const std::string &name) const {
  llvm::SmallString<128> p(dir);
  llvm::sys::path::append(p, name);
  return std::string(p);
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string u32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i)
    s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

std::string u64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i)
    s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

std::string f32(float v) { return u32(std::bit_cast<uint32_t>(v)); }

std::string ggufString(llvm::StringRef s) { return u64(s.size()) + s.str(); }

std::string kv(llvm::StringRef key, uint32_t type, const std::string &value) {
  return ggufString(key) + u32(type) + value;
}

std::string tensorInfo(llvm::StringRef name, const std::vector<uint64_t> &ne, uint32_t type,
                       uint64_t offset) {
  std::string s = ggufString(name) + u32(static_cast<uint32_t>(ne.size()));
  for (uint64_t d : ne)
    s += u64(d);
  return s + u32(type) + u64(offset);
}

std::string HandFile::bytes() const {
  std::string s = "GGUF" + u32(version);
  s += u64(tensorCount < 0 ? infos.size() : static_cast<uint64_t>(tensorCount));
  s += u64(kvCount < 0 ? kvs.size() : static_cast<uint64_t>(kvCount));
  for (const std::string &k : kvs)
    s += k;
  for (const std::string &t : infos)
    s += t;
  s.resize(llvm::alignTo(s.size(), alignment), '\0');
  return s + data;
}

std::string errorText(llvm::Error err) {
  if (!err)
    return "";
  return llvm::toString(std::move(err));
}

} // namespace tern::test
