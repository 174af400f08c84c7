// Attention written with standard ONNX ops (PyTorch exports): q/k/v MatMuls, head reshapes,
// rotary embedding, the past/present KV concatenation, scaled scores, causal mask, softmax.
//
// Exporters differ in how they spell each step (Reshape or Unflatten, Mul or Div for the scale,
// Where or Add for the mask, Expand or Tile for grouped heads), so the matcher finds only the
// skeleton by structure: the two attention MatMuls (scores = q' k'^T and context = p v') and
// the projections that reach them. The head layout comes from the past-KV inputs, the rotary
// base from evaluating the graph's own cos table, and then the whole subgraph is evaluated on
// sample inputs and compared with causal grouped-query attention with those settings. A graph
// that computes anything else (another mask, scale or rotary variant) fails that comparison
// and is reported, never compiled into something different.
#include "frontends/onnx/ONNXMapper.h"

#include <cmath>
#include <random>

namespace tern::onnx {
namespace {

bool isDynamicMatMul(const GraphView &g, const Node &n) {
  return n.op_type() == "MatMul" && (n.domain().empty() || n.domain() == "ai.onnx") &&
         !g.constant(n.input(0)) && !g.constant(n.input(1));
}

// The attention MatMuls a projection's output reaches, with the operand index it arrives on.
std::vector<std::pair<const Node *, int>> reachedMatMuls(const GraphView &g,
                                                         const std::string &start) {
  std::vector<std::pair<const Node *, int>> found;
  std::set<std::string> seen = {start};
  std::vector<std::string> frontier = {start};
  for (int depth = 0; depth < 40 && !frontier.empty(); ++depth) {
    std::vector<std::string> next;
    for (const std::string &v : frontier)
      for (const Node *c : g.consumers(v)) {
        if (isDynamicMatMul(g, *c)) {
          found.push_back({c, c->input(0) == v ? 0 : 1});
          continue;
        }
        if (c->op_type() == "MatMul" || c->op_type() == "Gemm" || c->op_type() == "MatMulNBits")
          continue; // another projection: outside the attention core
        for (const std::string &o : c->output())
          if (seen.insert(o).second)
            next.push_back(o);
      }
    frontier = std::move(next);
  }
  return found;
}

void rope(std::vector<double> &x, int64_t heads, int64_t d, int64_t pos, double theta,
          bool neox) {
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < d / 2; ++i) {
      const double angle = double(pos) * std::pow(theta, -2.0 * double(i) / double(d));
      const int64_t a = h * d + (neox ? i : 2 * i), b = h * d + (neox ? i + d / 2 : 2 * i + 1);
      const double x0 = x[a], x1 = x[b];
      x[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
      x[b] = x0 * std::sin(angle) + x1 * std::cos(angle);
    }
}

enum class PastKind { None, Key, Value };

// past_key_values.0.key / past_key_values.0.value (optimum), past_key_0 / past_value_0, ...:
// the last "key" or "value" in the name decides, so "past_key_values" alone says nothing.
PastKind pastKind(llvm::StringRef name) {
  if (!name.contains("past"))
    return PastKind::None;
  size_t key = name.rfind("key"), value = name.rfind("value");
  if (name.ends_with("key_values") || (key == llvm::StringRef::npos && value == llvm::StringRef::npos))
    return PastKind::None;
  if (value != llvm::StringRef::npos && name.substr(value).starts_with("values") &&
      name.substr(value + 6).find_first_not_of("0123456789._") == llvm::StringRef::npos)
    return PastKind::None; // "..._key_values" followed only by digits: no key/value suffix
  if (key == llvm::StringRef::npos)
    return PastKind::Value;
  if (value == llvm::StringRef::npos)
    return PastKind::Key;
  // "key_values.0.value": the value comes after; "key_values.0.key": the key does.
  return key > value ? PastKind::Key : PastKind::Value;
}

} // namespace

std::optional<AttentionMatch> Mapper::matchStandardAttention(const std::string &normed,
                                                             const std::vector<LinearMatch> &proj) {
  if (proj.size() != 3)
    return std::nullopt;
  // Identify q, k, v by where they enter the two attention MatMuls.
  const Node *scores = nullptr, *context = nullptr;
  int q = -1, k = -1, v = -1;
  std::vector<std::vector<std::pair<const Node *, int>>> reached;
  for (const LinearMatch &p : proj)
    reached.push_back(reachedMatMuls(g, p.output));
  for (int i = 0; i < 3; ++i)
    for (auto [mm, index] : reached[i])
      for (int j = 0; j < 3; ++j)
        if (j != i)
          for (auto [other, otherIndex] : reached[j])
            if (other == mm && index == 0 && otherIndex == 1) {
              scores = mm;
              q = i;
              k = j;
            }
  if (!scores)
    return std::nullopt;
  v = 3 - q - k;
  for (auto [mm, index] : reached[v])
    if (index == 1 && mm != scores)
      context = mm;
  if (!context)
    return std::nullopt;
  // The output: the context rows moved back to [batch, seq, heads x head_dim].
  std::string output = context->output(0);
  for (;;) {
    std::vector<const Node *> users = g.consumers(output);
    if (users.size() != 1 || g.isGraphOutput(output))
      break;
    const std::string &op = users[0]->op_type();
    if (op != "Transpose" && op != "Reshape" && op != "Cast" && op != "Identity")
      break;
    output = users[0]->output(0);
  }

  AttentionMatch m;
  m.q = proj[q].weight;
  m.k = proj[k].weight;
  m.v = proj[v].weight;
  m.quantized = proj[q].quantizedInput;
  m.output = output;
  // The normalized input is given too: the subgraph may read its shape (batch, sequence), and
  // the layers before it must not be pulled into the evaluation.
  const std::set<std::string> projected = {proj[q].output, proj[k].output, proj[v].output,
                                           normed};
  std::set<std::string> inputsRead;
  std::vector<const Node *> region = g.closure({output}, projected, &inputsRead);
  const std::string where = g.describe(*scores);

  // The past key/value inputs, when the graph has a cache: [batch, kv_heads, past, head_dim].
  std::string pastKey, pastValue;
  for (const std::string &in : inputsRead) {
    const PastKind kind = pastKind(in);
    if (kind == PastKind::Key)
      pastKey = in;
    else if (kind == PastKind::Value)
      pastValue = in;
  }
  const ValueInfo *keyInfo = nullptr;
  for (const ValueInfo &vi : g.model().inputs())
    if (vi.name == pastKey)
      keyInfo = &vi;
  const bool hasPast = keyInfo != nullptr;
  if (hasPast && (pastValue.empty() || keyInfo->dims.size() != 4 || !keyInfo->dims[1].value ||
                  !keyInfo->dims[3].value)) {
    error(where, "past key/value inputs must come in pairs of shape [batch, kv_heads, past, "
                 "head_dim] with numeric heads and head_dim ('" + pastKey + "')");
    return std::nullopt;
  }
  AttentionParams &params = m.params;

  // Concrete graph inputs for |seq| new tokens after |past| cached ones.
  std::mt19937 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  auto inputsFor = [&](int64_t seq, int64_t past,
                       std::map<std::string, Tensor> &values) -> bool {
    for (const std::string &name : inputsRead) {
      const ValueInfo *info = nullptr;
      for (const ValueInfo &vi : g.model().inputs())
        if (vi.name == name)
          info = &vi;
      if (!info)
        return false;
      std::vector<int64_t> shape;
      const auto type = static_cast<ElemType>(info->elemType);
      if (name.find("past") != std::string::npos) {
        if (info->dims.size() != 4)
          return false;
        shape = {1, info->dims[1].value.value_or(1), past, info->dims[3].value.value_or(1)};
      } else if (name.find("attention_mask") != std::string::npos) {
        shape = {1, past + seq};
      } else {
        shape = {1, seq}; // input_ids, position_ids
      }
      Tensor t(type, shape);
      for (int64_t i = 0; i < t.numElements(); ++i) {
        if (name.find("past") != std::string::npos)
          t.setDouble(i, normal(rng));
        else if (name.find("attention_mask") != std::string::npos)
          t.setInt(i, 1);
        else if (name.find("position") != std::string::npos)
          t.setInt(i, past + i);
        else
          t.setInt(i, 1); // token ids: any valid id (graphs may read the embedding for a dtype)
      }
      values[name] = std::move(t);
    }
    return true;
  };

  // Evaluate the subgraph on 3 new tokens after 2 cached ones (none without a cache); the
  // result is compared below with causal grouped-query attention.
  const int64_t seq = 3, past = hasPast ? 2 : 0;
  std::map<std::string, Tensor> values;
  if (!inputsFor(seq, past, values)) {
    error(where, "attention reads a graph input other than input_ids, attention_mask, "
                 "position_ids and the past key/value");
    return std::nullopt;
  }
  // Zeros: only its shape may matter (a value that reaches the result fails the comparison).
  values[normed] = Tensor(ElemType::Float, {1, seq, m.q.inFeatures});
  std::vector<std::vector<double>> rows[3]; // q, k, v rows per new token
  const int projIndex[3] = {q, k, v};
  for (int which = 0; which < 3; ++which) {
    const LinearMatch &p = proj[projIndex[which]];
    Tensor t(ElemType::Float, {1, seq, p.weight.outFeatures});
    for (int64_t s = 0; s < seq; ++s) {
      std::vector<double> row(p.weight.outFeatures);
      for (int64_t j = 0; j < p.weight.outFeatures; ++j) {
        row[j] = static_cast<float>(normal(rng));
        t.setDouble(s * p.weight.outFeatures + j, row[j]);
      }
      rows[which].push_back(std::move(row));
    }
    values[p.output] = std::move(t);
  }
  if (llvm::Error err = g.evaluate(region, values)) {
    error(where, "cannot evaluate the attention subgraph: " + llvm::toString(std::move(err)));
    return std::nullopt;
  }
  // Head layout: the scores MatMul reads q as [batch, heads, seq, head_dim].
  const Tensor &qHeads = values[scores->input(0)];
  if (qHeads.rank() != 4 || qHeads.shape()[0] != 1 || qHeads.shape()[2] != seq ||
      qHeads.shape()[3] <= 0) {
    error(where, "the scores MatMul reads q as " + qHeads.describe() +
                     "; expected [batch, heads, sequence, head_dim]");
    return std::nullopt;
  }
  params.headDim = qHeads.shape()[3];
  const int64_t d = params.headDim;
  params.heads = qHeads.shape()[1];
  params.kvHeads = m.k.outFeatures / d;
  if (params.heads * d != m.q.outFeatures || params.kvHeads * d != m.k.outFeatures ||
      m.v.outFeatures != m.k.outFeatures || params.heads % params.kvHeads ||
      (hasPast && (*keyInfo->dims[1].value != params.kvHeads || *keyInfo->dims[3].value != d))) {
    error(where, "q/k/v widths " + std::to_string(m.q.outFeatures) + "/" +
                     std::to_string(m.k.outFeatures) + "/" + std::to_string(m.v.outFeatures) +
                     " do not fit " + std::to_string(params.heads) + " heads of " +
                     std::to_string(d) + (hasPast ? " and the past inputs' shape" : ""));
    return std::nullopt;
  }
  const Tensor &got = values[output];
  const int64_t width = params.heads * d;
  if (got.numElements() != seq * width) {
    error(where, "attention output has " + std::to_string(got.numElements()) +
                     " values for 3 tokens; expected 3 x " + std::to_string(width));
    return std::nullopt;
  }
  // Rotary settings: from com.microsoft RotaryEmbedding's constant cos cache, or from the graph's
  // own cos table, evaluated at 1024 positions.
  const Node *cosNode = nullptr, *rotaryNode = nullptr;
  for (const Node *n : region) {
    if (n->op_type() == "Cos")
      cosNode = n;
    if (n->op_type() == "RotaryEmbedding" && n->domain() == "com.microsoft")
      rotaryNode = n;
  }
  if (rotaryNode) {
    const Node &n = *rotaryNode;
    const int64_t rotaryDim = GraphView::intAttr(n, "rotary_embedding_dim").value_or(0);
    const Tensor *cos = n.input_size() > 2 ? g.constant(n.input(2)) : nullptr;
    if (!cos || (rotaryDim != 0 && rotaryDim != d)) {
      error(g.describe(n), "expected a constant cos_cache and rotary over the whole head "
                           "(rotary_embedding_dim 0 or head_dim); partial rotary is not "
                           "supported");
      return std::nullopt;
    }
    if (!rotaryFromCache(*cos, d, GraphView::intAttr(n, "interleaved").value_or(0) != 0, params,
                         n))
      return std::nullopt;
  } else if (cosNode) {
    const int64_t positions = 1024;
    std::map<std::string, Tensor> values;
    std::set<std::string> cosInputs;
    std::vector<const Node *> cosRegion = g.closure({cosNode->output(0)}, {normed}, &cosInputs);
    values[normed] = Tensor(ElemType::Float, {1, positions, m.q.inFeatures});
    for (const std::string &in : cosInputs)
      inputsRead.insert(in);
    if (!inputsFor(positions, 0, values)) {
      error(where, "cannot evaluate the rotary cos table: it reads an unexpected graph input");
      return std::nullopt;
    }
    if (llvm::Error err = g.evaluate(cosRegion, values)) {
      error(where, "cannot evaluate the rotary cos table: " + llvm::toString(std::move(err)));
      return std::nullopt;
    }
    const Tensor &cos = values[cosNode->output(0)];
    if (cos.numElements() != positions * d) {
      error(g.describe(*cosNode), "rotary cos table has " + std::to_string(cos.numElements()) +
                                      " values for 1024 positions; expected 1024 x head_dim " +
                                      std::to_string(d) + " (partial rotary is not supported)");
      return std::nullopt;
    }
    bool neox = true, interleaved = true;
    for (int64_t p = 0; p < positions; ++p)
      for (int64_t i = 0; i < d / 2; ++i) {
        neox &= cos.getDouble(p * d + i) == cos.getDouble(p * d + i + d / 2);
        interleaved &= cos.getDouble(p * d + 2 * i) == cos.getDouble(p * d + 2 * i + 1);
      }
    if (neox == interleaved) {
      error(g.describe(*cosNode), "rotary cos table is neither [f, f] halves nor interleaved "
                                  "pairs");
      return std::nullopt;
    }
    Tensor half(ElemType::Double, {positions, d / 2});
    for (int64_t p = 0; p < positions; ++p)
      for (int64_t i = 0; i < d / 2; ++i)
        half.setDouble(p * (d / 2) + i, cos.getDouble(p * d + (neox ? i : 2 * i)));
    if (!rotaryFromCache(half, d, !neox, params, *cosNode))
      return std::nullopt;
    params.maxPositions = 0; // computed in-graph: no table length limits the context
  }

  const bool neox = params.ropeStyle == fe::RopeStyle::Neox;
  const bool rotary = params.positions == fe::PositionEncoding::Rope;
  std::vector<std::vector<double>> keys, vals; // per position, [kv_heads x d]
  const Tensor &pk = hasPast ? values[pastKey] : got, &pv = hasPast ? values[pastValue] : got;
  for (int64_t t = 0; t < past; ++t) {
    std::vector<double> kr(params.kvHeads * d), vr(params.kvHeads * d);
    for (int64_t h = 0; h < params.kvHeads; ++h)
      for (int64_t j = 0; j < d; ++j) {
        kr[h * d + j] = pk.getDouble((h * past + t) * d + j);
        vr[h * d + j] = pv.getDouble((h * past + t) * d + j);
      }
    keys.push_back(kr);
    vals.push_back(vr);
  }
  double maxDiff = 0, maxRef = 0;
  for (int64_t s = 0; s < seq; ++s) {
    std::vector<double> kr = rows[1][s];
    if (rotary)
      rope(kr, params.kvHeads, d, past + s, params.ropeTheta, neox);
    keys.push_back(kr);
    vals.push_back(rows[2][s]);
  }
  for (int64_t s = 0; s < seq; ++s) {
    std::vector<double> qr = rows[0][s];
    if (rotary)
      rope(qr, params.heads, d, past + s, params.ropeTheta, neox);
    for (int64_t h = 0; h < params.heads; ++h) {
      const int64_t kvh = h / (params.heads / params.kvHeads);
      std::vector<double> score(past + s + 1);
      double top = -1e300;
      for (int64_t t = 0; t <= past + s; ++t) {
        double dot = 0;
        for (int64_t j = 0; j < d; ++j)
          dot += qr[h * d + j] * keys[t][kvh * d + j];
        score[t] = dot / std::sqrt(double(d));
        top = std::max(top, score[t]);
      }
      double sum = 0;
      for (double &x : score)
        sum += (x = std::exp(x - top));
      for (int64_t j = 0; j < d; ++j) {
        double want = 0;
        for (int64_t t = 0; t <= past + s; ++t)
          want += score[t] / sum * vals[t][kvh * d + j];
        const double have = got.getDouble(s * width + h * d + j);
        maxDiff = std::max(maxDiff, std::fabs(want - have));
        maxRef = std::max(maxRef, std::fabs(want));
      }
    }
  }
  if (maxDiff > 1e-4 * std::max(maxRef, 1.0)) {
    error(where, "this attention subgraph does not compute causal grouped-query attention with "
                 "scale 1/sqrt(head_dim)" +
                     std::string(rotary ? " and the RoPE its cos table implies" : "") +
                     " (max difference " + std::to_string(maxDiff) + " on sample inputs)");
    return std::nullopt;
  }
  for (const Node *n : region)
    claim(n);
  // present.N.key / value written by their own nodes from claimed values (Identity, Cast).
  std::set<std::string> regionValues;
  for (const Node *n : region)
    for (const std::string &o : n->output())
      regionValues.insert(o);
  for (const Node *n : g.nodes()) {
    bool allInRegion = n->input_size() > 0, allOutputs = n->output_size() > 0;
    for (const std::string &in : n->input())
      allInRegion &= in.empty() || regionValues.count(in) || g.constant(in) != nullptr;
    for (const std::string &o : n->output())
      allOutputs &= g.isGraphOutput(o);
    if (allInRegion && allOutputs)
      claim(n);
  }
  return m;
}

} // namespace tern::onnx
