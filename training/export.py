"""Exports a checkpoint for ternc: a Hugging Face BitNet directory, goldens, and a GGUF file.

    python training/export.py CKPT.pt OUT_DIR [--gguf OUT.gguf] [--data-dir DIR] [--embedding-dtype f16|f32]

OUT_DIR gets config.json (model_type bitnet, offline autobitlinear quantization_config),
model.safetensors (packed uint8 [out/4, in] ternary weights + float32 weight_scale [1], the
embedding in f16 (default) or f32, float32 norms, no lm_head: tied), tokenizer.json + tokenizer_config.json, and
golden.safetensors: for each prompt pN, `pN.input_ids` (int64 [seq], BOS first), `pN.logits`
(float32 [seq, vocab], every position, computed from position 0 without a cache) and
`pN.greedy` (int64: the prompt and 16 greedy tokens), with the prompt texts in the metadata.

The goldens come from PyTorch, on the CPU in float32, running the exported values themselves
(frozen codes and scales, `linear(q(x), codes) * scale` as transformers' offline AutoBitLinear
does). Each scale is rounded to f16 once before anything is written, because GGUF TQ2_0 keeps
its block scales in f16; with `--embedding-dtype f16` the embedding (which is also the tied LM
head) is rounded to f16 the same way, halving the largest tensor of a small model. Then the HF
directory, the GGUF file and the goldens are one model.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

import data
import hf_format
import runinfo
import trainer
from tokenizer import TextTokenizer

GREEDY_TOKENS = 16
FALLBACK_PROMPTS = ["Once upon a time", "ROMEO:", "The history of the city"]
EMBEDDING_DTYPES = {"f16": (torch.float16, np.float16), "f32": (torch.float32, np.float32)}


@torch.no_grad()
def freeze_model(model, embedding_dtype: str = "f32") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fixes every BitLinear to its exported codes and f16-rounded scale, and rounds the embedding
    to the dtype it is stored in, so that the goldens are computed from the stored values."""
    model.eval()
    emb = model.embed_tokens.weight
    emb.copy_(emb.to(EMBEDDING_DTYPES[embedding_dtype][0]).float())
    return {name: tuple(t.numpy() for t in m.freeze(torch.float16)) for name, m in model.bitlinears()}


def hf_state_dict(model, frozen, embedding_dtype: str = "f32") -> dict[str, np.ndarray]:
    out = {}
    for name, p in model.state_dict().items():
        base = name[: -len(".weight")]
        if base in frozen:
            codes, scale = frozen[base]
            out["model." + name] = hf_format.pack_ternary(codes)
            out["model." + base + ".weight_scale"] = scale.astype(np.float32).reshape(1)
        elif name == "embed_tokens.weight":
            # Exact: freeze_model has already rounded it to this dtype.
            out["model." + name] = p.detach().float().numpy().astype(EMBEDDING_DTYPES[embedding_dtype][1])
        else:
            out["model." + name] = p.detach().float().numpy().copy()
    return out


@torch.no_grad()
def goldens(model, tok, prompts: list[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    tensors, meta = {}, {}
    for i, prompt in enumerate(prompts):
        ids = [tok.bos_id] + tok.encode(prompt)
        logits = model(torch.tensor([ids]))[0].float().numpy()
        greedy = model.generate(ids, GREEDY_TOKENS)
        tensors[f"p{i}.input_ids"] = np.asarray(ids, dtype=np.int64)
        tensors[f"p{i}.logits"] = np.ascontiguousarray(logits, dtype=np.float32)
        tensors[f"p{i}.greedy"] = np.asarray(greedy, dtype=np.int64)
        meta[f"p{i}.text"] = prompt
        meta[f"p{i}.greedy_text"] = tok.decode(greedy[len(ids):])
    return tensors, meta


def export(ckpt_path: str, out_dir: str, gguf_path: str | None, data_dir: str | None,
           embedding_dtype: str = "f16") -> dict:
    from safetensors.numpy import save_file

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    model, ckpt = trainer.load_checkpoint(ckpt_path, "cpu")
    cfg = model.cfg
    os.makedirs(out_dir, exist_ok=True)
    trainer.write_tokenizer_files(ckpt, out_dir)
    tok = TextTokenizer(os.path.join(out_dir, "tokenizer.json"))

    frozen = freeze_model(model, embedding_dtype)
    save_file(hf_state_dict(model, frozen, embedding_dtype), os.path.join(out_dir, "model.safetensors"),
              metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_format.config_json(cfg, tok.bos_id, tok.eos_id), f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": tok.bos_id, "eos_token_id": tok.eos_id, "do_sample": False}, f, indent=2)
        f.write("\n")

    prompts = list(FALLBACK_PROMPTS)
    if data_dir and os.path.isdir(data_dir):
        prompts = trainer.heldout_prompts(data.load_corpus(data_dir)) + FALLBACK_PROMPTS[:1]
    tensors, meta = goldens(model, tok, prompts)
    save_file(tensors, os.path.join(out_dir, "golden.safetensors"), metadata=meta)

    summary = {"export_dir": out_dir, "prompts": prompts,
               "greedy": [meta[f"p{i}.greedy_text"] for i in range(len(prompts))],
               "checkpoint_sha256": runinfo.sha256_file(ckpt_path), "checkpoint_step": ckpt.get("step"),
               "embedding_dtype": embedding_dtype,
               "files": {n: runinfo.sha256_file(os.path.join(out_dir, n)) for n in sorted(os.listdir(out_dir))}}
    if gguf_path:
        try:
            import gguf_export

            gguf_export.write_gguf(out_dir, gguf_path)
            summary["gguf"] = {"file": os.path.basename(gguf_path), "architecture": gguf_export.ARCH,
                               "sha256": runinfo.sha256_file(gguf_path)}
        except ImportError as e:
            print(f"no GGUF ({e}); write it later with: python training/gguf_export.py {out_dir} OUT.gguf",
                  file=sys.stderr)
            summary["gguf"] = None
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out_dir")
    ap.add_argument("--gguf", default=None, help="also write this GGUF file (needs the gguf package)")
    ap.add_argument("--data-dir", default=data.DEFAULT_DATA_DIR, help="held-out prompts come from here")
    ap.add_argument("--run-card", default=None, help="add an 'export' section to this run card JSON")
    ap.add_argument("--embedding-dtype", choices=sorted(EMBEDDING_DTYPES), default="f16",
                    help="storage (and golden) precision of the tied embedding (default f16)")
    args = ap.parse_args()
    summary = export(args.checkpoint, args.out_dir, args.gguf, args.data_dir, args.embedding_dtype)
    for p, g in zip(summary["prompts"], summary["greedy"]):
        print(f"golden greedy: {p!r} -> {g!r}")
    if args.run_card:
        with open(args.run_card) as f:
            card = json.load(f)
        card["export"] = {k: v for k, v in summary.items() if k != "export_dir"}
        # The held-out perplexity of exactly what was written (train.py measured both forms).
        key = {"f16": "test_ppl_exported_form_f16_embedding", "f32": "test_ppl_exported_form_fp32"}[args.embedding_dtype]
        if key in card.get("final", {}):
            card["export"]["test_ppl"] = card["final"][key]
            card["export"]["test_ppl_source"] = "final." + key
        with open(args.run_card, "w") as f:
            json.dump(card, f, indent=2)
            f.write("\n")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("prompts", "greedy", "files")}))


if __name__ == "__main__":
    main()
