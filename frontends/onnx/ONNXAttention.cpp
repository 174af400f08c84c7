// Attention blocks: ONNX Runtime's GroupQueryAttention and Attention contrib ops, and attention
// written with standard ops (ONNXStandardAttention.cpp). Each yields the q/k/v projections, the
// head layout, the positional encoding and the value the output projection reads.
#include "frontends/onnx/ONNXMapper.h"

#include <cmath>

namespace tern::onnx {

static constexpr const char *kMicrosoft = "com.microsoft";

bool Mapper::splitLinear(const LinearMatch &fused, const std::vector<int64_t> &widths,
                         std::vector<fe::LinearWeight *> parts, const Node &node) {
  const Tensor *w = g.constant(fused.source);
  const Tensor *bias = fused.biasSource.empty() ? nullptr : g.constant(fused.biasSource);
  if (!w || (!fused.biasSource.empty() && !bias) || fused.quantizedInput) {
    error(g.describe(node), "cannot split the fused q/k/v projection '" + fused.source + "'");
    return false;
  }
  int64_t begin = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const int64_t end = begin + widths[i];
    auto record = weights.linearWeight(g.throughCasts(fused.source), *w, fused.transposed, begin,
                                       end);
    if (!record) {
      error(g.describe(node), llvm::toString(record.takeError()));
      return false;
    }
    fe::LinearWeight &part = *parts[i];
    part = fe::LinearWeight{};
    part.weight = *record;
    part.outFeatures = widths[i];
    part.inFeatures = (*record)->shape[1];
    if (bias) {
      auto b = weights.vectorSlice(g.throughCasts(fused.biasSource), *bias, begin, end);
      if (!b) {
        error(g.describe(node), llvm::toString(b.takeError()));
        return false;
      }
      part.bias = *b;
    }
    begin = end;
  }
  return true;
}

// Recovers RoPE's theta from a cos cache [positions, rotary_dim / 2] and checks the whole cache
// against the table that theta gives. The phase of one frequency is unwrapped along the
// positions, so even an f16 cache pins theta down to about 1e-5.
bool Mapper::rotaryFromCache(const Tensor &cos, int64_t rotaryDim, bool interleaved,
                             AttentionParams &params, const Node &node) {
  const int64_t positions = cos.rank() == 2 ? cos.shape()[0] : 0;
  const int64_t half = cos.rank() == 2 ? cos.shape()[1] : 0;
  if (positions < 2 || half * 2 != rotaryDim || half < 2) {
    error(g.describe(node), "cos cache " + cos.describe() + " does not match a rotary dimension "
                                "of " + std::to_string(rotaryDim));
    return false;
  }
  // Each frequency's phase is unwrapped along the positions (the phase at p is predicted from
  // the estimate so far, then corrected to the nearest angle with the stored cosine), and theta
  // is the least-squares fit of log f_i = -(2i / rotary_dim) log theta over all of them,
  // weighted by the phase each accumulates: a stored cosine pins an angle down to ~1e-7 only
  // away from 0, so slow frequencies that never turn far say little about theta.
  double num = 0, den = 0;
  for (int64_t i = 1; i < half; ++i) {
    double freq = std::acos(std::clamp(cos.getDouble(1 * half + i), -1.0, 1.0));
    for (int64_t p = 2; p < positions; ++p) {
      const double predicted = freq * double(p);
      const double base = std::acos(std::clamp(cos.getDouble(p * half + i), -1.0, 1.0));
      double best = predicted, bestErr = 1e30;
      const double k0 = std::floor(predicted / (2 * M_PI));
      for (double k = k0 - 1; k <= k0 + 1; ++k)
        for (double sign : {1.0, -1.0}) {
          const double candidate = 2 * M_PI * k + sign * base;
          if (std::fabs(candidate - predicted) < bestErr) {
            bestErr = std::fabs(candidate - predicted);
            best = candidate;
          }
        }
      // Positions where the phase is still tiny say little; keep the estimate from the
      // first position until the phase is measurable.
      if (best > 1e-3)
        freq = best / double(p);
    }
    if (!(freq > 0))
      continue;
    const double x = 2.0 * double(i) / double(rotaryDim);
    const double weight = std::pow(freq * double(positions), 2);
    num += weight * x * -std::log(freq);
    den += weight * x * x;
  }
  const double theta = den > 0 ? std::exp(num / den) : 0;
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t j = 0; j < half; ++j) {
      const double want = std::cos(double(p) * std::pow(theta, -2.0 * double(j) / rotaryDim));
      if (std::fabs(want - cos.getDouble(p * half + j)) > 4e-3) {
        error(g.describe(node), "rotary cos cache is not a RoPE table for any base (best fit " +
                                    std::to_string(theta) + ", position " + std::to_string(p) +
                                    ", frequency " + std::to_string(j) +
                                    "); scaled RoPE variants are not supported");
        return false;
      }
    }
  params.positions = fe::PositionEncoding::Rope;
  params.ropeTheta = theta;
  params.ropeStyle = interleaved ? fe::RopeStyle::Normal : fe::RopeStyle::Neox;
  params.maxPositions = positions;
  return true;
}

std::optional<AttentionMatch>
Mapper::matchGroupQueryAttention(const Node &n, const std::vector<LinearMatch> &proj) {
  auto input = [&](int i) { return i < n.input_size() ? n.input(i) : std::string(); };
  AttentionMatch m;
  m.params.heads = GraphView::intAttr(n, "num_heads").value_or(0);
  m.params.kvHeads = GraphView::intAttr(n, "kv_num_heads").value_or(0);
  m.params.scale = GraphView::floatAttr(n, "scale").value_or(0.0f);
  if (m.params.heads <= 0 || m.params.kvHeads <= 0 || m.params.heads % m.params.kvHeads) {
    error(g.describe(n), "num_heads / kv_num_heads must be positive with num_heads a multiple "
                         "of kv_num_heads");
    return std::nullopt;
  }
  if (GraphView::intAttr(n, "local_window_size").value_or(-1) != -1 ||
      GraphView::floatAttr(n, "softcap").value_or(0.0f) != 0.0f ||
      GraphView::intAttr(n, "smooth_softmax").value_or(0) != 0) {
    error(g.describe(n), "sliding-window, soft-capped or smooth-softmax attention is not "
                         "supported (local_window_size must be -1, softcap 0, smooth_softmax 0)");
    return std::nullopt;
  }
  for (int i : {9, 10, 11})
    if (!input(i).empty()) {
      error(g.describe(n), "input " + std::to_string(i) + " ('" + input(i) +
                               "': position_ids, attention_bias or head_sink) is not supported");
      return std::nullopt;
    }
  // Projections: separate q, k, v MatMuls, or one packed QKV MatMul when key and value are empty.
  auto projection = [&](const std::string &value) -> const LinearMatch * {
    for (const LinearMatch &p : proj)
      if (p.output == value || base(value) == base(p.output))
        return &p;
    return nullptr;
  };
  const LinearMatch *q = projection(input(0));
  if (!q) {
    error(g.describe(n), "its query is not a linear projection of the normalized input");
    return std::nullopt;
  }
  if (input(1).empty() && input(2).empty()) {
    const int64_t total = q->weight.outFeatures;
    const int64_t d = total / (m.params.heads + 2 * m.params.kvHeads);
    if (d * (m.params.heads + 2 * m.params.kvHeads) != total) {
      error(g.describe(n), "packed QKV width " + std::to_string(total) + " does not split into " +
                               std::to_string(m.params.heads) + " + 2 x " +
                               std::to_string(m.params.kvHeads) + " heads");
      return std::nullopt;
    }
    if (!splitLinear(*q, {m.params.heads * d, m.params.kvHeads * d, m.params.kvHeads * d},
                     {&m.q, &m.k, &m.v}, n))
      return std::nullopt;
    m.params.headDim = d;
  } else {
    const LinearMatch *k = projection(input(1)), *v = projection(input(2));
    if (!k || !v) {
      error(g.describe(n), "its key and value are not linear projections of the normalized "
                           "input");
      return std::nullopt;
    }
    m.q = q->weight;
    m.k = k->weight;
    m.v = v->weight;
    m.quantized = q->quantizedInput;
    m.params.headDim = m.q.outFeatures / m.params.heads;
    if (m.params.headDim * m.params.heads != m.q.outFeatures ||
        m.k.outFeatures != m.params.kvHeads * m.params.headDim ||
        m.v.outFeatures != m.k.outFeatures) {
      error(g.describe(n), "q/k/v widths " + std::to_string(m.q.outFeatures) + "/" +
                               std::to_string(m.k.outFeatures) + "/" +
                               std::to_string(m.v.outFeatures) + " do not fit " +
                               std::to_string(m.params.heads) + " heads and " +
                               std::to_string(m.params.kvHeads) + " KV heads");
      return std::nullopt;
    }
  }
  if (GraphView::intAttr(n, "do_rotary").value_or(0) != 0) {
    const Tensor *cos = g.constant(input(7));
    if (!cos) {
      error(g.describe(n), "do_rotary is set but cos_cache (input 7) is not a constant");
      return std::nullopt;
    }
    if (!rotaryFromCache(*cos, m.params.headDim,
                         GraphView::intAttr(n, "rotary_interleaved").value_or(0) != 0, m.params,
                         n))
      return std::nullopt;
  }
  m.output = n.output(0);
  claim(&n);
  return m;
}

// com.microsoft Attention (GPT-2 exports): one node holds the fused QKV weight and bias,
// multi-head attention with the past/present state, causal when unidirectional = 1.
std::optional<AttentionMatch> Mapper::matchPackedAttention(const Node &n) {
  auto input = [&](int i) { return i < n.input_size() ? n.input(i) : std::string(); };
  AttentionMatch m;
  m.params.heads = GraphView::intAttr(n, "num_heads").value_or(0);
  m.params.kvHeads = m.params.heads;
  m.params.scale = GraphView::floatAttr(n, "scale").value_or(0.0f);
  if (GraphView::intAttr(n, "unidirectional").value_or(0) != 1) {
    error(g.describe(n), "bidirectional attention (unidirectional = 0) cannot be a decoder layer");
    return std::nullopt;
  }
  if (GraphView::intAttr(n, "do_rotary").value_or(0) != 0 || !input(5).empty() ||
      !input(6).empty() || !input(7).empty()) {
    error(g.describe(n), "rotary Attention, attention_bias, past_sequence_length and "
                         "relative-position inputs are not supported");
    return std::nullopt;
  }
  const Tensor *w = g.constant(input(1));
  if (!w || w->rank() != 2 || m.params.heads <= 0) {
    error(g.describe(n), "expected a constant [hidden, 3 x hidden] weight and num_heads > 0");
    return std::nullopt;
  }
  std::vector<int64_t> widths;
  if (auto sizes = GraphView::intsAttr(n, "qkv_hidden_sizes")) {
    widths = *sizes;
  } else {
    const int64_t third = w->shape()[1] / 3;
    widths = {third, third, third};
  }
  if (widths.size() != 3 || widths[0] != widths[1] || widths[1] != widths[2] ||
      widths[0] + widths[1] + widths[2] != w->shape()[1] || widths[0] % m.params.heads) {
    error(g.describe(n), "q, k and v must have equal widths dividing into num_heads");
    return std::nullopt;
  }
  LinearMatch fused;
  fused.source = input(1);
  fused.transposed = true;
  fused.biasSource = input(2);
  if (!splitLinear(fused, widths, {&m.q, &m.k, &m.v}, n))
    return std::nullopt;
  m.params.headDim = widths[0] / m.params.heads;
  m.output = n.output(0);
  claim(&n);
  return m;
}

std::optional<AttentionMatch> Mapper::matchAttention(const std::string &normed) {
  for (const Node *c : g.consumers(normed))
    if (c->op_type() == "Attention" && c->domain() == kMicrosoft)
      return matchPackedAttention(*c);
  std::vector<LinearMatch> proj = matchLinears(normed);
  if (proj.empty())
    return std::nullopt;
  for (const LinearMatch &p : proj)
    for (const Node *c : g.consumers(p.output))
      if (c->op_type() == "GroupQueryAttention" && c->domain() == kMicrosoft)
        return matchGroupQueryAttention(*c, proj);
  return matchStandardAttention(normed, proj);
}

} // namespace tern::onnx
