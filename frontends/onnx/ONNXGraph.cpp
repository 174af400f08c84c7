// Producer/consumer index and constant folding over an ONNX graph.
#include "frontends/onnx/ONNXGraph.h"

#include "frontends/onnx/ONNXContribOps.h"
#include "frontends/onnx/ONNXEvaluator.h"

#include <algorithm>

namespace tern::onnx {

GraphView::GraphView(const ONNXModel &model) : onnxModel(model) {
  const ::onnx::GraphProto &graph = model.graph();
  for (const Node &node : graph.node()) {
    nodeIndex[&node] = static_cast<int>(nodeList.size());
    nodeList.push_back(&node);
    for (const std::string &out : node.output())
      if (!out.empty())
        producers[out] = &node;
    for (const std::string &in : node.input())
      if (!in.empty()) {
        auto &list = consumerLists[in];
        if (list.empty() || list.back() != &node) // a node reading a value twice counts once
          list.push_back(&node);
      }
  }
  for (const ValueInfo &v : model.inputs())
    graphInputs.insert(v.name);
  for (const ValueInfo &v : model.outputs())
    graphOutputs.insert(v.name);
  for (const InitializerInfo &i : model.initializers())
    initializerNames.insert(i.name);
}

const Node *GraphView::producer(const std::string &value) const {
  auto it = producers.find(value);
  return it == producers.end() ? nullptr : it->second;
}

std::vector<const Node *> GraphView::consumers(const std::string &value) const {
  auto it = consumerLists.find(value);
  return it == consumerLists.end() ? std::vector<const Node *>{} : it->second;
}

static bool isPassThrough(const Node &node) {
  return node.domain().empty() && (node.op_type() == "Cast" || node.op_type() == "Identity");
}

std::string GraphView::throughCasts(const std::string &value) const {
  std::string v = value;
  while (const Node *p = producer(v)) {
    if (!isPassThrough(*p) || p->input_size() < 1)
      break;
    v = p->input(0);
  }
  return v;
}

const Node *GraphView::soleConsumer(const std::string &value, std::string *reached) const {
  std::string v = value;
  for (;;) {
    std::vector<const Node *> users = consumers(v);
    if (users.size() != 1 || isGraphOutput(v))
      return nullptr;
    if (!isPassThrough(*users[0])) {
      if (reached)
        *reached = v;
      return users[0];
    }
    v = users[0]->output(0);
  }
}

const Tensor *GraphView::constant(const std::string &value) const {
  if (value.empty())
    return nullptr;
  auto memo = folded.find(value);
  if (memo != folded.end())
    return memo->second ? &*memo->second : nullptr;
  folded[value] = std::nullopt; // also breaks cycles in malformed graphs
  std::optional<Tensor> result;
  if (initializerNames.count(value)) {
    if (auto t = onnxModel.initializer(value))
      result = std::move(*t);
    else
      llvm::consumeError(t.takeError()); // the reader already validated initializers
  } else if (const Node *node = producer(value); node && !isGraphInput(value) &&
                                                   isEvaluatorOp(node->domain(), node->op_type())) {
    // Folding stops at graph inputs: a Shape of input_ids is not a constant.
    std::vector<std::optional<Tensor>> inputs;
    bool allConstant = true;
    for (const std::string &in : node->input()) {
      if (!allConstant)
        break;
      if (in.empty()) {
        inputs.emplace_back();
        continue;
      }
      const Tensor *t = constant(in);
      if (!t)
        allConstant = false;
      else
        inputs.emplace_back(*t);
    }
    if (allConstant) {
      if (auto outs = evaluateNode(*node, inputs, onnxModel.opsetVersion(""))) {
        for (int i = 0; i < node->output_size() && i < static_cast<int>(outs->size()); ++i)
          if (node->output(i) == value)
            result = std::move((*outs)[i]);
      } else {
        llvm::consumeError(outs.takeError()); // not foldable: the mapper reports the node
      }
    }
  }
  folded[value] = std::move(result);
  return folded[value] ? &*folded[value] : nullptr;
}

std::optional<double> GraphView::scalar(const std::string &value) const {
  const Tensor *t = constant(value);
  if (!t || t->numElements() != 1)
    return std::nullopt;
  return t->getDouble(0);
}

static const ::onnx::AttributeProto *findAttr(const Node &node, const std::string &name) {
  for (const auto &a : node.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

std::optional<int64_t> GraphView::intAttr(const Node &node, const std::string &name) {
  const auto *a = findAttr(node, name);
  if (!a || a->type() != ::onnx::AttributeProto::INT)
    return std::nullopt;
  return a->i();
}

std::optional<float> GraphView::floatAttr(const Node &node, const std::string &name) {
  const auto *a = findAttr(node, name);
  if (!a || a->type() != ::onnx::AttributeProto::FLOAT)
    return std::nullopt;
  return a->f();
}

std::optional<std::vector<int64_t>> GraphView::intsAttr(const Node &node,
                                                        const std::string &name) {
  const auto *a = findAttr(node, name);
  if (!a || a->type() != ::onnx::AttributeProto::INTS)
    return std::nullopt;
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

std::optional<std::string> GraphView::stringAttr(const Node &node, const std::string &name) {
  const auto *a = findAttr(node, name);
  if (!a || a->type() != ::onnx::AttributeProto::STRING)
    return std::nullopt;
  return a->s();
}

std::vector<const Node *> GraphView::closure(const std::vector<std::string> &targets,
                                             const std::set<std::string> &given,
                                             std::set<std::string> *inputsRead) const {
  std::vector<const Node *> region;
  std::set<const Node *> seen;
  std::vector<std::string> stack(targets.begin(), targets.end());
  while (!stack.empty()) {
    std::string v = stack.back();
    stack.pop_back();
    if (v.empty() || given.count(v) || constant(v))
      continue;
    if (isGraphInput(v)) {
      if (inputsRead)
        inputsRead->insert(v);
      continue;
    }
    const Node *p = producer(v);
    if (!p || !seen.insert(p).second)
      continue;
    region.push_back(p);
    for (const std::string &in : p->input())
      stack.push_back(in);
  }
  std::sort(region.begin(), region.end(),
            [&](const Node *a, const Node *b) { return indexOf(a) < indexOf(b); });
  return region;
}

llvm::Error GraphView::evaluate(const std::vector<const Node *> &region,
                                std::map<std::string, Tensor> &values) const {
  for (const Node *n : region) {
    std::vector<std::optional<Tensor>> ins;
    for (const std::string &in : n->input()) {
      if (in.empty()) {
        ins.emplace_back();
      } else if (auto it = values.find(in); it != values.end()) {
        ins.emplace_back(it->second);
      } else if (const Tensor *c = constant(in)) {
        ins.emplace_back(*c);
      } else {
        return llvm::createStringError("%s: input '%s' has no value", describe(*n).c_str(),
                                       in.c_str());
      }
    }
    auto outs = isContribEvaluatorOp(n->domain(), n->op_type())
                    ? evaluateContribNode(*n, ins)
                    : evaluateNode(*n, ins, onnxModel.opsetVersion(""));
    if (!outs)
      return outs.takeError();
    for (int i = 0; i < n->output_size() && i < static_cast<int>(outs->size()); ++i)
      values[n->output(i)] = std::move((*outs)[i]);
  }
  return llvm::Error::success();
}

int64_t GraphView::opset(const Node &node) const {
  return onnxModel.opsetVersion(node.domain());
}

std::string GraphView::describe(const Node &node) const {
  std::string name = node.name().empty() ? "#" + std::to_string(indexOf(&node)) : node.name();
  return "node '" + name + "' (" + node.op_type() + ", domain " +
         (node.domain().empty() ? std::string("ai.onnx") : node.domain()) + ", opset " +
         std::to_string(opset(node)) + ")";
}

} // namespace tern::onnx
