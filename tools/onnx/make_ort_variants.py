"""Makes variants of tests/onnx/models/tiny-llama with ONNX Runtime's own tools, so the frontend
meets graphs those tools write:

  tiny-llama-q2: weight-only quantizer, 2-bit, blocks of 32, asymmetric (uint8 zero points):
                 every MatMul with a constant weight becomes com.microsoft MatMulNBits
  tiny-llama-q4: the same, 4-bit
  tiny-llama-q8: the same, 8-bit, symmetric (the default zero point 128)
  tiny-llama-rotemb: the rotary subgraphs replaced by com.microsoft RotaryEmbedding nodes
                 reading constant cos/sin caches (the form ONNX Runtime's fusions and
                 onnxruntime-genai's builder write for rotary embeddings outside attention)
  tiny-llama-fused: the transformer optimizer (onnxruntime.transformers.optimizer), which fuses
                 the RMSNorm subgraphs into SimplifiedLayerNormalization and, with the residual
                 adds, into com.microsoft SkipSimplifiedLayerNormalization

Run after make_tiny_decoders.py and before make_ort_goldens.py (which makes their goldens)."""
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
from onnxruntime.transformers.optimizer import optimize_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "tests", "onnx", "models")

VARIANTS = {
    "tiny-llama-q2": dict(bits=2, block_size=32, is_symmetric=False),
    "tiny-llama-q4": dict(bits=4, block_size=32, is_symmetric=False),
    "tiny-llama-q8": dict(bits=8, block_size=32, is_symmetric=True),
}


def fused(source):
    # opt_level 0: only the transformer fusions, not ORT's generic graph rewrites; the "gpt2"
    # fusion set is the one that handles RMSNorm (it warns that the producer is not pytorch).
    return optimize_model(source, model_type="gpt2", num_heads=4, hidden_size=64,
                          opt_level=0).model


def with_rotary_embedding(source):
    """Each layer's rope(t) = Add(Mul(t, cos), Mul(rotate_half(t), sin)) on q and k
    ([batch, heads, seq, head_dim]) becomes RotaryEmbedding(t, position_ids, cos_cache,
    sin_cache); the in-graph cos/sin tables and rotate_half nodes are then dead and removed."""
    model = onnx.load(source)
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    head_dim, theta, positions = 16, 10000.0, 512
    inv_freq = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    angles = np.arange(positions, dtype=np.float64)[:, None] * inv_freq[None, :]
    graph.initializer.extend([
        numpy_helper.from_array(np.cos(angles).astype(np.float32), "cos_cache"),
        numpy_helper.from_array(np.sin(angles).astype(np.float32), "sin_cache")])
    nodes = []
    for n in graph.node:
        rope_add = n.op_type == "Add" and "self_attn" in n.name and \
            producer.get(n.input[0]) is not None and producer[n.input[0]].op_type == "Mul" and \
            producer.get(n.input[1]) is not None and producer[n.input[1]].op_type == "Mul" and \
            producer[producer[n.input[0]].input[0]].op_type == "Transpose"
        if rope_add:
            t = producer[n.input[0]].input[0]
            nodes.append(helper.make_node(
                "RotaryEmbedding", [t, "position_ids", "cos_cache", "sin_cache"], list(n.output),
                name=n.name.replace("/Add", "/RotaryEmbedding"), domain="com.microsoft",
                interleaved=0))
        else:
            nodes.append(n)
    # Dead-code elimination: drop nodes none of whose outputs is read or is a graph output.
    outputs = {o.name for o in graph.output}
    while True:
        used = {i for n in nodes for i in n.input} | outputs
        alive = [n for n in nodes if any(o in used for o in n.output)]
        if len(alive) == len(nodes):
            break
        nodes = alive
    del graph.node[:]
    graph.node.extend(nodes)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model


def quantized(source, settings):
    quantizer = MatMulNBitsQuantizer(onnx.load(source), **settings)
    quantizer.process()
    return quantizer.model.model


def main():
    source = os.path.join(MODELS, "tiny-llama", "model.onnx")
    variants = {name: (lambda s=settings: quantized(source, s)) for name, settings in VARIANTS.items()}
    variants["tiny-llama-fused"] = lambda: fused(source)
    variants["tiny-llama-rotemb"] = lambda: with_rotary_embedding(source)
    for name, make in variants.items():
        model = make()
        model.producer_name = "ternc tools/onnx/make_ort_variants.py"
        if name not in ("tiny-llama-fused", "tiny-llama-rotemb"):
            onnx.checker.check_model(model, full_check=True)
        # else: the ONNX checker does not know ORT's SimplifiedLayerNormalization (registered
        # in the default domain by ONNX Runtime alone) nor contrib ops; make_ort_goldens.py
        # loads these with ONNX Runtime.
        out = os.path.join(MODELS, name, "model.onnx")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        onnx.save(model, out)
        ops = sorted({n.op_type for n in model.graph.node if n.domain == "com.microsoft"})
        print(f"{name}: contrib ops {ops}, {len(model.graph.node)} nodes, "
              f"{os.path.getsize(out)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
