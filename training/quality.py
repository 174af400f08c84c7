"""Held-out quality of a bundled model under each `ternc compile --lm-head` precision; rewrites
the table in docs/quality.md.

    python training/quality.py --model models/NAME [--ternc PATH] [--tern PATH] [--data-dir DIR]
                               [--doc docs/quality.md] [--note TEXT] [--threads 2]

For the model's GGUF compiled with `--lm-head=source` (the file's embedding type; f16 is added
when that is not already f16), q8, q6 and q4, on the held-out text of training/heldout.py with
the ctx/stride that models/NAME/perplexity.json records:
  - perplexity from `tern perplexity --json`;
  - from `tern logits` of the very same windows: KL(p_f16 || p_variant), the mean over the scored
    tokens of sum_v p_f16(v) (log p_f16(v) - log p_variant(v)), log-softmax in float64, one
    window at a time so memory stays at a few windows' logits; and how often the variant's top
    token is f16's. The perplexity recomputed from those logits must equal `tern perplexity`'s
    (1e-6), which shows both walked the same windows.
Plus PyTorch's perplexity by the same protocol (perplexity.json) and the unigram baseline of
the run card (training-split frequencies; the trainer's framing, documents joined by EOS, so
comparable in size, not to the digit).

The table goes between the `<!-- quality.py:begin -->` and `<!-- quality.py:end -->` lines of
--doc; --note adds a line under it (e.g. which model it is). numpy + safetensors (+ gguf for the
embedding type); no PyTorch. Tokenizes with `ternc tokenize`, whose count must equal
`tern perplexity`'s.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import heldout  # noqa: E402
from check_export import find_bin  # noqa: E402

REPO = os.path.normpath(os.path.join(HERE, ".."))
BEGIN, END = "<!-- quality.py:begin -->", "<!-- quality.py:end -->"
QUANTIZED = ("q8", "q6", "q4")
# `ternc tokenize` takes the text as one argument, and Linux caps one argument at 128 KiB.
CHUNK_CHARS = 32768


def run(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... exited {r.returncode}:\n{r.stderr.strip()}")
    return r.stdout


def embedding_type(gguf_path: str) -> str:
    try:
        import gguf
    except ImportError:
        return "unknown"
    for t in gguf.GGUFReader(gguf_path).tensors:
        if t.name == "token_embd.weight":
            return t.tensor_type.name
    return "unknown"


def can_cut(text: str, at: int) -> bool:
    """Whether the GPT-2 pre-tokenizer gives the same pieces for text[:at] and text[at:] as for
    the whole: true after a newline followed by a non-space character, or by one space and a
    non-space character (WikiText's lines start with a space). A whitespace run ends before
    the single space that a word, number or punctuation run takes as its prefix, and never
    joins a non-space character, so no pre-token spans such a cut, on either side."""
    if text[at - 1] != "\n":
        return False
    if not text[at].isspace():
        return True
    return text[at] == " " and at + 1 < len(text) and not text[at + 1].isspace()


def chunks(text: str, limit: int) -> list[str]:
    """Pieces of |text| of at most |limit| characters, cut only where can_cut allows, so the
    pieces' token ids, concatenated, are the whole text's (and the caller checks the count)."""
    out, start = [], 0
    while len(text) - start > limit:
        cut = start + limit
        while cut > start + 1 and not can_cut(text, cut):
            cut -= 1
        if not can_cut(text, cut):
            raise SystemExit(f"no place to cut the text within {limit} characters of offset {start}")
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return out


def tokenize(ternc: str, artifact: str, text: str) -> list[int]:
    ids: list[int] = []
    for i, piece in enumerate(chunks(text, CHUNK_CHARS)):
        cmd = [ternc, "tokenize", artifact, "--text", piece] + ([] if i == 0 else ["--no-bos"])
        ids.extend(int(t) for t in run(cmd).split())
    return ids


def log_softmax(rows: np.ndarray) -> np.ndarray:
    x = rows.astype(np.float64)
    x -= x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def measure(gguf: str, ternc: str, tern: str, text_path: str, ctx: int, stride: int, threads: int,
            work: str) -> tuple[list[dict], dict]:
    emb = embedding_type(gguf)
    variants = ["source"] + ([] if emb == "F16" else ["f16"]) + list(QUANTIZED)
    reference = "source" if emb == "F16" else "f16"
    rows = []
    for v in variants:
        artifact = os.path.join(work, f"{v}.tern")
        run([ternc, "compile", gguf, "-o", artifact, "--target=native", f"--lm-head={v}"])
        ppl = json.loads(run([tern, "perplexity", artifact, "-f", text_path, "--ctx", str(ctx), "--stride",
                              str(stride), "--json", "-t", str(threads)]))
        label = f"source ({emb.lower()})" if v == "source" else v
        rows.append({"variant": v, "label": label, "artifact": artifact, "bytes": os.path.getsize(artifact),
                     "tern": ppl, "kl_sum": 0.0, "nll_sum": 0.0, "top1_same": 0})
        print(f"{label}: perplexity {ppl['perplexity']:.4f}", flush=True)

    with open(text_path, "rb") as f:  # bytes: text mode would turn WikiText's CRLF into LF
        tokens = tokenize(ternc, rows[0]["artifact"], f.read().decode("utf-8"))
    if len(tokens) != rows[0]["tern"]["tokens"]:
        raise SystemExit(f"ternc tokenize gives {len(tokens)} tokens, tern perplexity {rows[0]['tern']['tokens']}")
    wins = heldout.windows(len(tokens), ctx, stride)
    ref_row = next(r for r in rows if r["variant"] == reference)
    out = os.path.join(work, "logits.safetensors")
    scored = 0
    for n, (b, e, first) in enumerate(wins):
        ids = ",".join(str(t) for t in tokens[b:e])
        targets = np.asarray(tokens[first:e])
        logp = {}
        for r in rows:
            run([tern, "logits", r["artifact"], "--tokens", ids, "-o", out, "-t", str(threads)])
            logits = load_file(out)["logits"].reshape(e - b, -1)
            # Position j is predicted by the logits of position j - 1.
            logp[r["variant"]] = log_softmax(logits[first - 1 - b:e - 1 - b])
        p_ref = logp[reference]
        top_ref = p_ref.argmax(axis=-1)
        for r in rows:
            lp = logp[r["variant"]]
            r["nll_sum"] -= float(lp[np.arange(len(targets)), targets].sum())
            r["kl_sum"] += float((np.exp(p_ref) * (p_ref - lp)).sum())
            r["top1_same"] += int((lp.argmax(axis=-1) == top_ref).sum())
        scored += len(targets)
        if (n + 1) % 40 == 0:
            print(f"  KL: window {n + 1}/{len(wins)}", flush=True)
    for r in rows:
        if scored != r["tern"]["tokens_scored"]:
            raise SystemExit(f"{scored} tokens scored from the logits, tern perplexity scored {r['tern']['tokens_scored']}")
        ppl_logits = float(np.exp(r["nll_sum"] / scored))
        if abs(ppl_logits / r["tern"]["perplexity"] - 1) > 1e-6:
            raise SystemExit(f"{r['label']}: perplexity from tern logits {ppl_logits} differs from tern perplexity's "
                             f"{r['tern']['perplexity']}: the windows differ")
        r["kl"] = r["kl_sum"] / scored
        r["top1"] = r["top1_same"] / scored
    return rows, {"tokens": len(tokens), "scored": scored, "windows": len(wins), "reference": ref_row["label"]}


def table(name: str, rows: list[dict], info: dict, ref: dict, card: dict, gguf_sha: str, note: str,
          threads: int) -> str:
    base = rows[0]["tern"]["perplexity"]
    torch_ppl = ref["perplexity"]
    lines = [
        f"Model `models/{name}` (GGUF SHA-256 `{gguf_sha[:16]}…`, {card.get('steps_run', '?')} training steps); "
        f"held-out text SHA-256 `{ref['text']['sha256'][:16]}…` ({ref['text']['bytes']:,} bytes), "
        f"{info['tokens']:,} tokens with BOS, {info['scored']:,} scored in {info['windows']} windows of "
        f"{ref['ctx']} every {ref['stride']}; `ternc compile --target=native`, "
        f"`tern perplexity -t {threads}`.",
        "",
        f"| `--lm-head` | artifact bytes | perplexity | vs source | vs PyTorch | KL vs {info['reference']} (nats/token) "
        f"| top-1 = {info['reference']} |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        p = r["tern"]["perplexity"]
        lines.append(f"| {r['label']} | {r['bytes']:,} | {p:.4f} | {p / base - 1:+.3%} | {p / torch_ppl - 1:+.4%} "
                     f"| {r['kl']:.3e} | {r['top1']:.2%} |")
    final = card.get("final", {})
    counts = card.get("tokens", {})
    evaluated, total = counts.get("evaluated", {}).get("test"), counts.get("test")
    framing = "run card; the trainer's framing: BOS before every window, EOS between documents"
    if evaluated and total and evaluated < total:
        framing += f"; the first {evaluated:,} of {total:,} test tokens"
    lines += [
        "",
        "| reference | perplexity |",
        "|---|---:|",
        f"| PyTorch, the exported model, same text and windows (`perplexity.json`) | {torch_ppl:.4f} |",
    ]
    exported = card.get("export", {}).get("test_ppl", final.get("test_ppl_exported_form_f16_embedding"))
    if exported is not None:
        lines.append(f"| the exported model ({framing}) | {exported:.2f} |")
    if final.get("unigram_test_ppl"):
        lines.append(f"| unigram baseline: training-split token frequencies, add-one ({framing}) "
                     f"| {final['unigram_test_ppl']:.2f} |")
    if note:
        lines += ["", f"**{note}**"]
    lines.append("")
    lines.append(f"Regenerate: `python training/quality.py --model models/{name}`.")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="models/NAME (model.gguf, perplexity.json, run_card.json)")
    ap.add_argument("--ternc", default=None)
    ap.add_argument("--tern", default=None)
    ap.add_argument("--bin", default=None, help="folder with ternc and tern (default: build*/bin, PATH)")
    ap.add_argument("--data-dir", default=heldout.data.DEFAULT_DATA_DIR)
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "quality.md"))
    ap.add_argument("--note", default="", help="a line printed under the table")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    ternc, tern = find_bin("ternc", args.bin, args.ternc), find_bin("tern", args.bin, args.tern)
    with open(os.path.join(args.model, "perplexity.json")) as f:
        ref = json.load(f)
    with open(os.path.join(args.model, "run_card.json")) as f:
        card = json.load(f)
    gguf = os.path.join(args.model, "model.gguf")
    with open(gguf, "rb") as f:
        gguf_sha = hashlib.sha256(f.read()).hexdigest()
    with open(args.doc, encoding="utf-8") as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        sys.exit(f"{args.doc} has no {BEGIN} ... {END} block to rewrite")

    with tempfile.TemporaryDirectory(prefix="quality.") as work:
        text_path = os.path.join(work, "heldout.txt")
        info = heldout.write_heldout(text_path, args.data_dir)
        if info["sha256"] != ref["text"]["sha256"]:
            sys.exit(f"the held-out text's SHA-256 {info['sha256']} is not perplexity.json's {ref['text']['sha256']}")
        rows, winfo = measure(gguf, ternc, tern, text_path, ref["ctx"], ref["stride"], args.threads, work)

    name = os.path.basename(os.path.normpath(args.model))
    block = table(name, rows, winfo, ref, card, gguf_sha, args.note, args.threads)
    print(block)
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n{block}\n{END}", doc, flags=re.S)
    with open(args.doc, "w", encoding="utf-8") as f:
        f.write(new)
    print(f"rewrote the table in {args.doc}")


if __name__ == "__main__":
    main()
