// ONNX Runtime contrib ops for pattern checks: RotaryEmbedding.
#include "frontends/onnx/ONNXContribOps.h"

#include "frontends/onnx/ONNXGraph.h"

namespace tern::onnx {
namespace {

llvm::Error fail(const ::onnx::NodeProto &node, std::errc code, const std::string &what) {
  return llvm::createStringError(std::make_error_code(code), "node '%s' (%s, domain %s): %s",
                                 node.name().c_str(), node.op_type().c_str(),
                                 node.domain().c_str(), what.c_str());
}

llvm::Expected<std::vector<Tensor>> rotaryEmbedding(const ::onnx::NodeProto &node,
                                                    llvm::ArrayRef<std::optional<Tensor>> in) {
  if (in.size() < 4 || !in[0] || !in[1] || !in[2] || !in[3])
    return fail(node, std::errc::invalid_argument, "expects input, position_ids, cos_cache and "
                                                   "sin_cache");
  const Tensor &x = *in[0], &pos = *in[1], &cos = *in[2], &sin = *in[3];
  const bool interleaved = GraphView::intAttr(node, "interleaved").value_or(0) != 0;
  const int64_t numHeads = GraphView::intAttr(node, "num_heads").value_or(0);
  const float scale = GraphView::floatAttr(node, "scale").value_or(1.0f);
  if (GraphView::intAttr(node, "is_packed_batching").value_or(0) != 0 || scale != 1.0f)
    return fail(node, std::errc::not_supported, "packed batching and scale != 1 are not supported");
  if (cos.rank() != 2 || sin.shape() != cos.shape())
    return fail(node, std::errc::invalid_argument, "cos/sin caches must be [positions, rotary/2]");
  // Layout: [b, s, h*d] or [b, h, s, d].
  int64_t batch, seq, heads, dim;
  const bool fourD = x.rank() == 4;
  if (fourD) {
    batch = x.shape()[0], heads = x.shape()[1], seq = x.shape()[2], dim = x.shape()[3];
  } else if (x.rank() == 3) {
    batch = x.shape()[0], seq = x.shape()[1];
    const int64_t rotaryDim = GraphView::intAttr(node, "rotary_embedding_dim").value_or(0);
    heads = numHeads > 0 ? numHeads : x.shape()[2] / (rotaryDim > 0 ? rotaryDim : 2 * cos.shape()[1]);
    dim = heads > 0 ? x.shape()[2] / heads : 0;
  } else {
    return fail(node, std::errc::invalid_argument, "input must be 3-D or 4-D");
  }
  int64_t rotary = GraphView::intAttr(node, "rotary_embedding_dim").value_or(0);
  if (rotary == 0)
    rotary = dim;
  const int64_t half = rotary / 2;
  if (heads <= 0 || dim <= 0 || rotary > dim || cos.shape()[1] != half)
    return fail(node, std::errc::invalid_argument,
                "input " + x.describe() + " does not fit caches " + cos.describe());
  Tensor out = x;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s) {
      const int64_t p = pos.numElements() == 1 ? pos.getInt(0) + s : pos.getInt(b * seq + s);
      if (p < 0 || p >= cos.shape()[0])
        return fail(node, std::errc::invalid_argument,
                    "position " + std::to_string(p) + " is outside the caches");
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t base =
            fourD ? ((b * heads + h) * seq + s) * dim : (b * seq + s) * heads * dim + h * dim;
        for (int64_t i = 0; i < half; ++i) {
          const int64_t a = base + (interleaved ? 2 * i : i);
          const int64_t c = base + (interleaved ? 2 * i + 1 : i + half);
          const double x0 = x.getDouble(a), x1 = x.getDouble(c);
          const double co = cos.getDouble(p * half + i), si = sin.getDouble(p * half + i);
          out.setDouble(a, x0 * co - x1 * si);
          out.setDouble(c, x1 * co + x0 * si);
        }
      }
    }
  return std::vector<Tensor>{std::move(out)};
}

} // namespace

bool isContribEvaluatorOp(llvm::StringRef domain, llvm::StringRef opType) {
  return domain == "com.microsoft" && opType == "RotaryEmbedding";
}

llvm::Expected<std::vector<Tensor>>
evaluateContribNode(const ::onnx::NodeProto &node, llvm::ArrayRef<std::optional<Tensor>> inputs) {
  if (node.domain() == "com.microsoft" && node.op_type() == "RotaryEmbedding")
    return rotaryEmbedding(node, inputs);
  return fail(node, std::errc::not_supported,
              "contrib op is not supported by the evaluator; supported: com.microsoft "
              "RotaryEmbedding");
}

} // namespace tern::onnx
