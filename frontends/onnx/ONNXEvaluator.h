// Evaluates standard ONNX ops on constant tensors (shape arithmetic folding, conformance).
#ifndef TERN_FRONTENDS_ONNX_ONNXEVALUATOR_H
#define TERN_FRONTENDS_ONNX_ONNXEVALUATOR_H

#include "frontends/onnx/ONNXTensor.h"

#include "llvm/Support/Error.h"

#include <onnx/onnx_pb.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tern::onnx {

// Ops of the default domain (ai.onnx) the evaluator implements, sorted.
const std::vector<std::string> &evaluatorOps();
bool isEvaluatorOp(llvm::StringRef domain, llvm::StringRef opType);

// Runs one node. |inputs| follows node.input(); an empty optional stands for an omitted
// optional input (an empty name). |opset| is the model's ai.onnx version, which selects
// between attribute and input forms (e.g. Unsqueeze's axes before and after opset 13).
// Errors name the node, op, domain and opset. An op, attribute or type the evaluator does not
// implement fails with errc::not_supported (and, for a whole op, the list of supported ops);
// other errors are malformed nodes or inputs (errc::invalid_argument).
llvm::Expected<std::vector<Tensor>> evaluateNode(const ::onnx::NodeProto &node,
                                                 llvm::ArrayRef<std::optional<Tensor>> inputs,
                                                 int64_t opset);

// Runs a whole graph in node order from |values| (graph inputs and initializers by name),
// adding every node output to |values|.
llvm::Error evaluateGraph(const ::onnx::GraphProto &graph, std::map<std::string, Tensor> &values,
                          int64_t opset);

} // namespace tern::onnx

#endif
