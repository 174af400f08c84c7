#!/usr/bin/env python3
"""Cross-checks the C++ SafeTensors frontend against safetensors.numpy and numpy unpacking.

For every file under the hf-bitnet fixtures, safetensors-dump must report the same tensor names,
dtypes, shapes and bytes as safetensors.numpy.load_file; for each model directory, the unpacked
ternary weights must equal a numpy unpacking of the README's layout, and the hyperparameters must
equal config.json. Prints "N passed, N failed"; exits 1 on failure, 77 when inputs are absent.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

try:
    import numpy as np
    from safetensors.numpy import load_file
except ImportError as e:  # the venv was not bootstrapped
    print(f"skipped: {e}")
    sys.exit(77)

DTYPES = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32",
          "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}")


def run_dump(dump, *args):
    out = subprocess.run([dump, *args], capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def check_file(c, dump, path):
    ours = {row[1]: row[2:] for row in run_dump(dump, path) if row[0] == "tensor"}
    ref = load_file(path)
    c.check(sorted(ours) == sorted(ref), f"{path}: tensor names {sorted(ours)} != {sorted(ref)}")
    for name, arr in ref.items():
        if name not in ours:
            continue
        dtype, dims, nbytes, digest = ours[name]
        arr = np.ascontiguousarray(arr)
        shape = ",".join(str(d) for d in arr.shape)
        c.check(dtype == DTYPES.get(str(arr.dtype)), f"{path}: {name} dtype {dtype} vs {arr.dtype}")
        c.check(dims == shape, f"{path}: {name} shape {dims} vs {shape}")
        c.check(int(nbytes) == arr.nbytes, f"{path}: {name} bytes {nbytes} vs {arr.nbytes}")
        c.check(digest == hashlib.sha256(arr.tobytes()).hexdigest(), f"{path}: {name} bytes differ")


def unpack(packed):
    # The README's layout: output row r + i*(out/4) sits in bits 2i..2i+1 of packed row r, as w+1.
    planes = [((packed >> (2 * i)) & 3).astype(np.int8) - 1 for i in range(4)]
    return np.concatenate(planes, axis=0)


def check_model(c, dump, model_dir):
    rows = run_dump(dump, "--describe", model_dir)
    config = json.load(open(os.path.join(model_dir, "config.json")))
    hparams = {row[1]: row[2] for row in rows if row[0] == "hparam"}
    theta = config.get("rope_theta", config.get("rope_parameters", {}).get("rope_theta"))
    expected = {k: config[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                       "num_attention_heads", "num_key_value_heads",
                                       "vocab_size", "max_position_embeddings")}
    for key, value in expected.items():
        c.check(int(hparams[key]) == value, f"{model_dir}: {key} {hparams[key]} vs {value}")
    c.check(float(hparams["rope_theta"]) == theta, f"{model_dir}: rope_theta")
    c.check(float(hparams["rms_norm_eps"]) == config["rms_norm_eps"], f"{model_dir}: rms_norm_eps")
    c.check(hparams["supported"] == "1", f"{model_dir}: not supported")

    ternary = [row for row in rows if row[0] == "ternary"]
    q = config.get("quantization_config", {})
    if q.get("quantization_mode") == "offline":
        weights = load_file(os.path.join(model_dir, "model.safetensors"))
        c.check(len(ternary) == 7 * config["num_hidden_layers"], f"{model_dir}: ternary count")
        want_mode = "divide" if q.get("linear_class") == "bitlinear" else "multiply"
        for _, name, dims, digest, mode in ternary:
            values = unpack(weights[name])
            c.check(dims == ",".join(str(d) for d in values.shape), f"{model_dir}: {name} shape")
            c.check(digest == hashlib.sha256(values.tobytes()).hexdigest(),
                    f"{model_dir}: {name} unpacked values differ from numpy")
            c.check(mode == want_mode, f"{model_dir}: {name} scale mode {mode} vs {want_mode}")
    else:
        c.check(not ternary, f"{model_dir}: online weights reported as packed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--data", required=True, help="the hf-bitnet fixture directory")
    args = ap.parse_args()
    if not os.path.isdir(args.data):
        print(f"skipped: no {args.data}")
        sys.exit(77)
    c = Checker()
    for model in sorted(os.listdir(args.data)):
        model_dir = os.path.join(args.data, model)
        for f in sorted(os.listdir(model_dir)):
            if f.endswith(".safetensors"):
                check_file(c, args.dump, os.path.join(model_dir, f))
        check_model(c, args.dump, model_dir)
    print(f"{c.passed} passed, {c.failed} failed")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
