// Reads ONNX model files (ModelProto) into records: opsets, graph signature, initializers.
#ifndef TERN_FRONTENDS_ONNX_ONNXREADER_H
#define TERN_FRONTENDS_ONNX_ONNXREADER_H

#include "frontends/onnx/ONNXRecords.h"
#include "frontends/onnx/ONNXTensor.h"

#include "llvm/Support/Error.h"

#include <onnx/onnx_pb.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tern::onnx {

class ONNXModel {
public:
  // Parses |path|. Errors name the file and say what is wrong (unreadable, truncated or not a
  // ModelProto, no graph, a node reading a value nothing defines).
  static llvm::Expected<std::unique_ptr<ONNXModel>> load(llvm::StringRef path);
  // Parses an in-memory ModelProto; |path| names it in errors and anchors external data.
  static llvm::Expected<std::unique_ptr<ONNXModel>> parse(llvm::StringRef bytes,
                                                          llvm::StringRef path);

  const std::string &path() const { return filePath; }
  const ::onnx::ModelProto &proto() const { return model; }
  const ::onnx::GraphProto &graph() const { return model.graph(); }

  const std::vector<OpsetImport> &opsets() const { return opsetList; }
  // The version imported for |domain| ("" or "ai.onnx" for the default); 0 if not imported.
  int64_t opsetVersion(llvm::StringRef domain) const;
  // Graph inputs that are not also initializers (older exporters list weights as inputs).
  const std::vector<ValueInfo> &inputs() const { return inputList; }
  const std::vector<ValueInfo> &outputs() const { return outputList; }
  const std::vector<ValueInfo> &valueInfos() const { return valueInfoList; }
  const std::vector<InitializerInfo> &initializers() const { return initList; }

  // The value of initializer |name|, reading external data when needed.
  llvm::Expected<Tensor> initializer(llvm::StringRef name) const;

private:
  ONNXModel() = default;
  llvm::Error index();

  std::string filePath;
  ::onnx::ModelProto model;
  std::vector<OpsetImport> opsetList;
  std::vector<ValueInfo> inputList, outputList, valueInfoList;
  std::vector<InitializerInfo> initList;
  std::map<std::string, int> initByName;
};

// Decodes a TensorProto: raw_data or the typed fields, or external data found relative to
// |baseDir|. |context| starts every error message (normally the model file's path).
llvm::Expected<Tensor> tensorFromProto(const ::onnx::TensorProto &proto, llvm::StringRef baseDir,
                                       llvm::StringRef context);
// Reads a file holding one serialized TensorProto (the backend tests' input_N.pb).
llvm::Expected<Tensor> loadTensorFile(llvm::StringRef path);
// The reverse of tensorFromProto (raw_data form), for writing test fixtures.
::onnx::TensorProto tensorToProto(const Tensor &t, llvm::StringRef name);

ValueInfo valueInfoFromProto(const ::onnx::ValueInfoProto &proto);

} // namespace tern::onnx

#endif
