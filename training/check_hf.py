"""Loads an exported directory with Hugging Face transformers (BitNetForCausalLM and its own
BitNet quantizer) and compares it with the export's goldens: an independent reading of the
files, the same one that made the shared hf-bitnet fixtures. Also checks that transformers'
tokenizer gives the golden input ids.

    python training/check_hf.py EXPORT_DIR

Needs transformers (5.x); exits 0 with a note where it is absent. Ends with `N passed, N failed`.
"""
from __future__ import annotations

import os
import sys

# transformers wraps its BitNet quantizers in torch.compile; eager mode computes the same
# values without needing a compiler toolchain.
os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file

TOLERANCE = 2e-3


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    export_dir = sys.argv[1]
    try:
        import transformers
        from transformers import AutoTokenizer, BitNetForCausalLM
    except ImportError as e:
        print(f"SKIP  transformers not available ({e})")
        return
    torch.manual_seed(0)
    model = BitNetForCausalLM.from_pretrained(export_dir, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(export_dir)
    path = os.path.join(export_dir, "golden.safetensors")
    golden = load_file(path)
    with safe_open(path, "np") as f:
        meta = f.metadata() or {}
    passed = failed = 0

    def check(ok, what, detail=""):
        nonlocal passed, failed
        passed += ok
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  transformers {transformers.__version__} {what}  {detail}", flush=True)

    for p in sorted({k.split(".")[0] for k in golden}, key=lambda s: int(s[1:])):
        ids = golden[p + ".input_ids"].reshape(-1)
        greedy = golden[p + ".greedy"].reshape(-1)
        ref = golden[p + ".logits"]
        if p + ".text" in meta:
            got = tok(meta[p + ".text"])["input_ids"]
            check(list(got) == ids.tolist(), f"{p}: tokenizer", "" if list(got) == ids.tolist()
                  else f"got {list(got)}, golden {ids.tolist()}")
        with torch.no_grad():
            logits = model(torch.from_numpy(ids)[None]).logits[0].float().numpy()
            out = model.generate(torch.from_numpy(ids)[None], max_new_tokens=len(greedy) - len(ids), do_sample=False,
                                 eos_token_id=None, pad_token_id=None)[0].numpy()
        diff = float(np.abs(logits - ref).max())
        scale = float(np.abs(ref).max())
        check(diff <= TOLERANCE * scale, f"{p}: logits", f"max|diff| {diff:.3g} = {diff / scale:.2e} of max|ref|")
        check(out.tolist() == greedy.tolist(), f"{p}: greedy", "" if out.tolist() == greedy.tolist()
              else f"got {out.tolist()[len(ids):]}, golden {greedy.tolist()[len(ids):]}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
