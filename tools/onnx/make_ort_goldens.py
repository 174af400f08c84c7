#!/usr/bin/env python3
"""Writes ONNX Runtime goldens for the ONNX frontend's decoder tests.

For each model, two prompts p0 (8 tokens) and p1 (6 tokens), drawn from [1, vocab) with a fixed
seed, go through ONNX Runtime (CPUExecutionProvider, batch 1, no graph optimizations, one thread).
The safetensors file holds, for N in {0, 1}:
  pN.input_ids  int64 [seq]          the prompt
  pN.logits     float32 [seq, vocab] every position, from one call with an empty past
  pN.greedy     int64 [seq + 12]     the prompt and 12 greedy tokens, decoded one token per call
                                     (present -> past, attention_mask one longer each step,
                                     position_ids = past length where the graph takes them)
  pN.greedy_margin float32 [12]      top-1 minus top-2 logit of the row each greedy token was
                                     taken from: a test may only demand the same token where this
                                     exceeds its own logit error (0 means a tie, broken toward the
                                     lower id)
and in its metadata the ONNX Runtime version and the model's sha256.

Models and outputs:
  tests/onnx/models/tiny-llama/model.onnx   -> tests/onnx/models/tiny-llama/golden.safetensors
  tests/onnx/models/tiny-bitnet/model.onnx  -> tests/onnx/models/tiny-bitnet/golden.safetensors
  <shared>/hf-internal-testing__tiny-qwen35-cuda__decoder.onnx
                                            -> tests/onnx/goldens/tiny-qwen35.golden.safetensors
  <shared>/hf-internal-testing__tiny-random-gpt2-fp32__past.onnx
                                            -> tests/onnx/goldens/tiny-gpt2.golden.safetensors
<shared> defaults to ../shared/data/onnx beside the repository.

Checks made before anything is written (any failure exits non-zero):
  - feeding each prompt one token at a time through the past/present path gives the full-prompt
    logits at every position, within 1e-4 of the largest |logit| (float32 graphs; the float16
    graph gets the float16 bound given below), so each graph's KV path is consistent;
  - recomputing prompt + greedy tokens in one call picks the same greedy tokens;
  - for the two tiny models, the logits equal a plain numpy forward of LLaMA / BitNet b1.58
    written from the architecture, not from the graph, with the weights read from the file.

Run after tools/onnx/make_tiny_decoders.py, with a venv that has onnxruntime, onnx, numpy and
safetensors:
  /path/to/venv/bin/python tools/onnx/make_ort_goldens.py [--shared-dir DIR] [NAME ...]
"""
import argparse
import hashlib
import json
import os
import struct
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from safetensors.numpy import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

PROMPT_SEED = 1234
PROMPT_LENGTHS = (8, 6)
GREEDY_TOKENS = 12
# Relative to the largest |logit| of the full-prompt row. float16 logits carry ~11 bits, and the
# float16 graph rounds K/V and every activation to float16 between ops, so its incremental and
# full paths may differ by a few float16 ulps of the largest logit.
KV_TOLERANCE = {np.float32: 1e-4, np.float16: 4e-3}
REFERENCE_TOLERANCE = 1e-4


def model_table(shared_dir):
    tiny = os.path.join(ROOT, "tests", "onnx", "models")
    goldens = os.path.join(ROOT, "tests", "onnx", "goldens")
    return {
        "tiny-llama": (os.path.join(tiny, "tiny-llama", "model.onnx"),
                       os.path.join(tiny, "tiny-llama", "golden.safetensors")),
        "tiny-bitnet": (os.path.join(tiny, "tiny-bitnet", "model.onnx"),
                        os.path.join(tiny, "tiny-bitnet", "golden.safetensors")),
        # MatMulNBits variants (make_ort_variants.py).
        "tiny-llama-fused": (os.path.join(tiny, "tiny-llama-fused", "model.onnx"),
                             os.path.join(tiny, "tiny-llama-fused", "golden.safetensors")),
        "tiny-llama-rotemb": (os.path.join(tiny, "tiny-llama-rotemb", "model.onnx"),
                              os.path.join(tiny, "tiny-llama-rotemb", "golden.safetensors")),
        "tiny-llama-q2": (os.path.join(tiny, "tiny-llama-q2", "model.onnx"),
                          os.path.join(tiny, "tiny-llama-q2", "golden.safetensors")),
        "tiny-llama-q4": (os.path.join(tiny, "tiny-llama-q4", "model.onnx"),
                          os.path.join(tiny, "tiny-llama-q4", "golden.safetensors")),
        "tiny-llama-q8": (os.path.join(tiny, "tiny-llama-q8", "model.onnx"),
                          os.path.join(tiny, "tiny-llama-q8", "golden.safetensors")),
        "tiny-qwen35": (os.path.join(shared_dir, "hf-internal-testing__tiny-qwen35-cuda__decoder.onnx"),
                        os.path.join(goldens, "tiny-qwen35.golden.safetensors")),
        "tiny-gpt2": (os.path.join(shared_dir, "hf-internal-testing__tiny-random-gpt2-fp32__past.onnx"),
                      os.path.join(goldens, "tiny-gpt2.golden.safetensors")),
    }


ORT_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32,
             "tensor(float)": np.float32, "tensor(float16)": np.float16}


class Decoder:
    """Feeds one decoder graph whatever its input names and types are: input_ids, attention_mask,
    optional position_ids, and past inputs named past_key_values.N.key/value or past_N, each
    matched to the output named with "present" in place of the past prefix."""

    def __init__(self, path):
        so = ort.SessionOptions()
        # Op-by-op semantics of the graph as written: no fusions that change rounding.
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]
        for required in ("input_ids", "attention_mask"):
            if required not in self.inputs:
                raise SystemExit(f"{path}: no input named {required}")
        self.ids_type = ORT_TYPES[self.inputs["input_ids"].type]
        self.mask_type = ORT_TYPES[self.inputs["attention_mask"].type]
        self.pos_type = (ORT_TYPES[self.inputs["position_ids"].type]
                         if "position_ids" in self.inputs else None)
        logits = self.session.get_outputs()[self.output_names.index("logits")]
        self.vocab = logits.shape[-1]
        self.logits_type = ORT_TYPES[logits.type]
        if not isinstance(self.vocab, int):
            raise SystemExit(f"{path}: logits' last dimension is not static: {logits.shape}")
        self.present_to_past = {}
        for name in self.output_names:
            if name == "logits":
                continue
            for past in (name.replace("present", "past_key_values"), name.replace("present", "past")):
                if past in self.inputs:
                    self.present_to_past[name] = past
                    break
            else:
                raise SystemExit(f"{path}: output {name} has no matching past input")
        if sorted(self.present_to_past.values()) != sorted(
                n for n in self.inputs if n.startswith("past")):
            raise SystemExit(f"{path}: past inputs and present outputs do not pair up")

    def empty_past(self):
        past = {}
        for name in self.present_to_past.values():
            info = self.inputs[name]
            shape = []
            for d in info.shape:
                if isinstance(d, int):
                    shape.append(d)
                elif "batch" in d:
                    shape.append(1)
                elif "past" in d:
                    shape.append(0)
                else:
                    raise SystemExit(f"past input {name}: cannot size dimension {d!r}")
            past[name] = np.zeros(shape, ORT_TYPES[info.type])
        return past

    def step(self, tokens, past, past_len):
        """Runs len(tokens) new tokens after past_len cached ones; returns float32 logits
        [len, vocab] and the next past."""
        n = len(tokens)
        feeds = {"input_ids": np.array([tokens], self.ids_type),
                 "attention_mask": np.ones((1, past_len + n), self.mask_type)}
        if self.pos_type is not None:
            feeds["position_ids"] = np.arange(past_len, past_len + n, dtype=self.pos_type)[None]
        feeds.update(past)
        out = dict(zip(self.output_names, self.session.run(self.output_names, feeds)))
        nxt = {self.present_to_past[k]: v for k, v in out.items() if k != "logits"}
        return out["logits"][0].astype(np.float32), nxt


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


SAFETENSORS_DTYPES = {np.dtype(np.int64): "I64", np.dtype(np.float32): "F32"}


def save_safetensors(path, tensors, metadata):
    """Writes a safetensors file with its header's keys sorted. The safetensors package orders
    the metadata differently from run to run, which would change the committed files' bytes on
    every re-run; the file is read back with the package to prove it is well formed."""
    header = {"__metadata__": dict(metadata)}
    blobs, offset = [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)
    back = load_file(path)
    if sorted(back) != sorted(tensors) or any(
            not np.array_equal(back[k], tensors[k]) for k in tensors):
        raise SystemExit(f"{path}: did not read back as written")


def is_inside(path, root):
    path, root = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([path, root]) == root


def top2_margin(logits):
    s = np.sort(logits, axis=-1)
    return float(np.min(s[..., -1] - s[..., -2]))


# ---------------------------------------------------------------------------------------------
# Plain numpy forwards of the two tiny models, from the architecture. They read the weights out
# of the ONNX file by the node that consumes them (the exporter-style initializer names are
# anonymous) and compute everything else (rotary frequencies, scale, mask) themselves.

def tiny_weights(path):
    m = onnx.load(path)
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    by_node = {n.name: n for n in m.graph.node}

    def matmul_weight(node):
        w = by_node[node].input[1]
        return init[w] if w in init else None

    w = {"embed": init["model.embed_tokens.weight"], "norm": init["model.norm.weight"],
         "lm_head": matmul_weight("/lm_head/MatMul"), "layers": []}
    i = 0
    while f"model.layers.{i}.input_layernorm.weight" in init:
        p, s = f"model.layers.{i}", f"/model/layers.{i}"
        layer = {"ln1": init[f"{p}.input_layernorm.weight"],
                 "ln2": init[f"{p}.post_attention_layernorm.weight"]}
        for key, node in (("q", "self_attn/q_proj"), ("k", "self_attn/k_proj"),
                          ("v", "self_attn/v_proj"), ("o", "self_attn/o_proj"),
                          ("gate", "mlp/gate_proj"), ("up", "mlp/up_proj"),
                          ("down", "mlp/down_proj")):
            layer[key] = matmul_weight(f"{s}/{node}/MatMul")
        layer["attn_sub_norm"] = init.get(f"{p}.self_attn.attn_sub_norm.weight")
        layer["ffn_sub_norm"] = init.get(f"{p}.mlp.ffn_sub_norm.weight")
        w["layers"].append(layer)
        i += 1
    return w


def np_rms_norm(x, weight, eps=1e-5):
    return weight * (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps))


def np_act_quant(x):
    scale = np.float32(127.0) / np.maximum(np.max(np.abs(x), axis=-1, keepdims=True),
                                           np.float32(1e-5))
    return np.clip(np.round(x * scale), -128, 127) / scale


def np_rope(x, positions, theta):
    d = x.shape[-1]
    inv_freq = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float32) / np.float32(d))
    ang = positions[:, None].astype(np.float32) * inv_freq[None, :]  # [S, d/2]
    cos, sin = np.cos(ang), np.sin(ang)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    # Pairs (j, j + d/2) rotate by the angle of frequency j.
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def np_forward(w, tokens, bitnet, heads=4, kv_heads=2):
    theta = 500000.0 if bitnet else 10000.0
    quant = np_act_quant if bitnet else (lambda x: x)
    x = w["embed"][np.array(tokens)]
    n = len(tokens)
    pos = np.arange(n)
    for L in w["layers"]:
        h = np_rms_norm(x, L["ln1"])
        hq = quant(h)
        q = (hq @ L["q"]).reshape(n, heads, -1)
        k = (hq @ L["k"]).reshape(n, kv_heads, -1)
        v = (hq @ L["v"]).reshape(n, kv_heads, -1)
        d = q.shape[-1]
        q = np_rope(q.transpose(1, 0, 2), pos, theta)  # [H, S, D]
        k = np_rope(k.transpose(1, 0, 2), pos, theta)
        v = v.transpose(1, 0, 2)
        out = np.empty((heads, n, d), np.float32)
        causal = np.triu(np.ones((n, n), bool), 1)
        for hd in range(heads):
            kv = hd // (heads // kv_heads)
            s = (q[hd] @ k[kv].T) / np.sqrt(d)
            s = np.where(causal, -np.inf, s)
            p = np.exp(s - s.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            out[hd] = p @ v[kv]
        a = out.transpose(1, 0, 2).reshape(n, -1)
        if bitnet:
            a = np_rms_norm(a, L["attn_sub_norm"])
        x = x + quant(a) @ L["o"]
        h = np_rms_norm(x, L["ln2"])
        hq = quant(h)
        g = hq @ L["gate"]
        u = hq @ L["up"]
        if bitnet:
            m = np_rms_norm(np.square(np.maximum(g, 0)) * u, L["ffn_sub_norm"])
        else:
            m = g / (1 + np.exp(-g)) * u
        x = x + quant(m) @ L["down"]
    x = np_rms_norm(x, w["norm"])
    lm_head = w["lm_head"] if w["lm_head"] is not None else w["embed"].T
    return (x @ lm_head).astype(np.float32)


# ---------------------------------------------------------------------------------------------

def make_golden(name, model_path, out_path):
    dec = Decoder(model_path)
    rng = np.random.default_rng(PROMPT_SEED)
    prompts = [rng.integers(1, dec.vocab, size=n).tolist() for n in PROMPT_LENGTHS]
    kv_tol = KV_TOLERANCE[dec.logits_type]
    tensors = {}
    failures = []
    print(f"{name}: {os.path.relpath(model_path, ROOT)} (vocab {dec.vocab}, logits "
          f"{np.dtype(dec.logits_type).name})")
    reference = None
    if name in ("tiny-llama", "tiny-bitnet"):
        reference = tiny_weights(model_path)
    for n, prompt in enumerate(prompts):
        full, present = dec.step(prompt, dec.empty_past(), 0)

        # The KV path: one token per call from an empty past, against the full-prompt rows.
        past = dec.empty_past()
        kv_err = 0.0
        for i, tok in enumerate(prompt):
            row, past = dec.step([tok], past, i)
            kv_err = max(kv_err, float(np.max(np.abs(row[0] - full[i])) / np.max(np.abs(full[i]))))
        if kv_err > kv_tol:
            failures.append(f"p{n}: incremental logits differ from the full prompt's by "
                            f"{kv_err:.2e} of max|logit| (bound {kv_tol:g})")

        # Greedy decoding from the full-prompt call, one token per call after it.
        tokens = list(prompt)
        logits, past = full, present
        margins = []
        for step in range(GREEDY_TOKENS):
            margins.append(top2_margin(logits[-1]))
            tokens.append(int(np.argmax(logits[-1])))
            if step + 1 < GREEDY_TOKENS:
                logits, past = dec.step([tokens[-1]], past, len(tokens) - 1)
        # The same choices from one call over the whole sequence.
        recomputed, _ = dec.step(tokens[:-1], dec.empty_past(), 0)
        again = np.argmax(recomputed[len(prompt) - 1:], axis=-1).tolist()
        if again != tokens[len(prompt):]:
            failures.append(f"p{n}: greedy tokens {tokens[len(prompt):]} but one call over the "
                            f"sequence picks {again}")

        ref_note = ""
        if reference is not None:
            ref = np_forward(reference, prompt, bitnet=(name == "tiny-bitnet"))
            ref_err = float(np.max(np.abs(ref - full)) / np.max(np.abs(full)))
            ref_note = f", numpy reference {ref_err:.1e}"
            if ref_err > REFERENCE_TOLERANCE:
                failures.append(f"p{n}: ORT and the numpy reference differ by {ref_err:.2e} of "
                                f"max|logit|")

        tensors[f"p{n}.input_ids"] = np.array(prompt, np.int64)
        tensors[f"p{n}.logits"] = np.ascontiguousarray(full, np.float32)
        tensors[f"p{n}.greedy"] = np.array(tokens, np.int64)
        tensors[f"p{n}.greedy_margin"] = np.array(margins, np.float32)
        print(f"  p{n} {prompt}: max|logit| {np.max(np.abs(full)):.3f}, min top-2 margin "
              f"{top2_margin(full):.3g} (greedy steps {min(margins):.3g}), KV path "
              f"{kv_err:.1e}{ref_note}")
        print(f"     greedy {tokens[len(prompt):]}")
    if failures:
        for f in failures:
            print(f"  FAILED {f}")
        return False
    metadata = {
        "ort_version": ort.__version__,
        "model_sha256": sha256(model_path),
        "model": (os.path.relpath(model_path, ROOT) if is_inside(model_path, ROOT)
                  else os.path.basename(model_path)),
        "execution_provider": "CPUExecutionProvider",
        "graph_optimization_level": "ORT_DISABLE_ALL",
        "prompt_seed": str(PROMPT_SEED),
        "greedy_tokens": str(GREEDY_TOKENS),
        "logits_dtype": np.dtype(dec.logits_type).name,
        "onnx_version": onnx.__version__,
        "numpy_version": np.__version__,
    }
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    save_safetensors(out_path, tensors, metadata)
    print(f"  wrote {os.path.relpath(out_path, ROOT)} ({os.path.getsize(out_path)} bytes)")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared-dir", default=os.path.join(os.path.dirname(ROOT), "shared", "data", "onnx"),
                    help="directory holding the shared hf-internal-testing ONNX models")
    ap.add_argument("--qwen35", help="path of the tiny-qwen35 decoder (overrides --shared-dir)")
    ap.add_argument("--gpt2", help="path of the tiny-gpt2 past model (overrides --shared-dir)")
    ap.add_argument("names", nargs="*", help="models to do (default: all): tiny-llama tiny-bitnet "
                                             "tiny-llama-fused tiny-llama-rotemb tiny-llama-q2 tiny-llama-q4 tiny-llama-q8 "
                                             "tiny-qwen35 tiny-gpt2")
    args = ap.parse_args()
    table = model_table(args.shared_dir)
    if args.qwen35:
        table["tiny-qwen35"] = (args.qwen35, table["tiny-qwen35"][1])
    if args.gpt2:
        table["tiny-gpt2"] = (args.gpt2, table["tiny-gpt2"][1])
    names = args.names or list(table)
    ok = True
    for name in names:
        if name not in table:
            raise SystemExit(f"unknown model {name}; known: {' '.join(table)}")
        path, out = table[name]
        if not os.path.exists(path):
            print(f"{name}: {path} does not exist")
            ok = False
            continue
        ok = make_golden(name, path, out) and ok
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, numpy {np.__version__}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
