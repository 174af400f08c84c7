// Maps a decoder-only transformer ONNX graph onto ModelDescription roles by walking its residual
// stream: embedding -> (norm -> attention -> add -> norm -> FFN -> add) x layers -> norm -> logits.
#include "frontends/onnx/ONNXDecoder.h"

#include "frontends/onnx/ONNXMapper.h"
#include "frontends/safetensors/HFTokenizer.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

#include <cmath>

namespace tern::onnx {
namespace {

// What an unclaimed node is told: every pattern the walk knows, by the ops it is made of.
constexpr const char *kNotRecognized =
    "is not part of any recognized decoder pattern; supported: token embedding (Gather of a "
    "constant table, com.microsoft EmbedLayerNormalization), norms (LayerNormalization, "
    "SimplifiedLayerNormalization, RMSNormalization, com.microsoft SkipLayerNormalization and "
    "SkipSimplifiedLayerNormalization, the Pow/ReduceMean/Add/Sqrt/Reciprocal/Mul RMSNorm "
    "subgraph), linear layers (MatMul or Gemm with a constant weight, com.microsoft "
    "MatMulNBits, a bias Add), BitNet activation quantization (Abs/ReduceMax/Clip/Round/Clip/Div "
    "or equivalent), attention (com.microsoft GroupQueryAttention and Attention, or standard ops: "
    "Reshape/Transpose/rotary Slice-Neg-Concat with Cos/Sin tables/Concat with the past/"
    "MatMul/scale/mask/Softmax/MatMul), FFN activations (Relu, Relu then square, x*Sigmoid(x), "
    "tanh Gelu, com.microsoft FastGelu), residual Add, lm_head MatMul";

bool isOp(const Node &node, const char *op, const char *domain = "") {
  return node.op_type() == op && (node.domain() == domain ||
                                  (std::string(domain).empty() && node.domain() == "ai.onnx"));
}

// Where the residual stream stands between blocks: its value, and the following norm when a
// fused op (SkipLayerNormalization, EmbedLayerNormalization) already computed it.
struct StreamPoint {
  std::string residual;
  std::optional<NormMatch> norm;
};

class DecoderWalk {
public:
  DecoderWalk(Mapper &m) : m(m), g(m.g), model(m.model) {}
  void run();

private:
  std::optional<StreamPoint> embedding();
  std::optional<NormMatch> normAt(StreamPoint &point, const std::string &role);
  // The residual add of |branch| (the block's output projection) into |residual|.
  std::optional<StreamPoint> residualAdd(const std::string &residual, const std::string &branch,
                                         fe::LinearWeight &branchLinear, const std::string &role);
  // A BitNet sub-norm in front of a projection, when present.
  std::string subNorm(const std::string &value, const fe::TensorRecord *&weight);
  std::optional<LinearMatch> singleLinear(const std::string &input, const std::string &role);
  bool attention(StreamPoint &point, fe::LayerWeights &layer, int64_t index);
  bool ffn(StreamPoint &point, fe::LayerWeights &layer, int64_t index);
  bool logits(const NormMatch &norm);
  void checkEverythingClaimed();
  void setHiddenSize(int64_t width, const std::string &subject);
  // Claims the Cast / Identity nodes in front of |value| (e.g. int64 -> int32 token ids).
  void claimCasts(const std::string &value) {
    for (const Node *p = g.producer(value);
         p && (isOp(*p, "Cast") || isOp(*p, "Identity")) && p->input_size() > 0;
         p = g.producer(p->input(0)))
      m.claim(p);
  }

  Mapper &m;
  const GraphView &g;
  fe::ModelDescription &model;
  std::optional<AttentionParams> attentionParams;
  std::optional<fe::FFNActivation> activation;
  std::optional<bool> gated, quantized;
  std::string tokenInput;
};

std::optional<StreamPoint> DecoderWalk::embedding() {
  for (const Node *node : g.nodes()) {
    const Node &n = *node;
    if (n.op_type() == "EmbedLayerNormalization" && n.domain() == "com.microsoft") {
      auto input = [&](int i) { return i < n.input_size() ? n.input(i) : std::string(); };
      if (!input(1).empty() || !input(4).empty()) {
        m.error(g.describe(n), "segment embeddings are not supported");
        return std::nullopt;
      }
      const Tensor *word = g.constant(input(2));
      const Tensor *position = g.constant(input(3));
      if (!word || !position) {
        m.error(g.describe(n), "expected constant word and position embedding tables");
        return std::nullopt;
      }
      tokenInput = g.throughCasts(input(0));
      claimCasts(input(0));
      claimCasts(input(8 < n.input_size() ? 8 : 0));
      model.tokenEmbedding = m.floatConstant(input(2), "token embedding");
      model.positionEmbedding = m.floatConstant(input(3), "position embedding");
      model.hparams.positions = fe::PositionEncoding::Learned;
      StreamPoint point;
      point.residual = n.output_size() > 2 ? n.output(2) : "";
      NormMatch norm;
      norm.kind = fe::NormKind::Layer;
      norm.output = n.output(0);
      norm.epsilon = GraphView::floatAttr(n, "epsilon").value_or(1e-12f);
      norm.weight = m.floatConstant(input(5), "embedding norm scale");
      if (!input(6).empty())
        norm.bias = m.floatConstant(input(6), "embedding norm bias");
      m.noteEpsilon(norm.epsilon, n);
      point.norm = norm;
      m.claim(node);
      if (n.output_size() > 1 && !n.output(1).empty() && !g.consumers(n.output(1)).empty())
        m.error(g.describe(n), "its mask_index output is used; not supported");
      if (word->rank() == 2)
        setHiddenSize(word->shape()[1], input(2));
      return point;
    }
    if (isOp(n, "Gather") && GraphView::intAttr(n, "axis").value_or(0) == 0) {
      const Tensor *table = g.constant(n.input(0));
      const std::string ids = g.throughCasts(n.input(1));
      if (!table || table->rank() != 2 || !isFloatType(table->type()) || !g.isGraphInput(ids))
        continue;
      tokenInput = ids;
      claimCasts(n.input(1));
      model.tokenEmbedding = m.floatConstant(n.input(0), "token embedding");
      setHiddenSize(table->shape()[1], n.input(0));
      m.claim(node);
      StreamPoint point{n.output(0), std::nullopt};
      // Learned positions written out: Add(token rows, Gather(position table, position_ids)).
      if (const Node *add = g.soleConsumer(n.output(0)); add && isOp(*add, "Add")) {
        const std::string other = add->input(0) == n.output(0) ? add->input(1) : add->input(0);
        const Node *gather = g.producer(other);
        if (gather && isOp(*gather, "Gather") && g.constant(gather->input(0)) &&
            g.isGraphInput(g.throughCasts(gather->input(1)))) {
          model.positionEmbedding = m.floatConstant(gather->input(0), "position embedding");
          model.hparams.positions = fe::PositionEncoding::Learned;
          m.claim(add);
          m.claim(gather);
          point.residual = add->output(0);
        }
      }
      return point;
    }
  }
  m.error("graph", "no token embedding found: expected a Gather (axis 0) of a constant float "
                   "table by a graph input, or com.microsoft EmbedLayerNormalization");
  return std::nullopt;
}

void DecoderWalk::setHiddenSize(int64_t width, const std::string &subject) {
  if (model.hparams.hiddenSize == 0)
    model.hparams.hiddenSize = width;
  else if (model.hparams.hiddenSize != width)
    m.error(subject, "width " + std::to_string(width) + " differs from the hidden size " +
                         std::to_string(model.hparams.hiddenSize));
}

std::optional<NormMatch> DecoderWalk::normAt(StreamPoint &point, const std::string &role) {
  if (point.norm)
    return point.norm;
  std::optional<NormMatch> norm = m.matchNorm(point.residual);
  if (!norm)
    m.error(point.residual, role + ": expected a norm (LayerNormalization, "
                                   "SimplifiedLayerNormalization or the RMSNorm subgraph "
                                   "Pow/ReduceMean/Add/Sqrt/Reciprocal/Mul/Mul) reading this value" +
                                   m.readBy(point.residual));
  return norm;
}

std::optional<StreamPoint> DecoderWalk::residualAdd(const std::string &residual,
                                                    const std::string &branch,
                                                    fe::LinearWeight &branchLinear,
                                                    const std::string &role) {
  std::string reached;
  const Node *node = g.soleConsumer(branch, &reached);
  if (!node) {
    m.error(branch, role + ": expected one residual Add or SkipLayerNormalization to read "
                           "this value" +
                           m.readBy(branch));
    return std::nullopt;
  }
  const Node &n = *node;
  auto input = [&](int i) { return i < n.input_size() ? n.input(i) : std::string(); };
  const bool readsResidual = (m.base(input(0)) == m.base(residual) && input(1) == reached) ||
                             (m.base(input(1)) == m.base(residual) && input(0) == reached);
  if (isOp(n, "Add") && readsResidual) {
    m.claim(node);
    return StreamPoint{n.output(0), std::nullopt};
  }
  const bool skipLayer = n.op_type() == "SkipLayerNormalization" && n.domain() == "com.microsoft";
  const bool skipSimplified =
      n.op_type() == "SkipSimplifiedLayerNormalization" && n.domain() == "com.microsoft";
  if ((skipLayer || skipSimplified) && readsResidual) {
    NormMatch norm;
    norm.kind = skipLayer ? fe::NormKind::Layer : fe::NormKind::RMS;
    norm.output = n.output(0);
    norm.epsilon = GraphView::floatAttr(n, "epsilon").value_or(1e-12f);
    norm.weight = m.floatConstant(input(2), "norm scale");
    const int biasInput = skipLayer ? 4 : 3;
    if (skipLayer && !input(3).empty())
      norm.bias = m.floatConstant(input(3), "norm bias");
    if (!input(biasInput).empty()) {
      // input + skip + bias: the bias belongs to the projection that produced the branch.
      if (branchLinear.bias) {
        m.error(g.describe(n), "adds a bias to a projection that already has one");
        return std::nullopt;
      }
      branchLinear.bias = m.floatConstant(input(biasInput), "projection bias");
    }
    for (int i = 1; i < 3 && i < n.output_size(); ++i)
      if (!n.output(i).empty() && !g.consumers(n.output(i)).empty())
        m.error(g.describe(n), "its mean / inverse-deviation outputs are used; not supported");
    m.noteEpsilon(norm.epsilon, n);
    m.claim(node);
    return StreamPoint{n.output_size() > 3 ? n.output(3) : "", norm};
  }
  m.error(g.describe(n), role + ": expected the residual Add (or SkipLayerNormalization) of '" +
                             branch + "' and '" + residual + "'");
  return std::nullopt;
}

std::string DecoderWalk::subNorm(const std::string &value, const fe::TensorRecord *&weight) {
  // Only a norm whose consumers are projections (directly or through activation quantization)
  // is a sub-norm; anything else reading |value| is left for the caller to match.
  std::vector<const Node *> users = g.consumers(value);
  bool squareOrNorm = false;
  for (const Node *u : users)
    squareOrNorm |= isOp(*u, "Pow") || isOp(*u, "SimplifiedLayerNormalization") ||
                    isOp(*u, "RMSNormalization") ||
                    (isOp(*u, "Mul") && u->input(0) == value && u->input(1) == value);
  if (!squareOrNorm)
    return value;
  std::optional<NormMatch> norm = m.matchNorm(value);
  if (!norm)
    return value;
  weight = norm->weight;
  return norm->output;
}

std::optional<LinearMatch> DecoderWalk::singleLinear(const std::string &input,
                                                     const std::string &role) {
  std::vector<LinearMatch> found = m.matchLinears(input);
  if (found.size() != 1) {
    m.error(input, role + ": expected one linear layer (MatMul or Gemm with a constant weight) "
                          "reading this value, found " +
                          std::to_string(found.size()) + m.readBy(input));
    return std::nullopt;
  }
  return found[0];
}

bool DecoderWalk::attention(StreamPoint &point, fe::LayerWeights &layer, int64_t index) {
  const std::string role = "layer " + std::to_string(index) + " attention";
  std::optional<NormMatch> norm = normAt(point, role + " norm");
  if (!norm)
    return false;
  layer.attnNorm = norm->weight;
  layer.attnNormBias = norm->bias;
  if (index == 0)
    model.hparams.norm = norm->kind;
  else if (model.hparams.norm != norm->kind)
    m.error(norm->output, role + " norm: mixes RMS and Layer norms");

  std::optional<AttentionMatch> attn = m.matchAttention(norm->output);
  if (!attn) {
    m.error(norm->output, role + ": no attention block recognized after this norm (supported: "
                                 "com.microsoft GroupQueryAttention or Attention, or q/k/v "
                                 "MatMuls with standard-op attention)" +
                                 m.readBy(norm->output));
    return false;
  }
  if (!attentionParams) {
    attentionParams = attn->params;
  } else {
    const AttentionParams &a = *attentionParams, &b = attn->params;
    if (a.heads != b.heads || a.kvHeads != b.kvHeads || a.headDim != b.headDim ||
        a.positions != b.positions || a.ropeStyle != b.ropeStyle ||
        std::fabs(a.ropeTheta - b.ropeTheta) > 1e-4 * a.ropeTheta || a.scale != b.scale)
      m.error(attn->output, role + ": head layout or positional encoding differs from layer 0");
  }
  layer.q = attn->q;
  layer.k = attn->k;
  layer.v = attn->v;
  std::string value = subNorm(attn->output, layer.attnSubNorm);
  std::optional<LinearMatch> o = singleLinear(value, role + " output projection");
  if (!o)
    return false;
  layer.o = o->weight;
  std::optional<StreamPoint> next = residualAdd(point.residual, o->output, layer.o, role);
  if (!next)
    return false;
  point = *next;
  return true;
}

bool DecoderWalk::ffn(StreamPoint &point, fe::LayerWeights &layer, int64_t index) {
  const std::string role = "layer " + std::to_string(index) + " FFN";
  std::optional<NormMatch> norm = normAt(point, role + " norm");
  if (!norm)
    return false;
  layer.ffnNorm = norm->weight;
  layer.ffnNormBias = norm->bias;
  std::vector<LinearMatch> proj = m.matchLinears(norm->output);
  std::string hidden;
  std::optional<std::pair<std::string, fe::FFNActivation>> act;
  if (proj.size() == 1) {
    layer.up = proj[0].weight;
    act = m.matchActivation(proj[0].output, &layer.up);
    if (!act) {
      m.error(proj[0].output, role + ": expected an activation (Relu, Relu then square, "
                                     "FastGelu, tanh Gelu, x * Sigmoid(x)) after the up "
                                     "projection" +
                                     m.readBy(proj[0].output));
      return false;
    }
    hidden = act->first;
    gated = gated.value_or(false);
  } else if (proj.size() == 2) {
    // The gate is the projection whose output goes through the activation.
    for (int which = 0; which < 2 && !act; ++which) {
      act = m.matchActivation(proj[which].output, nullptr);
      if (!act)
        continue;
      layer.gate = proj[which].weight;
      layer.up = proj[1 - which].weight;
      const Node *mul = g.soleConsumer(act->first);
      const std::string up = proj[1 - which].output;
      if (!mul || !isOp(*mul, "Mul") ||
          !((mul->input(0) == up) || (mul->input(1) == up))) {
        m.error(act->first, role + ": expected the gated product act(gate) * up");
        return false;
      }
      m.claim(mul);
      hidden = mul->output(0);
    }
    if (!act) {
      m.error(norm->output, role + ": neither projection is followed by a supported activation" +
                                m.readBy(proj[0].output) + m.readBy(proj[1].output));
      return false;
    }
    gated = gated.value_or(true);
  } else {
    m.error(norm->output, role + ": expected one (up) or two (gate, up) projections after the "
                                 "norm, found " +
                                 std::to_string(proj.size()));
    return false;
  }
  if (*gated != (proj.size() == 2))
    m.error(norm->output, role + ": gated and ungated FFNs are mixed");
  if (!activation)
    activation = act->second;
  else if (*activation != act->second)
    m.error(act->first, role + ": activation differs from layer 0");
  hidden = subNorm(hidden, layer.ffnSubNorm);
  std::optional<LinearMatch> down = singleLinear(hidden, role + " down projection");
  if (!down)
    return false;
  layer.down = down->weight;
  model.hparams.ffnSize = layer.up.outFeatures;
  std::optional<StreamPoint> next = residualAdd(point.residual, down->output, layer.down, role);
  if (!next)
    return false;
  point = *next;
  return true;
}

// The final norm's output feeds the vocabulary projection whose result is a graph output.
bool DecoderWalk::logits(const NormMatch &norm) {
  std::optional<LinearMatch> head = singleLinear(norm.output, "lm_head");
  if (!head)
    return false;
  std::string out = head->output;
  while (const Node *c = g.soleConsumer(out))
    if (isOp(*c, "Cast")) {
      m.claim(c);
      out = c->output(0);
    } else {
      break;
    }
  if (!g.isGraphOutput(out)) {
    m.error(head->output, "lm_head: its result is not a graph output");
    return false;
  }
  model.outputNorm = norm.weight;
  model.outputNormBias = norm.bias;
  model.lmHead = head->weight;
  model.hparams.vocabSize = head->weight.outFeatures;
  // Tied embeddings: the lm_head holds the embedding table's values.
  const fe::TensorRecord *emb = model.tokenEmbedding, *lm = head->weight.weight;
  if (emb && lm && !head->weight.bias && head->weight.encoding == fe::WeightEncoding::Float &&
      emb->shape == lm->shape && emb->dtype == lm->dtype && emb->byteSize == lm->byteSize &&
      std::equal(emb->data, emb->data + emb->byteSize, lm->data)) {
    model.lmHead.weight = emb;
    model.hparams.tiedEmbeddings = true;
  }
  return true;
}

// Every node must belong to a matched piece, or be bookkeeping that only reads masks, positions
// and shapes (the runtime keeps its own causal mask, positions and KV cache).
void DecoderWalk::checkEverythingClaimed() {
  std::set<std::string> stream; // values derived from the token ids or the past KV state
  stream.insert(tokenInput);
  for (const ValueInfo &in : g.model().inputs())
    if (in.name.find("past") != std::string::npos)
      stream.insert(in.name);
  for (const Node *node : g.nodes()) {
    bool readsStream = false;
    for (const std::string &in : node->input())
      readsStream |= stream.count(in) != 0;
    // Shape and Size read only the dimensions, which is bookkeeping.
    if (readsStream && node->op_type() != "Shape" && node->op_type() != "Size")
      for (const std::string &out : node->output())
        stream.insert(out);
    if (m.isClaimed(node))
      continue;
    if (readsStream && node->op_type() != "Shape" && node->op_type() != "Size")
      m.error(g.describe(*node), kNotRecognized);
  }
}

void DecoderWalk::run() {
  std::optional<StreamPoint> point = embedding();
  if (!point)
    return;
  // A layer starts at each norm whose output feeds an attention block; the norm whose output
  // feeds the lm_head ends the walk. 4096 bounds the walk on malformed graphs.
  for (int64_t layer = 0; layer < 4096; ++layer) {
    std::optional<NormMatch> norm = normAt(*point, "layer " + std::to_string(layer) + " norm");
    if (!norm)
      return;
    point->norm = norm;
    bool toLogits = false;
    for (const Node *c : g.consumers(norm->output)) {
      int64_t out = -1; // output features of a linear layer reading the norm
      if ((isOp(*c, "MatMul") || isOp(*c, "Gemm")) && g.constant(c->input(1))) {
        const Tensor *w = g.constant(c->input(1));
        out = isOp(*c, "Gemm") && GraphView::intAttr(*c, "transB").value_or(0) ? w->shape()[0]
                                                                               : w->shape().back();
      } else if (c->op_type() == "MatMulNBits" && c->domain() == "com.microsoft") {
        out = GraphView::intAttr(*c, "N").value_or(-1);
      }
      if (out < 0)
        continue;
      std::string result = c->output(0);
      while (const Node *cast = g.soleConsumer(result))
        if (isOp(*cast, "Cast"))
          result = cast->output(0);
        else
          break;
      toLogits |= g.isGraphOutput(result) && out != model.hparams.hiddenSize;
    }
    if (toLogits) {
      if (model.layers.empty())
        m.error(norm->output, "the graph has no decoder layer before the lm_head");
      if (logits(*norm))
        break;
      return;
    }
    fe::LayerWeights weightsOfLayer;
    if (!attention(*point, weightsOfLayer, layer) || !ffn(*point, weightsOfLayer, layer))
      return;
    model.layers.push_back(weightsOfLayer);
    if (point->residual.empty() && !point->norm) {
      m.error("layer " + std::to_string(layer), "the residual stream ends before the lm_head");
      return;
    }
  }

  fe::Hyperparameters &h = model.hparams;
  h.numLayers = static_cast<int64_t>(model.layers.size());
  h.rmsNormEps = m.epsilon.value_or(1e-5);
  if (attentionParams) {
    h.numHeads = attentionParams->heads;
    h.numKVHeads = attentionParams->kvHeads;
    h.headDim = attentionParams->headDim;
    if (h.positions != fe::PositionEncoding::Learned)
      h.positions = attentionParams->positions;
    h.ropeStyle = attentionParams->ropeStyle;
    h.ropeTheta = attentionParams->ropeTheta > 0 ? attentionParams->ropeTheta : 10000.0;
    h.contextLength = attentionParams->maxPositions;
    if (attentionParams->scale != 0 &&
        std::fabs(attentionParams->scale * std::sqrt(double(h.headDim)) - 1.0) > 1e-6)
      m.error("attention", "scale " + std::to_string(attentionParams->scale) +
                               " is not 1/sqrt(head_dim); only the default scale is supported");
  }
  if (model.positionEmbedding && !model.positionEmbedding->shape.empty())
    h.contextLength = model.positionEmbedding->shape[0];
  h.activation = activation.value_or(fe::FFNActivation::SiLU);
  h.gatedFFN = gated.value_or(true);
  bool anyTernary = false, anySubNorm = false;
  for (const fe::LayerWeights &l : model.layers) {
    for (const fe::LinearWeight *w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down})
      anyTernary |= w->encoding != fe::WeightEncoding::Float;
    anySubNorm |= l.attnSubNorm || l.ffnSubNorm;
  }
  h.quantizeActivations = anyTernary;
  // BitNet b1.58: ternary projections with sub-norms; the importer builds its graph from
  // family "bitnet" (sub-norms in front of o and down).
  h.family = anySubNorm ? "bitnet" : "llama";
  for (const fe::LayerWeights &l : model.layers)
    if (anySubNorm && (!l.attnSubNorm || !l.ffnSubNorm))
      m.error("layers", "some layers have attention/FFN sub-norms and others do not");
  checkEverythingClaimed();
}

} // namespace

llvm::Expected<fe::ModelDescription> describeONNXDecoder(llvm::StringRef path) {
  auto loaded = ONNXModel::load(path);
  if (!loaded)
    return loaded.takeError();
  const ONNXModel &onnxModel = **loaded;
  fe::ModelDescription model;
  model.format = "onnx";
  model.path = path.str();
  const auto &proto = onnxModel.proto();
  model.detail = "IR version " + std::to_string(proto.ir_version());
  if (!proto.producer_name().empty())
    model.detail += ", from " + proto.producer_name() + " " + proto.producer_version();
  for (const OpsetImport &o : onnxModel.opsets())
    model.detail += ", " + (o.domain.empty() ? std::string("ai.onnx") : o.domain) + " " +
                    std::to_string(o.version);
  GraphView graph(onnxModel);
  WeightStore weights(path.str());
  Mapper mapper(graph, weights, model);
  DecoderWalk(mapper).run();
  weights.finish(model);
  model.architecture = model.hparams.family.empty() ? "unrecognized" : model.hparams.family;
  // Tokenizer files exported next to the graph (onnxruntime-genai and optimum layouts).
  llvm::SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  if (llvm::Error err = fe::readHFTokenizer(dir, model))
    return std::move(err);
  return model;
}

} // namespace tern::onnx
