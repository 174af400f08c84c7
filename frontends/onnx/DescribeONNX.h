// The graph-level part of what `ternc inspect` reports about an ONNX model (signature, weights,
// op histogram), without exposing protobuf types. The decoder mapping is describeONNXDecoder's.
#ifndef TERN_FRONTENDS_ONNX_DESCRIBEONNX_H
#define TERN_FRONTENDS_ONNX_DESCRIBEONNX_H

#include "frontends/onnx/ONNXRecords.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tern::onnx {

struct ONNXOpCount {
  std::string domain; // "ai.onnx" for the default domain
  std::string opType;
  int64_t count = 0;
  bool evaluable = false; // the constant evaluator implements it
};

struct ONNXDtypeBytes {
  std::string dtype; // "FLOAT16"
  int64_t count = 0;
  uint64_t bytes = 0;
};

struct ONNXSummary {
  std::string path;
  int64_t irVersion = 0;
  std::string producerName, producerVersion, domain;
  int64_t modelVersion = 0;
  std::string graphName;
  std::vector<OpsetImport> opsets;
  std::vector<ValueInfo> inputs, outputs;
  int64_t initializerCount = 0, externalInitializers = 0;
  uint64_t initializerBytes = 0;
  std::vector<ONNXDtypeBytes> initializersByType; // sorted by bytes, largest first
  int64_t nodeCount = 0;
  std::vector<ONNXOpCount> ops; // sorted by count, then domain and name
};

// Reads |path| and summarizes it; errors are the reader's (they name the file).
llvm::Expected<ONNXSummary> describeONNX(llvm::StringRef path);

} // namespace tern::onnx

#endif
