// Writes GGUF v3 (or v2) files: metadata of every type, tensors of any ggml type, any alignment.
#ifndef TERN_FRONTENDS_GGUF_GGUFWRITER_H
#define TERN_FRONTENDS_GGUF_GGUFWRITER_H

#include "frontends/common/DType.h"
#include "frontends/gguf/GGUFTypes.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tern::fe {

class GGUFWriter {
public:
  // One encoded metadata value: its type tag and the bytes that follow the tag in the file.
  struct Value {
    GGUFValueType type = GGUFValueType::UInt8;
    GGUFValueType elementType = GGUFValueType::UInt8; // arrays only
    std::string bytes;

    static Value u8(uint8_t v);
    static Value i8(int8_t v);
    static Value u16(uint16_t v);
    static Value i16(int16_t v);
    static Value u32(uint32_t v);
    static Value i32(int32_t v);
    static Value u64(uint64_t v);
    static Value i64(int64_t v);
    static Value f32(float v);
    static Value f64(double v);
    static Value boolean(bool v);
    static Value string(llvm::StringRef v);
    // An array of |elements|, all of type |elementType| (arrays of arrays included).
    static Value array(GGUFValueType elementType, const std::vector<Value> &elements);
    static Value stringArray(llvm::ArrayRef<std::string> v);
    static Value f32Array(llvm::ArrayRef<float> v);
    static Value i32Array(llvm::ArrayRef<int32_t> v);
    static Value u32Array(llvm::ArrayRef<uint32_t> v);
    static Value i64Array(llvm::ArrayRef<int64_t> v);
  };

  // Writes the tensor's bytes; must write exactly the byte size the tensor was added with.
  using DataWriter = std::function<llvm::Error(llvm::raw_ostream &)>;

  explicit GGUFWriter(uint64_t alignment = 32, uint32_t version = 3);

  // Metadata, written in the order added. A repeated key is reported by write().
  void add(llvm::StringRef key, Value value);
  void addString(llvm::StringRef key, llvm::StringRef v) { add(key, Value::string(v)); }
  void addUInt32(llvm::StringRef key, uint32_t v) { add(key, Value::u32(v)); }
  void addFloat32(llvm::StringRef key, float v) { add(key, Value::f32(v)); }
  void addBool(llvm::StringRef key, bool v) { add(key, Value::boolean(v)); }

  // A tensor of logical |shape| (outermost first, like numpy; the file stores it reversed).
  void addTensor(llvm::StringRef name, std::vector<int64_t> shape, DType type,
                 std::vector<uint8_t> bytes);
  // Any ggml type id (resolved with general.architecture at write time, so id 36 is I2_S only
  // in bitnet.cpp architectures), with the bytes streamed by |writer| when the file is written.
  void addTensor(llvm::StringRef name, std::vector<int64_t> shape, uint32_t ggmlTypeId,
                 uint64_t byteSize, DataWriter writer);

  // Validates everything (unique keys and names, byte sizes that match type and shape, alignment),
  // writes to a temporary file beside |path| and renames it into place.
  llvm::Error write(llvm::StringRef path) const;

private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    uint32_t typeId;
    uint64_t byteSize;
    DataWriter writer;
  };
  llvm::Error validate(std::vector<uint64_t> &offsets) const;
  llvm::Error writeTo(llvm::raw_ostream &os, const std::vector<uint64_t> &offsets,
                      llvm::StringRef path) const;

  uint64_t alignment;
  uint32_t version;
  std::vector<std::pair<std::string, Value>> kvs;
  std::vector<Tensor> tensors;
  std::string deferredError; // an encoder precondition that failed in addTensor
};

} // namespace tern::fe

#endif
