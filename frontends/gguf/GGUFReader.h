// Reads a GGUF file (v2/v3) into typed metadata and tensor records, memory-mapped and zero-copy.
#ifndef TERN_FRONTENDS_GGUF_GGUFREADER_H
#define TERN_FRONTENDS_GGUF_GGUFREADER_H

#include "frontends/common/TensorRecord.h"
#include "frontends/gguf/GGUFTypes.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tern::fe {

// One metadata value. Scalars, strings and packed arrays point into the reader's mapping, so a
// value is valid while its reader lives; a 128k-entry token list costs one StringRef per entry.
struct GGUFValue {
  GGUFValueType type = GGUFValueType::UInt8;
  const uint8_t *raw = nullptr; // scalar: its bytes; fixed-size array: the packed elements
  llvm::StringRef string;       // String
  // Array only.
  GGUFValueType elementType = GGUFValueType::UInt8;
  uint64_t count = 0;
  std::vector<llvm::StringRef> strings; // elementType String
  std::vector<GGUFValue> arrays;        // elementType Array (arrays of arrays)

  bool isArray() const { return type == GGUFValueType::Array; }
  // Scalars of any integer type (and bool); nullopt for other types or a uint64 above INT64_MAX.
  std::optional<int64_t> asInt() const;
  // Integers and floats.
  std::optional<double> asNumber() const;
  std::optional<bool> asBool() const;
  std::optional<llvm::StringRef> asString() const;
  // Element |i| of an array of a fixed-size numeric or bool type.
  std::optional<int64_t> intAt(uint64_t i) const;
  std::optional<double> numberAt(uint64_t i) const;
};

// "uint32", "string", "array[string]", "array[array]".
std::string typeText(const GGUFValue &value);
// A one-line rendering for `ternc inspect`: strings longer than |maxString| and arrays longer
// than |maxItems| are cut, and say how long they are.
std::string valueText(const GGUFValue &value, size_t maxItems = 8, size_t maxString = 120);

// A tensor info entry as the file states it.
struct GGUFTensorInfo {
  std::string name;
  std::vector<uint64_t> ne;     // innermost dimension first, as GGUF stores it
  uint32_t typeId = 0;
  GGMLType type{};              // what |typeId| means in this file
  uint64_t offset = 0;          // relative to the data section
  uint64_t fileOffset = 0;      // absolute: data section start + offset
  uint64_t byteSize = 0;
};

class GGUFReader {
public:
  // Maps |path| and validates everything: header, metadata, tensor infos, data placement.
  static llvm::Expected<std::unique_ptr<GGUFReader>> open(llvm::StringRef path);

  const std::string &path() const { return filePath; }
  uint32_t version() const { return fileVersion; }
  uint64_t alignment() const { return fileAlignment; }
  uint64_t dataOffset() const { return dataStart; } // absolute start of the data section
  uint64_t fileSize() const { return buffer->getBufferSize(); }
  // general.architecture, or "" when absent.
  llvm::StringRef architecture() const { return arch; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GGUFValue>> &metadata() const { return kvs; }
  const GGUFValue *find(llvm::StringRef key) const;
  const std::vector<GGUFTensorInfo> &tensorInfos() const { return infos; }
  // Records of the tensors whose type this compiler decodes, file order; shapes outermost first.
  std::vector<TensorRecord> records() const;

private:
  GGUFReader() = default;
  llvm::Error parse();

  std::string filePath;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  uint32_t fileVersion = 0;
  uint64_t fileAlignment = 32;
  uint64_t dataStart = 0;
  std::string arch;
  std::vector<std::pair<std::string, GGUFValue>> kvs;
  llvm::StringMap<size_t> keyIndex;
  std::vector<GGUFTensorInfo> infos;
};

} // namespace tern::fe

#endif
