#!/usr/bin/env python3
"""Checks ternc's GPU artifacts against independent goldens, on the GPU machine.

For every hf-bitnet checkpoint (Hugging Face transformers goldens: logits of every position
and 12 greedy tokens per prompt): compiles it for the GPU, runs `tern logits --device cuda` on
the prompt followed by the golden greedy continuation, and requires max |ours - theirs| /
max |theirs| <= 2e-3 over every position and, at each generated position, the argmax to be
the golden's next token (greedy decoding equals teacher forcing on its own output). The same
for ONNX graphs against ONNX Runtime's goldens (`--onnx MODEL.onnx=GOLDEN.safetensors`). Then
stories260K: `tern run --device cuda` must print llama.cpp's greedy completion.
Prints one line per check and `N passed, N failed`."""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file


def compiled(args, name, source, work, extra=()):
    """The artifact for |name|: prebuilt (--prebuilt DIR/NAME.tern), or compiled here."""
    if args.prebuilt:
        return os.path.join(args.prebuilt, name + ".tern")
    artifact = os.path.join(work, name + ".tern")
    run([args.ternc, "compile", source, f"--target={args.target}", *extra, "-o", artifact])
    return artifact


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr}")
    return result.stdout


def check_hf(args, model_dir, work):
    return check_model(args, os.path.basename(model_dir), model_dir,
                       os.path.join(model_dir, "golden.safetensors"), work)


def check_model(args, name, source, golden_path, work):
    artifact = compiled(args, name, source, work, ["--max-batch-rows=4"])
    golden = load_file(golden_path)
    problems = []
    for prompt in sorted({k.split(".")[0] for k in golden if k.endswith(".input_ids")}):
        ids = golden[prompt + ".input_ids"].reshape(-1)
        greedy = golden[prompt + ".greedy"].reshape(-1)
        ref = golden[prompt + ".logits"].reshape(len(ids), -1)
        out = os.path.join(work, f"{name}.{prompt}.safetensors")
        run([args.tern, "logits", artifact, "--device", "cuda", "--tokens",
             ",".join(str(int(t)) for t in greedy), "-o", out])
        ours = next(iter(load_file(out).values())).reshape(len(greedy), -1)
        err = float(np.abs(ours[:len(ids)] - ref).max() / np.abs(ref).max())
        if err > 2e-3:
            problems.append(f"{prompt}: logits differ by {err:.2e} of max |ref|")
        wrong = [i for i in range(len(ids) - 1, len(greedy) - 1)
                 if int(np.argmax(ours[i])) != int(greedy[i + 1])]
        if wrong:
            problems.append(f"{prompt}: greedy token differs at positions {wrong}")
        print(f"  {name} {prompt}: max |diff| / max |ref| = {err:.2e}, "
              f"{len(greedy) - len(ids) - len(wrong)}/{len(greedy) - len(ids)} greedy tokens")
    return problems


def check_stories(args, work):
    golden = json.load(open(args.stories_golden))
    artifact = compiled(args, "stories260K", args.stories, work)
    text = run([args.tern, "run", artifact, "--device", "cuda", "--temp", "0", "-p", golden["prompt"],
                "-n", str(golden["n_predict"])])
    want = golden["prompt"] + golden["completion"]
    print(f"  stories260K: {text.strip()!r}")
    return [] if text.strip().startswith(want.strip()) else [f"completion differs from {want!r}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ternc", help="the compiler (not needed with --prebuilt)")
    parser.add_argument("--prebuilt", help="folder of NAME.tern artifacts compiled elsewhere")
    parser.add_argument("--tern", required=True)
    parser.add_argument("--hf-dir", required=True, help="folder of hf-bitnet checkpoints")
    parser.add_argument("--stories", required=True, help="stories260K.gguf")
    parser.add_argument("--stories-golden", required=True, help="stories260K.greedy.json")
    parser.add_argument("--onnx", action="append", default=[],
                        help="MODEL.onnx=GOLDEN.safetensors (ONNX Runtime goldens); repeatable")
    parser.add_argument("--target", default="sm_90")
    parser.add_argument("--work", default="/tmp/tern-goldens")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    passed = failed = 0
    checks = [(d, lambda d=d: check_hf(args, os.path.join(args.hf_dir, d), args.work))
              for d in sorted(os.listdir(args.hf_dir))
              if os.path.exists(os.path.join(args.hf_dir, d, "golden.safetensors"))]
    for pair in args.onnx:
        model, golden = pair.split("=", 1)
        name = os.path.basename(os.path.dirname(model)) if model.endswith("model.onnx") else \
            os.path.splitext(os.path.basename(model))[0]
        checks.append((name, lambda m=model, g=golden, n=name: check_model(args, n, m, g, args.work)))
    checks.append(("stories260K greedy", lambda: check_stories(args, args.work)))
    for name, check in checks:
        try:
            problems = check()
        except Exception as error:  # a failed command is a failed check, with its message
            problems = [str(error)]
        print(("PASS " if not problems else "FAIL ") + name)
        for p in problems:
            print("    " + p)
        passed += not problems
        failed += bool(problems)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
