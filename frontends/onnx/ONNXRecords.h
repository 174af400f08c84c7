// Protobuf-free records of an ONNX model's signature: opsets, value infos, initializer placement.
#ifndef TERN_FRONTENDS_ONNX_ONNXRECORDS_H
#define TERN_FRONTENDS_ONNX_ONNXRECORDS_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tern::onnx {

// One dimension of a declared shape: a number, a symbolic name ("batch"), or unknown.
struct Dim {
  std::optional<int64_t> value;
  std::string param;
  std::string str() const { return value ? std::to_string(*value) : param.empty() ? "?" : param; }
};

// A graph input, output or value_info entry. Non-tensor values (sequences, maps, optionals)
// keep |kind| so a report can name them; their element type and shape stay empty.
struct ValueInfo {
  std::string name;
  std::string kind = "tensor"; // "tensor", "sequence", "map", "optional", "sparse_tensor", "?"
  int32_t elemType = 0;
  bool hasShape = false;
  std::vector<Dim> dims;
  std::string typeString() const; // "FLOAT[batch, 4]", "sequence"
};

struct OpsetImport {
  std::string domain; // "" is the default domain ai.onnx
  int64_t version = 0;
};

// Where an initializer's bytes live, without reading them.
struct InitializerInfo {
  std::string name;
  int32_t elemType = 0;
  std::vector<int64_t> shape;
  uint64_t byteSize = 0; // elements x element size (0 for STRING)
  bool external = false;
  std::string location; // external data file, relative to the model's directory
};

} // namespace tern::onnx

#endif
