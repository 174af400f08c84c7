"""Lays out a trained model for the repository's models/ folder from what run_on_gpu.sh returns.

    python training/bundle.py RUN_OUTPUT_DIR models/NAME [--name NAME] [--weights-licence TEXT]
                              [--data-dir DIR] [--ctx 256] [--stride S]

RUN_OUTPUT_DIR: run_card.json, loss.csv, loss.png, model.tar (the Hugging Face directory with
golden.safetensors) and model.gguf (written here from model.tar when absent). models/NAME gets
model.gguf, golden.safetensors, run_card.json, loss.csv,
loss.png, perplexity.json and README.md (the model card, from MODEL_CARD.md.in). The Hugging
Face weights are left out: they repeat the GGUF's.

perplexity.json is PyTorch's perplexity of the exported model on the held-out text that
heldout.py writes from the corpus in --data-dir, by `tern perplexity`'s protocol
(eval_perplexity.py), with that text's SHA-256: the reference the ctest
`model.perplexity_matches_pytorch` holds ternc to. Computing it is the one step that needs
PyTorch and `tokenizers` (the training environment); the rest needs numpy, safetensors and gguf.

Every copied file is checked against the SHA-256 the export recorded in the run card, so the
goldens in models/ are those of this GGUF.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import string
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# The GGUF carries the tokenizer: tokenizer.json stays in model.tar, which keeps models/ small
# (the repository travels whole to the GPU machine, whose transfers are capped).
FROM_TAR = ("golden.safetensors",)
FROM_RUN = ("run_card.json", "loss.csv", "loss.png")
PERPLEXITY_JSON = "perplexity.json"
# From ../shared/data/README.md, which records where each text came from.
DATA_LICENCES = {
    "tinyshakespeare_input.txt": "public-domain text (karpathy/char-rnn)",
    "wikitext-2-raw-v1_wiki.test.raw": "CC BY-SA 3.0 (WikiText-2)",
    "cs336_tinystories_sample.txt": "MIT (stanford-cs336 sample of TinyStories, CDLA-Sharing-1.0)",
}


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return sha256_bytes(f.read())


def read_tar_members(tar_path: str) -> dict[str, bytes]:
    """model/<file> -> bytes, for the regular files of the export directory (no extraction, so
    no path in the archive can write outside the output folder)."""
    out = {}
    with tarfile.open(tar_path) as t:
        for m in t.getmembers():
            if m.isfile() and os.path.dirname(m.name) == "model":
                out[os.path.basename(m.name)] = t.extractfile(m).read()
    return out


def write_gguf_from(files: dict[str, bytes], out_path: str) -> None:
    sys.path.insert(0, HERE)
    import gguf_export

    with tempfile.TemporaryDirectory(prefix="bundle.") as d:
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        gguf_export.write_gguf(d, out_path)


def embedding_dtype_of_gguf(path: str) -> str:
    try:
        import gguf
    except ImportError:
        return "unknown"
    for t in gguf.GGUFReader(path).tensors:
        if t.name == "token_embd.weight":
            return t.tensor_type.name
    return "absent"


def fmt_int(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def card_fields(name: str, card: dict, out_dir: str, golden_meta: dict, licence: str) -> dict:
    cfg, opts, final, env = card["model_config"], card["train_options"], card["final"], card["environment"]
    exp = card.get("export", {})
    hidden, layers, ffn, vocab = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"], cfg["vocab_size"]
    head_dim = hidden // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * head_dim, cfg["num_key_value_heads"] * head_dim
    ternary = layers * (hidden * q + 2 * hidden * kv + q * hidden + 3 * hidden * ffn)
    embedding = vocab * hidden
    params = card["parameters"]
    emb_dtype = exp.get("embedding_dtype", "f32")
    exported_ppl = exp.get("test_ppl", final.get("test_ppl_exported_form_fp32"))

    per_file = card["tokens"]["per_file"]
    data_rows = "\n".join(
        f"| `{f}` | `{d['sha256'][:16]}…` | {fmt_int(per_file[f]['train'])} / {fmt_int(per_file[f]['val'])} / "
        f"{fmt_int(per_file[f]['test'])} | {DATA_LICENCES.get(f, 'see ../shared/data/README.md')} |"
        for f, d in card["data"].items())
    n_prompts = len([k for k in golden_meta if k.endswith(".text")])
    greedy_rows = "\n".join(
        f"- {golden_meta[f'p{i}.text']!r} → {golden_meta.get(f'p{i}.greedy_text', '')!r}" for i in range(n_prompts))
    sample_rows = "\n".join(f"- {s['prompt']!r} → {s['sampled']!r}" for s in card.get("samples", []))
    git = card.get("git", {})
    return {
        "name": name, "params_m": f"{params / 1e6:.1f}M", "params": fmt_int(params),
        "ternary": fmt_int(ternary), "embedding": fmt_int(embedding), "norms": fmt_int(params - ternary - embedding),
        "hidden": hidden, "layers": layers, "heads": cfg["num_attention_heads"], "head_dim": head_dim,
        "kv_heads": cfg["num_key_value_heads"], "ffn": ffn, "eps": cfg["rms_norm_eps"],
        "rope_theta": f"{cfg['rope_theta']:g}", "context": cfg["max_position_embeddings"], "vocab": vocab,
        "embedding_gguf": embedding_dtype_of_gguf(os.path.join(out_dir, "model.gguf")),
        "embedding_dtype": emb_dtype,
        "gguf_bytes": fmt_int(os.path.getsize(os.path.join(out_dir, "model.gguf"))),
        "golden_bytes": fmt_int(os.path.getsize(os.path.join(out_dir, "golden.safetensors"))),
        "n_prompts": n_prompts, "data_rows": data_rows, "train_tokens": fmt_int(card["tokens"]["train"]),
        "test_tokens": fmt_int(card["tokens"]["evaluated"]["test"]),
        "steps_run": card["steps_run"], "batch": opts["batch_size"], "seq_len": opts["seq_len"], "lr": f"{opts['lr']:g}",
        "warmup": opts["warmup_steps"], "wd": f"{opts['weight_decay']:g}", "dropout": f"{cfg['dropout']:g}",
        "seed": card["seed"], "determinism": card.get("determinism", "unrecorded"),
        "best_step": final["best_step"], "stop_reason": card["stop_reason"],
        "train_seconds": f"{card['train_seconds']:.0f}", "wall_seconds": f"{card.get('wall_seconds', 0):.0f}",
        "device": env.get("device", "the CPU"), "torch": env.get("torch", "?"), "cuda": env.get("cuda") or "none",
        "commit": (git.get("commit") or "?")[:12],
        "dirty": " (with uncommitted changes to training/)" if git.get("training_dir_modified") else "",
        "test_ppl_exported": f"{exported_ppl:.2f}", "test_ppl": f"{final['test_ppl']:.2f}",
        "unigram_ppl": f"{final['unigram_test_ppl']:.2f}", "val_ppl": f"{final['val_ppl']:.2f}",
        "greedy_rows": greedy_rows, "sample_rows": sample_rows, "weights_licence": licence,
    }


def heldout_perplexity(tar_path: str, gguf_path: str, card: dict, exp: dict, data_dir: str | None,
                       ctx: int, stride: int | None) -> dict:
    """perplexity.json: PyTorch's held-out perplexity of the model in |tar_path| by `tern
    perplexity`'s protocol, and what it was measured on."""
    sys.path.insert(0, HERE)
    import data
    import heldout

    try:
        import eval_perplexity
    except ImportError as e:
        sys.exit(f"perplexity.json needs PyTorch and tokenizers ({e}): run bundle.py with the training Python")
    data_dir = data_dir or data.DEFAULT_DATA_DIR
    raw, sources = heldout.heldout_bytes(data_dir)
    # The held-out text must come from the very files the run split, or it is not held out.
    for name, sha in sources.items():
        if card["data"].get(name, {}).get("sha256") != sha:
            sys.exit(f"{os.path.join(data_dir, name)} is not the file the run trained on (SHA-256 differs)")
    with tempfile.TemporaryDirectory(prefix="bundle.") as d:
        text_path = os.path.join(d, "heldout.txt")
        with open(text_path, "wb") as f:
            f.write(raw)
        r = eval_perplexity.evaluate(tar_path, text_path, ctx, stride)
    if r["model_safetensors_sha256"] != exp["files"].get("model.safetensors"):
        sys.exit("model/model.safetensors in model.tar does not match the run card's SHA-256")
    return {
        "what": "held-out perplexity by the protocol of `tern perplexity` (see training/eval_perplexity.py)",
        "text": {"made_by": "training/heldout.py", "sha256": r["text"]["sha256"], "bytes": r["text"]["bytes"],
                 "sources": sources},
        "ctx": r["ctx"], "stride": r["stride"], "bos_prepended": r["bos_prepended"], "tokens": r["tokens"],
        "tokens_scored": r["tokens_scored"], "windows": r["windows"], "nll_per_token": r["nll_per_token"],
        "perplexity": r["perplexity"],
        "computed_by": {"tool": "training/eval_perplexity.py", "torch": r["torch"], "device": "cpu",
                        "model_safetensors_sha256": r["model_safetensors_sha256"],
                        "tokenizer_json_sha256": r["tokenizer_json_sha256"],
                        "gguf_sha256": sha256_file(gguf_path)},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", help="what run_on_gpu.sh left in $OUT")
    ap.add_argument("out_dir", help="models/NAME")
    ap.add_argument("--name", default=None, help="model name in the card (default: the out_dir's name)")
    ap.add_argument("--weights-licence", default="CC BY-SA 3.0, following WikiText-2's share-alike terms")
    ap.add_argument("--data-dir", default=None,
                    help="the corpus the held-out text comes from (default: data.py's)")
    ap.add_argument("--ctx", type=int, default=256, help="perplexity window (default 256)")
    ap.add_argument("--stride", type=int, default=None, help="perplexity stride (default: --ctx)")
    args = ap.parse_args()
    name = args.name or os.path.basename(os.path.normpath(args.out_dir))

    with open(os.path.join(args.run_dir, "run_card.json")) as f:
        card = json.load(f)
    exp = card.get("export")
    if not exp:
        sys.exit("run_card.json has no 'export' section: run export.py with --run-card first")
    files = read_tar_members(os.path.join(args.run_dir, "model.tar"))
    for n in FROM_TAR:
        if n not in files:
            sys.exit(f"model.tar has no model/{n}")
        if exp["files"].get(n) != sha256_bytes(files[n]):
            sys.exit(f"model/{n} in model.tar does not match the run card's SHA-256")

    os.makedirs(args.out_dir, exist_ok=True)
    gguf_out = os.path.join(args.out_dir, "model.gguf")
    gguf_in = os.path.join(args.run_dir, "model.gguf")
    if os.path.isfile(gguf_in):
        want = (exp.get("gguf") or {}).get("sha256")
        if want and want != sha256_file(gguf_in):
            sys.exit("model.gguf does not match the run card's SHA-256")
        shutil.copyfile(gguf_in, gguf_out)
    else:
        print("no model.gguf in the run output: writing it from model.tar")
        write_gguf_from(files, gguf_out)
    for n in FROM_TAR:
        with open(os.path.join(args.out_dir, n), "wb") as f:
            f.write(files[n])
    for n in FROM_RUN:
        src = os.path.join(args.run_dir, n)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(args.out_dir, n))
        elif n != "loss.png":
            sys.exit(f"{src} is missing")

    perplexity = heldout_perplexity(os.path.join(args.run_dir, "model.tar"), gguf_out, card, exp,
                                    args.data_dir, args.ctx, args.stride)
    with open(os.path.join(args.out_dir, PERPLEXITY_JSON), "w") as f:
        json.dump(perplexity, f, indent=1)
        f.write("\n")
    print(f"held-out perplexity (PyTorch, ctx {perplexity['ctx']}, stride {perplexity['stride']}): "
          f"{perplexity['perplexity']:.4f} over {perplexity['tokens_scored']} tokens")

    from safetensors import safe_open

    with safe_open(os.path.join(args.out_dir, "golden.safetensors"), "np") as f:
        golden_meta = f.metadata() or {}
    with open(os.path.join(HERE, "MODEL_CARD.md.in"), encoding="utf-8") as f:
        template = string.Template(f.read())
    fields = card_fields(name, card, args.out_dir, golden_meta, args.weights_licence)
    fields.update(heldout_ppl=f"{perplexity['perplexity']:.2f}", heldout_ctx=perplexity["ctx"],
                  heldout_stride=perplexity["stride"], heldout_tokens=fmt_int(perplexity["tokens_scored"]))
    readme = template.substitute(fields)
    with open(os.path.join(args.out_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme)

    total = 0
    for n in sorted(os.listdir(args.out_dir)):
        size = os.path.getsize(os.path.join(args.out_dir, n))
        total += size
        print(f"{size:>10}  {os.path.join(args.out_dir, n)}")
    print(f"{total:>10}  in all")
    print(f"check it: python training/check_export.py {args.out_dir}")


if __name__ == "__main__":
    main()
