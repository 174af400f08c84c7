// Matchers for the pieces of a decoder layer: norms, linear layers (float, ternary behind BitNet
// activation quantization, biased), FFN activations. Attention is in ONNXAttention.cpp.
#include "frontends/onnx/ONNXMapper.h"


#include <algorithm>
#include <cmath>
#include <random>

namespace tern::onnx {

static bool is(const Node &node, const char *op, const char *domain = "") {
  return node.op_type() == op && (node.domain() == domain ||
                                  (std::string(domain).empty() && node.domain() == "ai.onnx"));
}

const fe::TensorRecord *Mapper::floatConstant(const std::string &value, const std::string &role) {
  const Tensor *t = g.constant(value);
  if (!t) {
    error(value, role + ": expected a constant (initializer), found a computed value");
    return nullptr;
  }
  auto record = weights.floatTensor(g.throughCasts(value), *t);
  if (!record) {
    error(value, role + ": " + llvm::toString(record.takeError()));
    return nullptr;
  }
  return *record;
}

void Mapper::noteEpsilon(double eps, const Node &node) {
  if (!epsilon) {
    epsilon = eps;
  } else if (std::fabs(*epsilon - eps) > 1e-6 * std::fabs(*epsilon)) {
    error(g.describe(node), "norm epsilon " + std::to_string(eps) + " differs from " +
                                std::to_string(*epsilon) +
                                " used by earlier norms; one epsilon per model is supported");
  }
}

// --- norms ---

// x * 1/sqrt(mean(x^2) + eps) * w written with standard ops, as PyTorch exports RMSNorm:
// Pow(x, 2) | Mul(x, x) -> ReduceMean(last axis) -> Add(eps) -> Sqrt -> Reciprocal | Div(1, .)
// -> Mul(x, .) -> Mul(w, .), with Casts anywhere; or Div(x, Sqrt(...)).
std::optional<NormMatch> Mapper::matchRmsSubgraph(const Node &square, const std::string &input) {
  const std::string x = base(input);
  std::vector<const Node *> chain = {&square};
  std::string reached;
  const Node *mean = g.soleConsumer(square.output(0));
  if (!mean || !is(*mean, "ReduceMean"))
    return std::nullopt;
  chain.push_back(mean);
  const Node *add = g.soleConsumer(mean->output(0));
  if (!add || !is(*add, "Add"))
    return std::nullopt;
  std::optional<double> eps = g.scalar(add->input(0) == mean->output(0) ? add->input(1)
                                                                         : add->input(0));
  if (!eps)
    return std::nullopt;
  chain.push_back(add);
  const Node *sqrt = g.soleConsumer(add->output(0));
  if (!sqrt || !is(*sqrt, "Sqrt"))
    return std::nullopt;
  chain.push_back(sqrt);
  const Node *next = g.soleConsumer(sqrt->output(0));
  if (!next)
    return std::nullopt;
  const Node *scaled = nullptr; // the node producing x / rms
  if (is(*next, "Div") && base(next->input(0)) == x) {
    scaled = next;
  } else {
    if (is(*next, "Reciprocal")) {
      chain.push_back(next);
    } else if (is(*next, "Div") && g.scalar(next->input(0)) == 1.0) {
      chain.push_back(next);
    } else {
      return std::nullopt;
    }
    const Node *mul = g.soleConsumer(next->output(0));
    if (!mul || !is(*mul, "Mul") ||
        (base(mul->input(0)) != x && base(mul->input(1)) != x))
      return std::nullopt;
    scaled = mul;
  }
  chain.push_back(scaled);
  const Node *weighted = g.soleConsumer(scaled->output(0));
  if (!weighted || !is(*weighted, "Mul"))
    return std::nullopt;
  const std::string other = g.throughCasts(weighted->input(0)) == g.throughCasts(scaled->output(0))
                                ? weighted->input(1)
                                : weighted->input(0);
  const Tensor *w = g.constant(other);
  if (!w || w->rank() != 1)
    return std::nullopt;
  chain.push_back(weighted);
  NormMatch m;
  m.kind = fe::NormKind::RMS;
  m.output = weighted->output(0);
  m.epsilon = *eps;
  m.weight = floatConstant(other, "RMS norm weight");
  for (const Node *n : chain)
    claim(n);
  // The Casts between the matched nodes belong to the norm too.
  for (const Node *n : chain)
    for (const std::string &in : n->input())
      for (const Node *p = g.producer(in); p && is(*p, "Cast"); p = g.producer(p->input(0)))
        claim(p);
  noteEpsilon(*eps, square);
  return m;
}

std::optional<NormMatch> Mapper::matchNorm(const std::string &input) {
  for (const Node *c : g.consumers(input)) {
    const Node &n = *c;
    if (is(n, "Cast")) {
      if (auto m = matchNorm(n.output(0))) {
        claim(c);
        return m;
      }
      continue;
    }
    const bool layer = is(n, "LayerNormalization");
    const bool simplified = n.op_type() == "SimplifiedLayerNormalization" ||
                            (is(n, "RMSNormalization"));
    if (layer || simplified) {
      int64_t axis = GraphView::intAttr(n, "axis").value_or(-1);
      if (axis != -1) {
        // A positive axis is the last one only when the rank says so; decoder exports use -1.
        error(g.describe(n), "normalizes from axis " + std::to_string(axis) +
                                 "; only the last axis (-1) is supported");
        return std::nullopt;
      }
      for (int i = 1; i < n.output_size(); ++i)
        if (!n.output(i).empty() && !g.consumers(n.output(i)).empty())
          error(g.describe(n), "its mean / inverse-deviation outputs are used; not supported");
      NormMatch m;
      m.kind = layer ? fe::NormKind::Layer : fe::NormKind::RMS;
      m.output = n.output(0);
      m.epsilon = GraphView::floatAttr(n, "epsilon").value_or(1e-5f);
      m.weight = floatConstant(n.input(1), "norm scale");
      if (layer && n.input_size() > 2 && !n.input(2).empty())
        m.bias = floatConstant(n.input(2), "norm bias");
      claim(c);
      noteEpsilon(m.epsilon, n);
      return m;
    }
    const bool square = (is(n, "Pow") && g.scalar(n.input(1)) == 2.0) ||
                        (is(n, "Mul") && base(n.input(0)) == base(n.input(1)));
    if (square)
      if (auto m = matchRmsSubgraph(n, input))
        return m;
  }
  return std::nullopt;
}

// --- activation quantization ---

std::optional<std::string> Mapper::matchActivationQuant(const std::string &input,
                                                        const Node &abs) {
  // Find the Round of x * scale within a few steps of the Abs that starts the scale.
  const Node *round = nullptr;
  std::vector<std::string> frontier = {abs.output(0)};
  for (int depth = 0; depth < 8 && !round && !frontier.empty(); ++depth) {
    std::vector<std::string> next;
    for (const std::string &v : frontier)
      for (const Node *c : g.consumers(v)) {
        if (is(*c, "Round")) {
          round = c;
          break;
        }
        if (!is(*c, "MatMul") && !is(*c, "Gemm") && c->op_type() != "MatMulNBits")
          for (const std::string &o : c->output())
            next.push_back(o);
      }
    frontier = std::move(next);
  }
  if (!round)
    return std::nullopt;
  // The dequantized value: follow single consumers until a matmul reads the value.
  std::string v = round->output(0);
  for (int steps = 0; steps < 6; ++steps) {
    std::vector<const Node *> users = g.consumers(v);
    if (users.empty())
      return std::nullopt;
    bool allMatmul = true;
    for (const Node *u : users)
      allMatmul &= is(*u, "MatMul") || u->op_type() == "MatMulNBits";
    if (allMatmul)
      break;
    if (users.size() != 1)
      return std::nullopt;
    v = users[0]->output(0);
  }
  std::set<std::string> inputsRead;
  std::vector<const Node *> region = g.closure({v}, {input}, &inputsRead);
  if (region.empty() || !inputsRead.empty())
    return std::nullopt;
  // Check the region's arithmetic on sample rows against BitNet's quantizer: whatever ops the
  // exporter chose, they must compute clip(round(x * 127 / max|x|), -128, 127) / (127 / max|x|).
  const int64_t rows = 3, width = 40;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  std::vector<float> sample(rows * width);
  for (float &s : sample)
    s = normal(rng);
  sample[5] = 0.0f; // exact zeros and a row of them exercise the clamp of the absmax
  for (int64_t j = 0; j < width; ++j)
    sample[2 * width + j] = j == 3 ? 1e-3f : 0.0f;
  std::map<std::string, Tensor> values;
  values[input] = Tensor::fromFloats(sample, {rows, width});
  if (llvm::Error err = g.evaluate(region, values)) {
    llvm::consumeError(std::move(err));
    return std::nullopt;
  }
  const Tensor &got = values[v];
  if (got.numElements() != rows * width)
    return std::nullopt;
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0;
    for (int64_t j = 0; j < width; ++j)
      amax = std::max(amax, std::fabs(sample[r * width + j]));
    const float scale = 127.0f / std::max(amax, 1e-5f);
    for (int64_t j = 0; j < width; ++j) {
      float q = std::clamp(std::nearbyint(sample[r * width + j] * scale), -128.0f, 127.0f);
      float want = q / scale, have = static_cast<float>(got.getDouble(r * width + j));
      if (std::fabs(want - have) > 1e-5f * std::max(1.0f, std::fabs(want)))
        return std::nullopt;
    }
  }
  for (const Node *n : region)
    claim(n);
  return v;
}

// --- linear layers ---

// com.microsoft MatMulNBits: block-quantized weights, dequantized to f32 at import.
std::optional<LinearMatch> Mapper::matchMatMulNBits(const Node &c, bool fromQuant) {
  auto input = [&](int i) { return i < c.input_size() ? c.input(i) : std::string(); };
  const Tensor *blocks = g.constant(input(1)), *scales = g.constant(input(2));
  const Tensor *zeroPoints = input(3).empty() ? nullptr : g.constant(input(3));
  if (!blocks || !scales || (!input(3).empty() && !zeroPoints)) {
    error(g.describe(c), "expected constant quantized weights, scales and zero points");
    return std::nullopt;
  }
  if (!input(4).empty()) {
    error(g.describe(c), "g_idx (act-order) is not supported");
    return std::nullopt;
  }
  auto attr = [&](const char *name) { return GraphView::intAttr(c, name).value_or(0); };
  auto record = weights.matMulNBits(input(1), *blocks, *scales, zeroPoints, attr("K"), attr("N"),
                                    attr("bits"), attr("block_size"));
  if (!record) {
    error(g.describe(c), llvm::toString(record.takeError()));
    return std::nullopt;
  }
  LinearMatch m;
  m.output = c.output(0);
  m.quantizedInput = fromQuant;
  m.weight.weight = *record;
  m.weight.outFeatures = attr("N");
  m.weight.inFeatures = attr("K");
  if (fromQuant) {
    auto ternary = weights.ternary(**record);
    if (!ternary) {
      error(g.describe(c), "BitNet activation quantization feeds this MatMulNBits, but its "
                           "weight is not ternary: " +
                               llvm::toString(ternary.takeError()));
      return std::nullopt;
    }
    m.weight.weight = *ternary;
    m.weight.encoding = fe::WeightEncoding::TernaryPacked;
  }
  if (!input(5).empty()) {
    m.weight.bias = floatConstant(input(5), "MatMulNBits bias");
    m.biasSource = input(5);
  }
  claim(&c);
  return m;
}

std::vector<LinearMatch> Mapper::matchLinears(const std::string &input) {
  std::vector<LinearMatch> found;
  // Each projection may have its own quantizer chain (one Abs per chain), or share one.
  std::vector<std::string> quantized;
  for (const Node *c : g.consumers(input)) {
    if (is(*c, "Abs")) {
      if (std::optional<std::string> q = matchActivationQuant(input, *c))
        if (std::find(quantized.begin(), quantized.end(), *q) == quantized.end())
          quantized.push_back(*q);
      continue;
    }
    if (is(*c, "Cast"))
      for (LinearMatch &m : matchLinears(c->output(0))) {
        claim(c);
        found.push_back(std::move(m));
      }
  }
  auto collect = [&](const std::string &x, bool fromQuant) {
    for (const Node *c : g.consumers(x)) {
      const bool matmul = is(*c, "MatMul");
      const bool gemm = is(*c, "Gemm");
      if (c->op_type() == "MatMulNBits" && c->domain() == "com.microsoft" && c->input(0) == x) {
        if (std::optional<LinearMatch> m = matchMatMulNBits(*c, fromQuant))
          found.push_back(std::move(*m));
        continue;
      }
      if ((!matmul && !gemm) || c->input(0) != x)
        continue;
      const Tensor *w = g.constant(c->input(1));
      if (!w || w->rank() != 2)
        continue;
      bool transposed = true; // MatMul's right-hand side is [in, out]
      if (gemm) {
        if (GraphView::intAttr(*c, "transA").value_or(0) != 0 ||
            GraphView::floatAttr(*c, "alpha").value_or(1.0f) != 1.0f ||
            GraphView::floatAttr(*c, "beta").value_or(1.0f) != 1.0f) {
          error(g.describe(*c), "Gemm with transA, alpha or beta other than 0, 1, 1 is not "
                                "supported");
          continue;
        }
        transposed = GraphView::intAttr(*c, "transB").value_or(0) == 0;
      }
      auto record = weights.linearWeight(g.throughCasts(c->input(1)), *w, transposed);
      if (!record) {
        error(g.describe(*c), llvm::toString(record.takeError()));
        continue;
      }
      LinearMatch m;
      m.output = c->output(0);
      m.quantizedInput = fromQuant;
      m.source = c->input(1);
      m.transposed = transposed;
      m.weight.weight = *record;
      m.weight.outFeatures = (*record)->shape[0];
      m.weight.inFeatures = (*record)->shape[1];
      if (fromQuant) {
        auto ternary = weights.ternary(**record);
        if (!ternary) {
          error(g.describe(*c), "BitNet activation quantization feeds this MatMul, but its "
                                "weight is not ternary: " +
                                    llvm::toString(ternary.takeError()));
          continue;
        }
        m.weight.weight = *ternary;
        m.weight.encoding = fe::WeightEncoding::TernaryPacked;
      }
      claim(c);
      if (gemm && c->input_size() > 2 && !c->input(2).empty()) {
        m.weight.bias = floatConstant(c->input(2), "Gemm bias");
        m.biasSource = c->input(2);
      }
      // A bias added right after the matmul: Add(y, b) with b a vector of out_features.
      if (const Node *add = g.soleConsumer(m.output); add && is(*add, "Add") && !m.weight.bias) {
        const std::string other = add->input(0) == m.output ? add->input(1) : add->input(0);
        const Tensor *b = g.constant(other);
        if (b && b->rank() == 1 && b->shape()[0] == m.weight.outFeatures) {
          m.weight.bias = floatConstant(other, "linear bias");
          m.biasSource = other;
          m.output = add->output(0);
          claim(add);
        }
      }
      found.push_back(std::move(m));
    }
  };
  collect(input, false);
  for (const std::string &q : quantized)
    collect(q, true);
  return found;
}

// --- FFN activations ---

std::optional<std::pair<std::string, fe::FFNActivation>>
Mapper::matchActivation(const std::string &input, fe::LinearWeight *biasTarget) {
  for (const Node *c : g.consumers(input)) {
    const Node &n = *c;
    if (n.op_type() == "FastGelu" && n.domain() == "com.microsoft") {
      // FastGelu(x, bias) = gelu_tanh(x + bias): the bias belongs to the linear before it.
      if (n.input_size() > 1 && !n.input(1).empty()) {
        if (!biasTarget || biasTarget->bias) {
          error(g.describe(n), "a FastGelu bias needs the linear layer before it without one");
          return std::nullopt;
        }
        biasTarget->bias = floatConstant(n.input(1), "FastGelu bias");
      }
      claim(c);
      return std::make_pair(n.output(0), fe::FFNActivation::GELU);
    }
    if (is(n, "Gelu")) {
      if (GraphView::stringAttr(n, "approximate").value_or("none") != "tanh") {
        error(g.describe(n), "exact (erf) GELU is not supported; the tanh approximation is");
        return std::nullopt;
      }
      claim(c);
      return std::make_pair(n.output(0), fe::FFNActivation::GELU);
    }
    if (is(n, "Relu")) {
      claim(c);
      const std::string r = n.output(0);
      if (const Node *sq = g.soleConsumer(r)) {
        const bool pow2 = is(*sq, "Pow") && g.scalar(sq->input(1)) == 2.0;
        const bool mulSelf = is(*sq, "Mul") && sq->input(0) == r && sq->input(1) == r;
        if (pow2 || mulSelf) {
          claim(sq);
          return std::make_pair(sq->output(0), fe::FFNActivation::ReLU2);
        }
      }
      return std::make_pair(r, fe::FFNActivation::ReLU);
    }
    if (is(n, "Sigmoid")) {
      // SiLU: x * sigmoid(x).
      const Node *mul = g.soleConsumer(n.output(0));
      if (mul && is(*mul, "Mul") &&
          (base(mul->input(0)) == base(input) || base(mul->input(1)) == base(input))) {
        claim(c);
        claim(mul);
        return std::make_pair(mul->output(0), fe::FFNActivation::SiLU);
      }
    }
  }
  return std::nullopt;
}

} // namespace tern::onnx
