// Summarizes an ONNX model for `ternc inspect`: signature, weights by type, op histogram.
#include "frontends/onnx/DescribeONNX.h"

#include "frontends/onnx/ONNXEvaluator.h"
#include "frontends/onnx/ONNXReader.h"

#include <algorithm>
#include <map>

namespace tern::onnx {

llvm::Expected<ONNXSummary> describeONNX(llvm::StringRef path) {
  auto model = ONNXModel::load(path);
  if (!model)
    return model.takeError();
  const ::onnx::ModelProto &proto = (*model)->proto();
  ONNXSummary s;
  s.path = path.str();
  s.irVersion = proto.ir_version();
  s.producerName = proto.producer_name();
  s.producerVersion = proto.producer_version();
  s.domain = proto.domain();
  s.modelVersion = proto.model_version();
  s.graphName = proto.graph().name();
  s.opsets = (*model)->opsets();
  s.inputs = (*model)->inputs();
  s.outputs = (*model)->outputs();

  std::map<std::string, ONNXDtypeBytes> byType;
  for (const InitializerInfo &init : (*model)->initializers()) {
    ONNXDtypeBytes &e = byType[elemTypeName(init.elemType)];
    e.dtype = elemTypeName(init.elemType);
    ++e.count;
    e.bytes += init.byteSize;
    s.initializerBytes += init.byteSize;
    s.externalInitializers += init.external;
  }
  s.initializerCount = static_cast<int64_t>((*model)->initializers().size());
  for (auto &[name, e] : byType)
    s.initializersByType.push_back(e);
  std::stable_sort(s.initializersByType.begin(), s.initializersByType.end(),
                   [](const ONNXDtypeBytes &a, const ONNXDtypeBytes &b) { return a.bytes > b.bytes; });

  // Only the top-level graph: subgraphs of If/Loop are counted as their parent node.
  std::map<std::pair<std::string, std::string>, int64_t> hist;
  for (const auto &node : proto.graph().node()) {
    ++hist[{node.domain().empty() ? "ai.onnx" : node.domain(), node.op_type()}];
    ++s.nodeCount;
  }
  for (auto &[key, count] : hist)
    s.ops.push_back({key.first, key.second, count, isEvaluatorOp(key.first, key.second)});
  std::stable_sort(s.ops.begin(), s.ops.end(),
                   [](const ONNXOpCount &a, const ONNXOpCount &b) { return a.count > b.count; });

  return s;
}

} // namespace tern::onnx
