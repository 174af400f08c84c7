// Builders for SafeTensors files and tiny Hugging Face model directories used by the tests.
#ifndef TERN_TESTS_SAFETENSORS_TESTFILES_H
#define TERN_TESTS_SAFETENSORS_TESTFILES_H

#include "llvm/Support/JSON.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tern::test {

// The project's shared test data, or "" when the checkout has none beside it.
std::string sharedDataDir();

struct FakeTensor {
  std::string name;
  std::string dtype; // SafeTensors spelling: "F32", "U8", ...
  std::vector<int64_t> shape;
};

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
public:
  TempDir();
  ~TempDir();
  const std::string &path() const { return dir; }
  std::string file(const std::string &name) const;

private:
  std::string dir;
};

// Writes |bytes| to |path| as is.
void writeFile(const std::string &path, const std::string &bytes);
// An 8-byte little-endian length, the header text, then |data|.
std::string safeTensorsBytes(uint64_t headerLength, const std::string &header,
                             const std::string &data);
// A well-formed file holding |tensors| back to back; byte i of the data section is (i * 7) & 0xff.
void writeSafeTensors(const std::string &path, const std::vector<FakeTensor> &tensors);

// A complete one-layer BitNet (hidden 8, 2 heads, 1 KV head, FFN 16, vocab 32), offline packed
// with linear_class autobitlinear, as config.json and tensor list.
llvm::json::Object tinyBitNetConfig();
std::vector<FakeTensor> tinyBitNetTensors();
// Writes config.json and model.safetensors into |dir|.
void writeModel(const std::string &dir, const llvm::json::Object &config,
                const std::vector<FakeTensor> &tensors);

} // namespace tern::test

#endif
