// A read-only index over an ONNX graph for pattern matching: producers and consumers of each
// value, typed attribute access, and constant values folded through the evaluator.
#ifndef TERN_FRONTENDS_ONNX_ONNXGRAPH_H
#define TERN_FRONTENDS_ONNX_ONNXGRAPH_H

#include "frontends/onnx/ONNXReader.h"
#include "frontends/onnx/ONNXTensor.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tern::onnx {

using Node = ::onnx::NodeProto;

class GraphView {
public:
  explicit GraphView(const ONNXModel &model);

  const ONNXModel &model() const { return onnxModel; }
  const std::vector<const Node *> &nodes() const { return nodeList; }
  int indexOf(const Node *node) const { return nodeIndex.at(node); }

  // The node that defines |value|; null for graph inputs, initializers and "".
  const Node *producer(const std::string &value) const;
  // Nodes reading |value|, in graph order.
  std::vector<const Node *> consumers(const std::string &value) const;
  bool isGraphInput(const std::string &value) const { return graphInputs.count(value) != 0; }
  bool isGraphOutput(const std::string &value) const { return graphOutputs.count(value) != 0; }

  // |value| with any chain of Cast / Identity nodes in front of it walked back.
  std::string throughCasts(const std::string &value) const;
  // The only consumer of |value| after walking forward through Cast / Identity nodes, or null.
  const Node *soleConsumer(const std::string &value, std::string *reached = nullptr) const;

  // The value of |value| when it depends only on initializers and Constant nodes (folded with
  // the evaluator, memoized); null otherwise.
  const Tensor *constant(const std::string &value) const;
  // A constant that holds one number (any shape with one element).
  std::optional<double> scalar(const std::string &value) const;

  // Attributes with their ONNX defaults applied by the caller.
  static std::optional<int64_t> intAttr(const Node &node, const std::string &name);
  static std::optional<float> floatAttr(const Node &node, const std::string &name);
  static std::optional<std::vector<int64_t>> intsAttr(const Node &node, const std::string &name);
  static std::optional<std::string> stringAttr(const Node &node, const std::string &name);

  // The nodes that compute |targets| from the values in |given|, constants and graph inputs, in
  // graph order; the graph inputs it reads are added to |inputsRead|.
  std::vector<const Node *> closure(const std::vector<std::string> &targets,
                                    const std::set<std::string> &given,
                                    std::set<std::string> *inputsRead = nullptr) const;
  // Runs |region| in order; |values| supplies every input that is not a constant and receives
  // every output.
  llvm::Error evaluate(const std::vector<const Node *> &region,
                       std::map<std::string, Tensor> &values) const;

  int64_t opset(const Node &node) const;
  // "node 'name' (OpType, domain com.microsoft, opset 1)": how diagnostics name a node.
  std::string describe(const Node &node) const;

private:
  const ONNXModel &onnxModel;
  std::vector<const Node *> nodeList;
  std::map<const Node *, int> nodeIndex;
  std::map<std::string, const Node *> producers;
  std::map<std::string, std::vector<const Node *>> consumerLists;
  std::set<std::string> graphInputs, graphOutputs, initializerNames;
  mutable std::map<std::string, std::optional<Tensor>> folded;
};

} // namespace tern::onnx

#endif
