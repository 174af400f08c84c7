"""Perplexity of an exported model on a text file, in PyTorch, by `tern perplexity`'s protocol.

    python training/eval_perplexity.py EXPORT_DIR_OR_MODEL_TAR --text FILE [--ctx 256] [--stride S] [--json OUT]

EXPORT_DIR_OR_MODEL_TAR: export.py's Hugging Face directory (config.json, model.safetensors,
tokenizer.json, tokenizer_config.json), or run_on_gpu.sh's model.tar holding it as model/.

The protocol is `tern perplexity`'s, so the two numbers compare directly:
  - the file is tokenized once with the export's tokenizer.json (special-token strings in the
    text stay plain text), BOS prepended once when tokenizer_config.json asks for it;
  - windows of --ctx tokens start at 0, S, 2S, ... (the last one ends at the last token), each
    evaluated from position 0 with nothing cached;
  - a window scores the tokens no earlier window scored, each from everything before it in that
    window; a window's first token is never scored (so position 0, BOS, never is);
  - perplexity = exp(mean negative log-likelihood), log-softmax in float64 of float32 logits.
This differs from the trainer's `evaluate` (BOS before every window, documents joined by EOS),
so its numbers are not the run card's `test_ppl`.

The model runs the exported values as the goldens do (model.py's frozen BitLinear: exact
integer dot products, f16-rounded scales, the stored embedding), on the CPU.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tarfile
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check_fixtures import model_from_dir  # noqa: E402
from heldout import windows  # noqa: E402
from tokenizer import TextTokenizer  # noqa: E402


def tokenize_file(export_dir: str, text_path: str) -> tuple[list[int], bool]:
    """The file's token ids, and whether BOS was prepended."""
    tok = TextTokenizer(os.path.join(export_dir, "tokenizer.json"))
    with open(os.path.join(export_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        add_bos = bool(json.load(f).get("add_bos_token", False))
    with open(text_path, "rb") as f:
        text = f.read().decode("utf-8")
    return ([tok.bos_id] if add_bos else []) + tok.encode(text), add_bos


def extract_tar(tar_path: str, into: str) -> str:
    """Writes model.tar's model/<file> regular files into |into|; returns that folder. Reads
    members by name instead of extracting, so no path in the archive can write elsewhere."""
    with tarfile.open(tar_path) as t:
        for m in t.getmembers():
            if m.isfile() and os.path.dirname(m.name) == "model":
                with open(os.path.join(into, os.path.basename(m.name)), "wb") as f:
                    f.write(t.extractfile(m).read())
    return into


@torch.no_grad()
def perplexity(model, tokens: list[int], ctx: int, stride: int, batch_size: int = 8) -> dict:
    wins = windows(len(tokens), ctx, stride)
    ids = torch.tensor(tokens, dtype=torch.int64)
    nll, scored = 0.0, 0
    # Full-length windows batch together; only the last can be shorter.
    groups: dict[int, list] = {}
    for w in wins:
        groups.setdefault(w[1] - w[0], []).append(w)
    for group in groups.values():
        for i in range(0, len(group), batch_size):
            chunk = group[i:i + batch_size]
            x = torch.stack([ids[b:e] for b, e, _ in chunk])
            logp = torch.log_softmax(model(x).double(), dim=-1)
            for row, (b, e, first) in zip(logp, chunk):
                # Position j is predicted by the logits of position j - 1.
                targets = ids[first:e]
                nll -= float(row[first - 1 - b:e - 1 - b].gather(1, targets[:, None]).sum())
                scored += e - first
    return {"tokens": len(tokens), "tokens_scored": scored, "ctx": ctx, "stride": stride,
            "windows": len(wins), "nll_per_token": nll / scored, "perplexity": float(np.exp(nll / scored))}


def evaluate(export: str, text_path: str, ctx: int, stride: int | None, threads: int = 0) -> dict:
    """The result dict that perplexity.json holds (see bundle.py)."""
    stride = stride or ctx
    if ctx < 2 or not 1 <= stride <= ctx:
        raise ValueError(f"need 2 <= ctx and 1 <= stride <= ctx (got ctx {ctx}, stride {stride})")
    if threads:
        torch.set_num_threads(threads)
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="eval_ppl.") as tmp:
        export_dir = extract_tar(export, tmp) if os.path.isfile(export) else export
        model = model_from_dir(export_dir)
        if ctx > model.cfg.max_position_embeddings:
            raise ValueError(f"ctx {ctx} exceeds the model's context {model.cfg.max_position_embeddings}")
        tokens, add_bos = tokenize_file(export_dir, text_path)
        with open(os.path.join(export_dir, "tokenizer.json"), "rb") as f:
            tokenizer_sha = hashlib.sha256(f.read()).hexdigest()
        with open(os.path.join(export_dir, "model.safetensors"), "rb") as f:
            weights_sha = hashlib.sha256(f.read()).hexdigest()
    if len(tokens) < 2:
        raise ValueError(f"{text_path} holds {len(tokens)} token(s); scoring needs at least 2")
    result = perplexity(model, tokens, ctx, stride)
    with open(text_path, "rb") as f:
        raw = f.read()
    return {"text": {"sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)},
            **result,
            "bos_prepended": add_bos,
            "tokenizer_json_sha256": tokenizer_sha, "model_safetensors_sha256": weights_sha,
            "torch": torch.__version__, "seconds": round(time.time() - start, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export", help="export directory or model.tar")
    ap.add_argument("--text", required=True, help="the text file to score")
    ap.add_argument("--ctx", type=int, default=256, help="tokens per window (default 256)")
    ap.add_argument("--stride", type=int, default=None, help="tokens between window starts (default: --ctx)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--json", default=None, help="also write the result here")
    args = ap.parse_args()
    r = evaluate(args.export, args.text, args.ctx, args.stride, args.threads)
    print(f"perplexity {r['perplexity']:.4f} over {r['tokens_scored']} tokens ({r['windows']} windows of "
          f"{r['ctx']}, stride {r['stride']}; {r['tokens']} tokens with BOS)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
