#!/usr/bin/env python3
"""Exports Hugging Face decoders to ONNX with PyTorch's own exporter, and records ONNX
Runtime's outputs for them: the real-exporter counterparts of make_tiny_decoders.py's
hand-written graphs. Runs where torch, transformers and onnxruntime are installed (the GPU
machine; the export itself runs on the CPU).

  export_hf_models.py --out DIR [--bitnet HF_DIR ...]

writes DIR/<name>/model.onnx and DIR/<name>/golden.safetensors for
  hf-llama:      a random LlamaForCausalLM (vocab 256, hidden 32, 2 layers, 4 heads, 2 KV
                 heads, SwiGLU 64, untied lm_head), seed 0, TorchScript exporter (opset 17)
  hf-llama-dynamo: the same model through the dynamo exporter (torch.export, opset 18)
  hf-bitnet-dynamo: the BitNetForCausalLM checkpoint given with --bitnet (e.g. an hf-bitnet
                 fixture, whose online quantization makes the exporter write the activation
                 and weight quantizers as ops), dynamo exporter
Eager attention, no KV cache (use_cache=False: inputs input_ids and attention_mask, output
logits). Goldens as in
make_ort_goldens.py: pN.input_ids, pN.logits (every position), pN.greedy (prompt + 12 tokens,
each step recomputing the whole sequence, as a graph without a cache must)."""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers
from safetensors.numpy import save_file

PROMPT_SEED = 1234
PROMPT_LENGTHS = (8, 6)
GREEDY = 12


class LogitsOnly(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          use_cache=False).logits


def tiny_llama():
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False,
        attn_implementation="eager")
    model = transformers.LlamaForCausalLM(config)
    # Random init gives near-uniform logits; widen the lm_head so greedy tokens are not ties.
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)
    return model


def export(model, path, dynamo):
    """The TorchScript exporter (dynamo=False, opset 17) or the dynamo one (torch.export,
    opset 18), with dynamic batch and sequence dimensions."""
    model.eval()
    ids = torch.tensor([[1, 2, 3, 4]], dtype=torch.int64)
    mask = torch.ones_like(ids)
    if dynamo:
        seq = torch.export.Dim("sequence_length", min=1, max=256)
        torch.onnx.export(LogitsOnly(model), (ids, mask), path, dynamo=True, opset_version=18,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_shapes={"input_ids": {1: seq}, "attention_mask": {1: seq}},
                          external_data=False)
        return
    torch.onnx.export(LogitsOnly(model), (ids, mask), path, dynamo=False, opset_version=17,
                      input_names=["input_ids", "attention_mask"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"},
                                    "attention_mask": {0: "batch_size", 1: "sequence_length"},
                                    "logits": {0: "batch_size", 1: "sequence_length"}})


def strip_metadata(path):
    """Drops what the exporter records for debugging (per-node doc strings and metadata such as
    source stack traces and module names): more than half of a dynamo export's bytes, and none
    of its semantics."""
    model = onnx.load(path)
    for node in model.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    for value in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        value.doc_string = ""
        del value.metadata_props[:]
    onnx.save(model, path)


def goldens(path, vocab, model):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])

    def logits(tokens):
        ids = np.array([tokens], dtype=np.int64)
        return session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]

    rng = np.random.default_rng(PROMPT_SEED)
    tensors, report = {}, {}
    for n, length in enumerate(PROMPT_LENGTHS):
        prompt = rng.integers(1, vocab, size=length).tolist()
        full = logits(prompt).astype(np.float32)
        with torch.no_grad():  # the exporter's output against the model it came from
            ref = model(input_ids=torch.tensor([prompt]), use_cache=False).logits[0].numpy()
        seq = list(prompt)
        for _ in range(GREEDY):
            seq.append(int(np.argmax(logits(seq)[-1])))
        tensors[f"p{n}.input_ids"] = np.array(prompt, dtype=np.int64)
        tensors[f"p{n}.logits"] = full
        tensors[f"p{n}.greedy"] = np.array(seq, dtype=np.int64)
        report[f"p{n}"] = {"max_abs_logit": float(np.abs(full).max()),
                           "ort_vs_torch": float(np.abs(full - ref).max() / np.abs(ref).max()),
                           "greedy": seq[length:]}
    save_file(tensors, os.path.join(os.path.dirname(path), "golden.safetensors"),
              metadata={"ort_version": ort.__version__, "torch_version": torch.__version__,
                        "transformers_version": transformers.__version__})
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--bitnet", action="append", default=[])
    args = ap.parse_args()
    jobs = [("hf-llama", tiny_llama, False), ("hf-llama-dynamo", tiny_llama, True)]
    for d in args.bitnet:
        # transformers' BitNet quantizer runs its activation quantizer through torch.compile,
        # which the TorchScript exporter cannot trace: only the dynamo exporter applies.
        jobs.append(("hf-bitnet-dynamo",
                     lambda d=d: transformers.AutoModelForCausalLM.from_pretrained(
                         d, attn_implementation="eager", torch_dtype=torch.float32), True))
    summary = {"torch": torch.__version__, "transformers": transformers.__version__,
               "onnxruntime": ort.__version__}
    for name, make, dynamo in jobs:
        try:
            model = make()
            os.makedirs(os.path.join(args.out, name), exist_ok=True)
            path = os.path.join(args.out, name, "model.onnx")
            export(model, path, dynamo)
            strip_metadata(path)
            summary[name] = goldens(path, model.config.vocab_size, model)
            summary[name]["bytes"] = os.path.getsize(path)
        except Exception as error:  # one failed export must not hide the others' results
            summary[name] = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
