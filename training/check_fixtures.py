"""Runs model.py on the shared hf-bitnet fixtures (checkpoints and goldens made by transformers'
BitNetForCausalLM) to show that our training model computes what transformers computes.

    python training/check_fixtures.py [FIXTURES_DIR]

`*_online` (float master weights) goes through the training forward (weights and activations
quantized on the fly); `*_offline_autobitlinear` (packed codes + weight_scale) through the
frozen forward that export and goldens use. `*_offline_bitlinear` divides by its scale, a
different layer that this project does not train, and is skipped. Logits must be within 2e-3
of max |golden|, and greedy continuations equal. Ends with `N passed, N failed`.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import load_file

import hf_format
from model import BitNetLM, ModelConfig

DEFAULT_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                                            "data", "hf-bitnet"))
TOLERANCE = 2e-3


def model_from_dir(path: str) -> BitNetLM:
    with open(os.path.join(path, "config.json")) as f:
        c = json.load(f)
    theta = c.get("rope_parameters", {}).get("rope_theta", c.get("rope_theta", 500000.0))
    cfg = ModelConfig(vocab_size=c["vocab_size"], hidden_size=c["hidden_size"],
                      intermediate_size=c["intermediate_size"], num_hidden_layers=c["num_hidden_layers"],
                      num_attention_heads=c["num_attention_heads"],
                      num_key_value_heads=c.get("num_key_value_heads", c["num_attention_heads"]),
                      max_position_embeddings=c.get("max_position_embeddings", 2048),
                      rms_norm_eps=c.get("rms_norm_eps", 1e-5), rope_theta=theta)
    model = BitNetLM(cfg).eval()
    tensors = load_file(os.path.join(path, "model.safetensors"))
    packed = c["quantization_config"].get("quantization_mode", "offline") == "offline"
    state = {}
    for name, p in model.state_dict().items():
        t = tensors["model." + name]
        base = name[: -len(".weight")]
        if packed and t.dtype == np.uint8:
            t = hf_format.unpack_ternary(t).astype(np.float32)  # placeholder values; frozen below
        state[name] = torch.from_numpy(np.ascontiguousarray(t))
    model.load_state_dict(state)
    if packed:
        for name, m in model.bitlinears():
            m.frozen_codes = torch.from_numpy(hf_format.unpack_ternary(tensors[f"model.{name}.weight"]).astype(np.float32))
            m.frozen_scale = torch.tensor(float(tensors[f"model.{name}.weight_scale"].reshape(-1)[0]))
    return model


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DIR
    passed = failed = 0
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        with open(os.path.join(path, "config.json")) as f:
            qc = json.load(f).get("quantization_config", {})
        if qc.get("linear_class", "bitlinear") != "autobitlinear":
            print(f"SKIP  {name}: linear_class {qc.get('linear_class', 'bitlinear')} divides by its scale")
            continue
        model = model_from_dir(path)
        golden = load_file(os.path.join(path, "golden.safetensors"))
        for p in sorted({k.split(".")[0] for k in golden}):
            ids = golden[p + ".input_ids"].reshape(-1)
            ref = golden[p + ".logits"]
            want = golden[p + ".greedy"].reshape(-1).tolist()
            with torch.no_grad():
                logits = model(torch.from_numpy(ids)[None])[0].numpy()
            got = model.generate(ids.tolist(), len(want) - len(ids))
            rel = float(np.abs(logits - ref).max() / np.abs(ref).max())
            ok = rel <= TOLERANCE and got == want
            passed += ok
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'}  {name} {p}: logits {rel:.2e} of max|golden|, "
                  f"greedy {'equal' if got == want else f'{got} vs {want}'}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
