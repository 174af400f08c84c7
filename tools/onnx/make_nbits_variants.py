"""Makes block-quantized variants of tests/onnx/models/tiny-llama with ONNX Runtime's own
weight-only quantizer, which rewrites each MatMul with a constant weight as com.microsoft
MatMulNBits:

  tiny-llama-q2: 2-bit, blocks of 32, asymmetric (uint8 zero points per block)
  tiny-llama-q4: 4-bit, blocks of 32, asymmetric
  tiny-llama-q8: 8-bit, blocks of 32, symmetric (the default zero point 128)

Run after make_tiny_decoders.py and before make_ort_goldens.py (which makes their goldens)."""
import os
import sys

import onnx
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "tests", "onnx", "models")

VARIANTS = {
    "tiny-llama-q2": dict(bits=2, block_size=32, is_symmetric=False),
    "tiny-llama-q4": dict(bits=4, block_size=32, is_symmetric=False),
    "tiny-llama-q8": dict(bits=8, block_size=32, is_symmetric=True),
}


def main():
    source = os.path.join(MODELS, "tiny-llama", "model.onnx")
    for name, settings in VARIANTS.items():
        quantizer = MatMulNBitsQuantizer(onnx.load(source), **settings)
        quantizer.process()
        model = quantizer.model.model
        model.producer_name = "ternc tools/onnx/make_nbits_variants.py"
        onnx.checker.check_model(model, full_check=True)
        out = os.path.join(MODELS, name, "model.onnx")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        onnx.save(model, out)
        ops = sorted({n.op_type for n in model.graph.node if n.domain == "com.microsoft"})
        count = sum(n.op_type == "MatMulNBits" for n in model.graph.node)
        print(f"{name}: {count} MatMulNBits nodes, contrib ops {ops}, {os.path.getsize(out)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
