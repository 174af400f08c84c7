#!/usr/bin/env python3
"""Builds two tiny random-weight decoder-only ONNX models for the ONNX frontend's tests.

  tests/onnx/models/tiny-llama/model.onnx   LLaMA: RMSNorm, rotary (theta 1e4), GQA, SwiGLU,
                                            untied lm_head
  tests/onnx/models/tiny-bitnet/model.onnx  BitNet b1.58: the same skeleton with attention and FFN
                                            sub-norms, ReLU^2, ternary weights behind 8-bit
                                            per-token activation fake-quantization, rotary theta
                                            5e5, lm_head tied to the embedding

Both use vocab 384, hidden 64, 2 layers, 4 query heads, 2 KV heads, head_dim 16, FFN 160.

The graphs are written node by node in the form the PyTorch TorchScript exporter gives a Hugging
Face LlamaForCausalLM / BitNetForCausalLM exported with past_key_values (opset 17, default domain
only): the frontend's pattern recognizer is meant for such exports, and these models let its tests
run without torch. The README lists where real exports are known to differ. Weights come from a fixed numpy seed, so re-running the script rebuilds the
same files. tools/onnx/README.md describes the op patterns; keep it in step with this file.

Run with a venv that has onnx and numpy:
  /path/to/venv/bin/python tools/onnx/make_tiny_decoders.py [--out-dir DIR]
"""
import argparse
import collections
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

OPSET = 17
# The IR version torch.onnx writes for opset 17; older readers accept it.
IR_VERSION = 8

VOCAB = 384
HIDDEN = 64
LAYERS = 2
HEADS = 4
KV_HEADS = 2
HEAD_DIM = 16
FFN = 160
EPS = 1e-5
SEED = 20250601

F32_MIN = float(np.finfo(np.float32).min)
INT64_MAX = np.iinfo(np.int64).max

# Symbolic dimension names; the attention mask and the presents share the total length's name so
# that a reader can tell they are the same size.
BATCH = "batch_size"
SEQ = "sequence_length"
PAST = "past_sequence_length"
TOTAL = "total_sequence_length"


class GraphWriter:
    """Appends nodes in execution order and names them the way the TorchScript exporter does:
    node "<scope>/<Op>" (then "<Op>_1", "<Op>_2" within the same scope), output "<node>_output_0".
    Parameters the exporter keeps as they are (embedding, norm weights) carry their Hugging Face
    names; tensors the exporter derives from parameters by constant folding (transposed Linear
    weights, the rotary inverse frequencies, the attention scale) get anonymous
    "onnx::<ConsumerOp>_<n>" names, as real exports do, so nothing may rely on them."""

    def __init__(self):
        self.nodes = []
        self.initializers = []
        self.per_scope = collections.Counter()
        self.anon = 1000

    def op(self, scope, op_type, inputs, output=None, **attrs):
        key = f"{scope}/{op_type}"
        k = self.per_scope[key]
        self.per_scope[key] += 1
        name = key if k == 0 else f"{key}_{k}"
        out = output or f"{name}_output_0"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out

    def const(self, scope, value, dtype):
        """A Constant node: the exporter's form for Python literals and static shapes."""
        t = numpy_helper.from_array(np.array(value, dtype=dtype))
        return self.op(scope, "Constant", [], value=t)

    def param(self, name, array):
        # np.array(copy) rather than ascontiguousarray, which would turn a 0-d scalar into [1].
        self.initializers.append(numpy_helper.from_array(np.array(array, order="C"), name))
        return name

    def folded(self, consumer_op, array):
        self.anon += 1
        return self.param(f"onnx::{consumer_op}_{self.anon}", array)


def rms_norm(g, scope, x, weight):
    """weight * (x * 1/sqrt(mean(x^2) + eps)), as HF's LlamaRMSNorm/BitNetRMSNorm. The inverse is
    Reciprocal(Sqrt); torch writes rsqrt as Div(Constant [1.0], Sqrt), so a recognizer must take
    both."""
    sq = g.op(scope, "Pow", [x, g.const(scope, 2.0, np.float32)])
    mean = g.op(scope, "ReduceMean", [sq], axes=[-1], keepdims=1)
    var = g.op(scope, "Add", [mean, g.const(scope, EPS, np.float32)])
    root = g.op(scope, "Sqrt", [var])
    inv = g.op(scope, "Reciprocal", [root])
    normed = g.op(scope, "Mul", [x, inv])
    return g.op(scope, "Mul", [weight, normed])


def act_quant(g, scope, x):
    """BitNet's per-token 8-bit absmax fake quantization, as HF's BitNet linear layers do it:
    scale = 127 / max(|x|).clamp(min=1e-5); x_q = (x * scale).round().clamp(-128, 127) / scale.
    torch evaluates `127 / t` as t.reciprocal() * 127, hence Reciprocal then Mul."""
    a = g.op(scope, "Abs", [x])
    amax = g.op(scope, "ReduceMax", [a], axes=[-1], keepdims=1)
    clipped = g.op(scope, "Clip", [amax, g.const(scope, 1e-5, np.float32)])
    inv = g.op(scope, "Reciprocal", [clipped])
    scale = g.op(scope, "Mul", [inv, g.const(scope, 127.0, np.float32)])
    scaled = g.op(scope, "Mul", [x, scale])
    rounded = g.op(scope, "Round", [scaled])
    q = g.op(scope, "Clip", [rounded, g.const(scope, -128.0, np.float32),
                             g.const(scope, 127.0, np.float32)])
    return g.op(scope, "Div", [q, scale])


def linear(g, scope, x, weight_in_out, bitnet):
    if bitnet:
        x = act_quant(g, scope, x)
    return g.op(scope, "MatMul", [x, weight_in_out])


def unsqueeze(g, scope, x, axes):
    return g.op(scope, "Unsqueeze", [x, g.const(scope, axes, np.int64)])


def rotate_half(g, scope, x):
    """cat(-x[..., d/2:], x[..., :d/2]) with static bounds, as the exporter folds x.shape[-1]//2."""
    half = HEAD_DIM // 2
    axes = g.const(scope, [3], np.int64)
    steps = g.const(scope, [1], np.int64)
    x1 = g.op(scope, "Slice", [x, g.const(scope, [0], np.int64), g.const(scope, [half], np.int64),
                               axes, steps])
    x2 = g.op(scope, "Slice", [x, g.const(scope, [half], np.int64),
                               g.const(scope, [INT64_MAX], np.int64), axes, steps])
    neg = g.op(scope, "Neg", [x2])
    return g.op(scope, "Concat", [neg, x1], axis=-1)


def repeat_kv(g, scope, x):
    """HF repeat_kv: x[:, :, None].expand(b, kv, rep, t, d).reshape(b, kv * rep, t, d); the
    dynamic dims (batch, total length) come from Shape/Gather, the static ones are Constants."""
    shape = g.op(scope, "Shape", [x])
    b = unsqueeze(g, scope, g.op(scope, "Gather", [shape, g.const(scope, 0, np.int64)], axis=0), [0])
    t = unsqueeze(g, scope, g.op(scope, "Gather", [shape, g.const(scope, 2, np.int64)], axis=0), [0])
    x5 = unsqueeze(g, scope, x, [2])
    expand_shape = g.op(scope, "Concat", [b, g.const(scope, [KV_HEADS], np.int64),
                                          g.const(scope, [HEADS // KV_HEADS], np.int64), t,
                                          g.const(scope, [HEAD_DIM], np.int64)], axis=0)
    expanded = g.op(scope, "Expand", [x5, expand_shape])
    out_shape = g.op(scope, "Concat", [b, g.const(scope, [HEADS], np.int64), t,
                                       g.const(scope, [HEAD_DIM], np.int64)], axis=0)
    return g.op(scope, "Reshape", [expanded, out_shape])


def attention(g, layer, x, w, cos, sin, mask, bitnet):
    scope = f"/model/layers.{layer}/self_attn"
    # hidden_shape = (*hidden_states.shape[:-1], -1, head_dim): batch and length from Shape.
    shape = g.op(scope, "Shape", [x])
    b = unsqueeze(g, scope, g.op(scope, "Gather", [shape, g.const(scope, 0, np.int64)], axis=0), [0])
    s = unsqueeze(g, scope, g.op(scope, "Gather", [shape, g.const(scope, 1, np.int64)], axis=0), [0])
    hidden_shape = g.op(scope, "Concat", [b, s, g.const(scope, [-1], np.int64),
                                          g.const(scope, [HEAD_DIM], np.int64)], axis=0)

    def heads(proj, weight):
        y = linear(g, f"{scope}/{proj}", x, weight, bitnet)
        y = g.op(scope, "Reshape", [y, hidden_shape])
        return g.op(scope, "Transpose", [y], perm=[0, 2, 1, 3])

    q = heads("q_proj", w["q"])
    k = heads("k_proj", w["k"])
    v = heads("v_proj", w["v"])

    # apply_rotary_pos_emb: cos/sin [B, S, D] -> [B, 1, S, D]; x * cos + rotate_half(x) * sin.
    cos4 = unsqueeze(g, scope, cos, [1])
    sin4 = unsqueeze(g, scope, sin, [1])

    def rope(t):
        a = g.op(scope, "Mul", [t, cos4])
        r = g.op(scope, "Mul", [rotate_half(g, scope, t), sin4])
        return g.op(scope, "Add", [a, r])

    q = rope(q)
    k = rope(k)

    # The cache update: present = cat(past, new) on the sequence axis.
    k = g.op(scope, "Concat", [f"past_key_values.{layer}.key", k], axis=2,
             output=f"present.{layer}.key")
    v = g.op(scope, "Concat", [f"past_key_values.{layer}.value", v], axis=2,
             output=f"present.{layer}.value")

    k_rep = repeat_kv(g, scope, k)
    v_rep = repeat_kv(g, scope, v)
    kt = g.op(scope, "Transpose", [k_rep], perm=[0, 1, 3, 2])
    scores = g.op(scope, "MatMul", [q, kt])
    scores = g.op(scope, "Mul", [scores, w["scale"]])
    scores = g.op(scope, "Add", [scores, mask])
    probs = g.op(scope, "Softmax", [scores], axis=-1)
    ctx = g.op(scope, "MatMul", [probs, v_rep])
    ctx = g.op(scope, "Transpose", [ctx], perm=[0, 2, 1, 3])
    out_shape = g.op(scope, "Concat", [b, s, g.const(scope, [-1], np.int64)], axis=0)
    ctx = g.op(scope, "Reshape", [ctx, out_shape])
    if bitnet:
        ctx = rms_norm(g, f"{scope}/attn_sub_norm", ctx, w["attn_sub_norm"])
    return linear(g, f"{scope}/o_proj", ctx, w["o"], bitnet)


def mlp(g, layer, x, w, bitnet):
    scope = f"/model/layers.{layer}/mlp"
    gate = linear(g, f"{scope}/gate_proj", x, w["gate"], bitnet)
    if bitnet:
        # ACT2FN["relu2"]: square(relu(x)); torch.square traces as pow(x, 2).
        r = g.op(f"{scope}/act_fn", "Relu", [gate])
        act = g.op(f"{scope}/act_fn", "Pow", [r, g.const(f"{scope}/act_fn", 2.0, np.float32)])
    else:
        # SiLU: the exporter writes x * sigmoid(x).
        sig = g.op(f"{scope}/act_fn", "Sigmoid", [gate])
        act = g.op(f"{scope}/act_fn", "Mul", [gate, sig])
    up = linear(g, f"{scope}/up_proj", x, w["up"], bitnet)
    h = g.op(scope, "Mul", [act, up])
    if bitnet:
        h = rms_norm(g, f"{scope}/ffn_sub_norm", h, w["ffn_sub_norm"])
    return linear(g, f"{scope}/down_proj", h, w["down"], bitnet)


def causal_mask(g):
    """[B, 1, S, T] float mask: 0 where a query may attend, float32 min where it may not
    (a key after the query, or a key whose attention_mask entry is 0). T = past + S; query i sits
    at position past + i (HF's cache_position)."""
    scope = "/model"
    ids_shape = g.op(scope, "Shape", ["input_ids"])
    s = g.op(scope, "Gather", [ids_shape, g.const(scope, 1, np.int64)], axis=0)
    mask_shape = g.op(scope, "Shape", ["attention_mask"])
    t = g.op(scope, "Gather", [mask_shape, g.const(scope, 1, np.int64)], axis=0)
    past = g.op(scope, "Sub", [t, s])
    one = g.const(scope, 1, np.int64)
    cache_position = g.op(scope, "Range", [past, t, one])
    key_position = g.op(scope, "Range", [g.const(scope, 0, np.int64), t, one])
    future = g.op(scope, "Greater", [key_position, unsqueeze(g, scope, cache_position, [1])])
    padding = g.op(scope, "Equal", ["attention_mask", g.const(scope, 0, np.int64)])
    padding = unsqueeze(g, scope, padding, [1, 2])
    masked = g.op(scope, "Or", [future, padding])
    return g.op(scope, "Where", [masked, g.const(scope, F32_MIN, np.float32),
                                 g.const(scope, 0.0, np.float32)])


def rotary(g, inv_freq):
    """HF LlamaRotaryEmbedding: freqs = (inv_freq[None, :, None].expand(B, -1, 1) @
    position_ids[:, None, :].float()).transpose(1, 2); emb = cat(freqs, freqs); cos, sin.
    inv_freq[None, :, None] is folded into a [1, D/2, 1] initializer."""
    scope = "/model/rotary_emb"
    shape = g.op(scope, "Shape", ["position_ids"])
    b = unsqueeze(g, scope, g.op(scope, "Gather", [shape, g.const(scope, 0, np.int64)], axis=0), [0])
    expand_shape = g.op(scope, "Concat", [b, g.const(scope, [1, 1], np.int64)], axis=0)
    freq = g.op(scope, "Expand", [inv_freq, expand_shape])
    pos = g.op(scope, "Cast", [unsqueeze(g, scope, "position_ids", [1])], to=TensorProto.FLOAT)
    freqs = g.op(scope, "MatMul", [freq, pos])
    freqs = g.op(scope, "Transpose", [freqs], perm=[0, 2, 1])
    emb = g.op(scope, "Concat", [freqs, freqs], axis=-1)
    return g.op(scope, "Cos", [emb]), g.op(scope, "Sin", [emb])


def ternary(master):
    """BitNet b1.58 weight quantization with a per-tensor scale s = mean|W|:
    W_t = clamp(round(W / s), -1, 1); the stored weight is W_t * s (values -s, 0, +s)."""
    s = np.float32(np.mean(np.abs(master)))
    wt = np.clip(np.round(master / s), -1, 1).astype(np.float32)
    # + 0.0 turns the -0.0 that round() gives small negatives into +0.0, so that the stored
    # values are exactly three bit patterns.
    return (wt * s + np.float32(0.0)).astype(np.float32)


def build(bitnet):
    rng = np.random.default_rng(SEED + (1 if bitnet else 0))
    g = GraphWriter()
    theta = 500000.0 if bitnet else 10000.0

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm_weight(n):
        # Not all ones, so that a frontend that drops the weight is caught.
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    def proj(n_in, n_out, gain=1.0):
        # torch stores Linear weights [out, in]; the exporter folds the transpose into an [in, out]
        # initializer for MatMul. std gain/sqrt(in) keeps activations near gain in size.
        w = normal((n_out, n_in), gain / np.sqrt(n_in))
        if bitnet:
            w = ternary(w)
        return g.folded("MatMul", w.T)

    # The lm_head's scale sets the logits' size: the final norm gives ~1 per element, so std 0.3
    # over 64 inputs gives logits of std ~2.4 and max |logit| ~8-9 over 384 tokens. Tied, the
    # embedding is that lm_head. A tied embedding also makes each token score itself highly
    # (e_t . e_t), so with unit-gain blocks greedy decoding repeats one token; BitNet's o/down
    # outputs (gain 3) outweigh the embedding in the residual stream, and sharper attention
    # (q/k gain 3) makes the prediction depend on the context, which gives 12 distinct greedy
    # tokens per golden prompt.
    out_gain, qk_gain = (3.0, 3.0) if bitnet else (1.0, 1.0)
    embed = g.param("model.embed_tokens.weight", normal((VOCAB, HIDDEN), 0.3 if bitnet else 1.0))
    layers = []
    for i in range(LAYERS):
        p = f"model.layers.{i}"
        w = {
            "input_layernorm": g.param(f"{p}.input_layernorm.weight", norm_weight(HIDDEN)),
            "post_attention_layernorm": g.param(f"{p}.post_attention_layernorm.weight",
                                                norm_weight(HIDDEN)),
            "q": proj(HIDDEN, HEADS * HEAD_DIM, qk_gain),
            "k": proj(HIDDEN, KV_HEADS * HEAD_DIM, qk_gain),
            "v": proj(HIDDEN, KV_HEADS * HEAD_DIM),
            "o": proj(HEADS * HEAD_DIM, HIDDEN, out_gain),
            "gate": proj(HIDDEN, FFN),
            "up": proj(HIDDEN, FFN),
            "down": proj(FFN, HIDDEN, out_gain),
            "scale": g.folded("Mul", np.array(1.0 / np.sqrt(HEAD_DIM), dtype=np.float32)),
        }
        if bitnet:
            w["attn_sub_norm"] = g.param(f"{p}.self_attn.attn_sub_norm.weight", norm_weight(HIDDEN))
            w["ffn_sub_norm"] = g.param(f"{p}.mlp.ffn_sub_norm.weight", norm_weight(FFN))
        layers.append(w)
    final_norm = g.param("model.norm.weight", norm_weight(HIDDEN))
    lm_head = None if bitnet else g.folded("MatMul", normal((VOCAB, HIDDEN), 0.3).T)
    exponents = np.arange(0, HEAD_DIM, 2, dtype=np.int64).astype(np.float32) / np.float32(HEAD_DIM)
    inv_freq = (np.float32(1.0) / (np.float32(theta) ** exponents)).astype(np.float32)
    inv_freq = g.folded("Expand", inv_freq.reshape(1, HEAD_DIM // 2, 1))

    # LlamaModel.forward order: embedding, mask, rotary tables, layers, final norm, lm_head.
    h = g.op("/model/embed_tokens", "Gather", [embed, "input_ids"], axis=0)
    mask = causal_mask(g)
    cos, sin = rotary(g, inv_freq)
    for i, w in enumerate(layers):
        scope = f"/model/layers.{i}"
        x = rms_norm(g, f"{scope}/input_layernorm", h, w["input_layernorm"])
        a = attention(g, i, x, w, cos, sin, mask, bitnet)
        h = g.op(scope, "Add", [h, a])
        x = rms_norm(g, f"{scope}/post_attention_layernorm", h, w["post_attention_layernorm"])
        m = mlp(g, i, x, w, bitnet)
        h = g.op(scope, "Add", [h, m])
    h = rms_norm(g, "/model/norm", h, final_norm)
    if bitnet:
        # Tied: F.linear(h, embed) exported as MatMul(h, Transpose(embed)). The Transpose is kept
        # as a node (not folded into a copy) so the tie stays visible and the table is stored once.
        lm_head = g.op("/lm_head", "Transpose", [embed], perm=[1, 0])
    g.op("/lm_head", "MatMul", [h, lm_head], output="logits")

    f32 = TensorProto.FLOAT
    i64 = TensorProto.INT64
    inputs = [
        helper.make_tensor_value_info("input_ids", i64, [BATCH, SEQ]),
        helper.make_tensor_value_info("attention_mask", i64, [BATCH, TOTAL]),
        helper.make_tensor_value_info("position_ids", i64, [BATCH, SEQ]),
    ]
    outputs = [helper.make_tensor_value_info("logits", f32, [BATCH, SEQ, VOCAB])]
    for i in range(LAYERS):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(
                f"past_key_values.{i}.{kind}", f32, [BATCH, KV_HEADS, PAST, HEAD_DIM]))
            outputs.append(helper.make_tensor_value_info(
                f"present.{i}.{kind}", f32, [BATCH, KV_HEADS, TOTAL, HEAD_DIM]))

    name = "tiny-bitnet" if bitnet else "tiny-llama"
    graph = helper.make_graph(g.nodes, "main_graph", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="ternc tools/onnx/make_tiny_decoders.py",
                              producer_version="1")
    model.ir_version = IR_VERSION
    model.doc_string = (f"{name}: random weights (seed {SEED + (1 if bitnet else 0)}), vocab "
                        f"{VOCAB}, hidden {HIDDEN}, {LAYERS} layers, {HEADS} heads, {KV_HEADS} KV "
                        f"heads, head_dim {HEAD_DIM}, FFN {FFN}, rope theta {theta:g}")
    return name, model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "tests", "onnx", "models"),
                    help="directory that receives <name>/model.onnx")
    args = ap.parse_args()
    for bitnet in (False, True):
        name, model = build(bitnet)
        onnx.checker.check_model(model, full_check=True)
        d = os.path.join(args.out_dir, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        onnx.save(model, path)
        ops = collections.Counter(n.op_type for n in model.graph.node)
        print(f"{path}: {os.path.getsize(path)} bytes, {len(model.graph.node)} nodes, "
              f"{len(model.graph.initializer)} initializers")
        print("  " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
