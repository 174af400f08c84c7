// Reads SafeTensors checkpoints (one file or an index of shards) into memory-mapped TensorRecords.
#ifndef TERN_FRONTENDS_SAFETENSORS_SAFETENSORSREADER_H
#define TERN_FRONTENDS_SAFETENSORS_SAFETENSORSREADER_H

#include "frontends/common/TensorRecord.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tern::fe {

// The largest JSON header accepted. The reference implementation (huggingface/safetensors)
// refuses headers over 100 MB as well; a bigger length field means a corrupt file.
inline constexpr uint64_t kMaxSafeTensorsHeaderBytes = 100'000'000;

// SafeTensors dtype name ("F32", "BF16", "U8", ...) -> DType and element size in bytes;
// nullopt for names this compiler does not read (F8_E4M3, U16, ...).
std::optional<std::pair<DType, uint64_t>> safeTensorsDType(llvm::StringRef name);
// The SafeTensors spelling of |type| ("F32"); "?" for types SafeTensors cannot hold.
llvm::StringRef safeTensorsDTypeName(DType type);

// Every tensor of a checkpoint, zero-copy: TensorRecord::data points into file mappings
// owned by the reader, so the reader must outlive the records.
class SafeTensorsReader {
public:
  // |path| is a *.safetensors file or a *.safetensors.index.json naming shards beside it.
  static llvm::Expected<std::unique_ptr<SafeTensorsReader>> open(llvm::StringRef path);

  // All tensors: shards in index order, each shard's tensors in file (offset) order.
  const std::vector<TensorRecord> &tensors() const { return records; }
  // `__metadata__` string pairs of every file, and the index's "metadata" (stringified).
  const std::vector<std::pair<std::string, std::string>> &metadata() const { return meta; }
  // The files that hold the bytes, in the order read.
  const std::vector<std::string> &files() const { return fileNames; }

private:
  SafeTensorsReader() = default;
  llvm::Error readFile(const std::string &path);
  llvm::Error readIndex(const std::string &path);

  std::vector<std::unique_ptr<llvm::MemoryBuffer>> buffers; // one mapping per file
  std::vector<TensorRecord> records;
  std::vector<std::pair<std::string, std::string>> meta;
  std::vector<std::string> fileNames;
};

} // namespace tern::fe

#endif
