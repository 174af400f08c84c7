// Internal to the ONNX frontend: recognizes the pieces of a decoder-only transformer in an ONNX
// graph (embedding, norms, linear layers, activation quantization, attention, FFN) and records
// them as ModelDescription roles. ONNXPatterns.cpp holds the per-piece matchers,
// ONNXDecoder.cpp the walk along the residual stream that strings them together.
#ifndef TERN_FRONTENDS_ONNX_ONNXMAPPER_H
#define TERN_FRONTENDS_ONNX_ONNXMAPPER_H

#include "frontends/common/ModelDescription.h"
#include "frontends/onnx/ONNXGraph.h"
#include "frontends/onnx/ONNXWeights.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tern::onnx {

// A normalization found in the graph; |output| is the normalized value.
struct NormMatch {
  std::string output;
  fe::NormKind kind = fe::NormKind::RMS;
  const fe::TensorRecord *weight = nullptr, *bias = nullptr;
  double epsilon = 0;
};

// A linear layer reading some value; |output| is its result (after the bias, if any).
struct LinearMatch {
  std::string output;
  fe::LinearWeight weight;
  bool quantizedInput = false; // BitNet activation quantization in front of it
  std::string source;          // the weight's value name in the graph, for splitting fused ones
  bool transposed = true;      // stored [in, out] (MatMul) rather than [out, in] (Gemm transB)
  std::string biasSource;      // the bias's value name, if any
};

// Attention settings read from one layer; every layer must agree.
struct AttentionParams {
  int64_t heads = 0, kvHeads = 0, headDim = 0;
  double scale = 0; // 0: 1/sqrt(head_dim)
  fe::PositionEncoding positions = fe::PositionEncoding::None;
  fe::RopeStyle ropeStyle = fe::RopeStyle::Neox;
  double ropeTheta = 0;
  int64_t maxPositions = 0; // rows of a rotary cache, 0 when unknown
};

// One attention block: projections, the attention core, and the value the output projection reads.
struct AttentionMatch {
  fe::LinearWeight q, k, v;
  bool quantized = false;
  AttentionParams params;
  std::string output; // attention result before the output projection
};

class Mapper {
public:
  Mapper(const GraphView &graph, WeightStore &weights, fe::ModelDescription &model)
      : g(graph), weights(weights), model(model) {}

  // Walks the graph from the token embedding to the logits, filling |model|'s roles and
  // hparams; what cannot be mapped becomes an Error problem naming the node.
  void run();

  // --- matchers (ONNXPatterns.cpp); each claims the nodes it consumes ---
  std::optional<NormMatch> matchNorm(const std::string &input);
  std::vector<LinearMatch> matchLinears(const std::string &input);
  // BitNet's per-token absmax int8 quantize-dequantize of |input| whose scale chain starts at
  // |abs| (Abs(input)); the dequantized value. Checked numerically, not only by shape.
  std::optional<std::string> matchActivationQuant(const std::string &input, const Node &abs);
  // FFN activation applied to |input|: its result and kind.
  std::optional<std::pair<std::string, fe::FFNActivation>>
  matchActivation(const std::string &input, fe::LinearWeight *biasTarget);
  std::optional<AttentionMatch> matchAttention(const std::string &normed);

  // --- shared helpers ---
  void claim(const Node *node) {
    if (node)
      claimed.insert(node);
  }
  bool isClaimed(const Node *node) const { return claimed.count(node) != 0; }
  void error(const std::string &subject, const std::string &message) {
    model.problems.push_back({fe::Problem::Error, subject, message});
  }
  // A float initializer (or folded constant) as a record; null with an error when it is not.
  const fe::TensorRecord *floatConstant(const std::string &value, const std::string &role);
  // "; read by node 'x' (Elu, domain ai.onnx, opset 17), ...": what a failed match found.
  std::string readBy(const std::string &value) const {
    std::string text;
    for (const Node *n : g.consumers(value))
      text += (text.empty() ? "; read by " : ", ") + g.describe(*n);
    return text.empty() ? "; nothing reads it" : text;
  }
  // Records a norm epsilon; every norm must use the same one.
  void noteEpsilon(double epsilon, const Node &node);
  // The value the stream holds before |value|'s Cast / Identity chain, for comparisons.
  std::string base(const std::string &value) const { return g.throughCasts(value); }

  const GraphView &g;
  WeightStore &weights;
  fe::ModelDescription &model;
  std::set<const Node *> claimed;
  std::optional<double> epsilon;

private:
  std::optional<AttentionMatch> matchGroupQueryAttention(const Node &node,
                                                         const std::vector<LinearMatch> &proj);
  std::optional<AttentionMatch> matchPackedAttention(const Node &node);
  // |normed| is the layer's normalized input: exporters read its shape for the head reshapes.
  std::optional<AttentionMatch> matchStandardAttention(const std::string &normed,
                                                       const std::vector<LinearMatch> &proj);
  // Splits a fused projection into |parts| consecutive column ranges of the given widths.
  bool splitLinear(const LinearMatch &fused, const std::vector<int64_t> &widths,
                   std::vector<fe::LinearWeight *> parts, const Node &node);
  std::optional<LinearMatch> matchMatMulNBits(const Node &node, bool fromQuant);
  std::optional<NormMatch> matchRmsSubgraph(const Node &square, const std::string &input);
  bool rotaryFromCache(const Tensor &cos, int64_t rotaryDim, bool interleaved,
                       AttentionParams &params, const Node &node);
};

} // namespace tern::onnx

#endif
