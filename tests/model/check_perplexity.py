"""Checks `tern perplexity` on the bundled model against the perplexity PyTorch recorded for it.

    python tests/model/check_perplexity.py models/NAME --data-dir ../shared/data/text --ternc PATH --tern PATH

models/NAME/perplexity.json (bundle.py writes it with training/eval_perplexity.py) holds
PyTorch's held-out perplexity by `tern perplexity`'s protocol and the SHA-256 of the text it
scored. This regenerates that text with training/heldout.py, compiles models/NAME/model.gguf for
the host CPU, runs `tern perplexity --json` with the recorded --ctx/--stride, and requires:
the text's and the GGUF's SHA-256 as recorded, the same token count (so both tokenizers agree
on 100+ KB of text), the same windows and scored tokens, and |ppl_tern / ppl_torch - 1| <= 1%.
Needs numpy (training/data.py), not PyTorch. Ends with `N passed, N failed`; exit 1 on any
failure, 77 (ctest's skip) when the model folder, its perplexity.json or the corpus is absent.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOLERANCE = 0.01


def skip(why: str):
    print(f"skipped: {why}")
    sys.exit(77)


def sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", help="models/NAME")
    ap.add_argument("--data-dir", required=True, help="the corpus folder (../shared/data/text)")
    ap.add_argument("--ternc", required=True)
    ap.add_argument("--tern", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    ref_path = os.path.join(args.model_dir, "perplexity.json")
    if not os.path.isdir(args.model_dir):
        skip(f"{args.model_dir} does not exist")
    if not os.path.isfile(ref_path):
        skip(f"{ref_path} does not exist (bundle.py writes it)")
    if not os.path.isdir(args.data_dir):
        skip(f"the corpus {args.data_dir} does not exist")
    sys.path.insert(0, os.path.join(REPO, "training"))
    try:
        import heldout
    except ImportError as e:  # numpy missing from this Python
        skip(str(e))
    with open(ref_path) as f:
        ref = json.load(f)

    passed = failed = 0

    def check(ok: bool, what: str, detail: str = "") -> bool:
        nonlocal passed, failed
        passed += ok
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {what}{'  ' + detail if detail else ''}", flush=True)
        return ok

    with tempfile.TemporaryDirectory(prefix="check_perplexity.") as work:
        text = os.path.join(work, "heldout.txt")
        info = heldout.write_heldout(text, args.data_dir)
        want = ref["text"]["sha256"]
        check(info["sha256"] == want, "held-out text SHA-256 as recorded",
              f"{info['sha256'][:16]}… ({info['bytes']} bytes)" if info["sha256"] == want else
              f"{info['sha256']} != {want}: the corpus or training/heldout.py changed since bundling")

        gguf = os.path.join(args.model_dir, "model.gguf")
        want = ref.get("computed_by", {}).get("gguf_sha256")
        if want:
            got = sha256_file(gguf)
            check(got == want, "model.gguf SHA-256 as recorded", "" if got == want else f"{got} != {want}")

        artifact = os.path.join(work, "model.tern")
        r = subprocess.run([args.ternc, "compile", gguf, "-o", artifact, "--target=native"],
                           capture_output=True, text=True)
        if not check(r.returncode == 0, "ternc compile model.gguf --target=native", r.stderr.strip()):
            print(f"{passed} passed, {failed} failed")
            sys.exit(1)
        cmd = [args.tern, "perplexity", artifact, "-f", text, "--ctx", str(ref["ctx"]), "--stride",
               str(ref["stride"]), "--json", "-t", str(args.threads)]
        if not ref.get("bos_prepended", True):
            cmd.append("--no-bos")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if not check(r.returncode == 0, "tern perplexity --json", r.stderr.strip()):
            print(f"{passed} passed, {failed} failed")
            sys.exit(1)
        got = json.loads(r.stdout)

    for key in ("tokens", "tokens_scored", "windows"):
        check(got[key] == ref[key], f"{key}: tern {got[key]}, PyTorch {ref[key]}")
    ratio = got["perplexity"] / ref["perplexity"]
    check(abs(ratio - 1) <= TOLERANCE,
          f"perplexity: tern {got['perplexity']:.4f}, PyTorch {ref['perplexity']:.4f}",
          f"ratio {ratio:.6f} (|ratio - 1| <= {TOLERANCE}); ctx {got['ctx']}, stride {got['stride']}, "
          f"{got['seconds']:.1f} s")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
