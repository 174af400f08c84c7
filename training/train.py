"""Trains the BitNet b1.58 model from scratch on the corpus; writes checkpoint, loss CSV, plot,
samples and a run card into --out.

    python training/train.py --out runs/main                  # the GPU preset (a few minutes on an H100)
    python training/train.py --out runs/bundle --preset bundle  # the model bundled in models/ (~3 min on an H100)
    python training/train.py --out /tmp/tiny --preset tiny    # seconds on a CPU, for testing

Outputs: ckpt.pt (best-val float master weights + config + tokenizer), loss.csv, loss.png,
samples.txt, run_card.json, train.log.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time

import trainer  # first: sets CUBLAS_WORKSPACE_CONFIG before torch touches CUDA

import torch

import data
import runinfo
from model import BitNetLM, ModelConfig
from tokenizer import DEFAULT_ASSETS, TextTokenizer

PRESETS = {
    # ~20M parameters. Sizes are multiples of 256 so that GGUF TQ2_0 blocks (256 weights along
    # a row) tile every ternary matrix.
    "gpu": (ModelConfig(vocab_size=4096, hidden_size=512, intermediate_size=1536, num_hidden_layers=6,
                        num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=256,
                        rope_theta=10000.0, dropout=0.1),
            trainer.TrainOptions(steps=1500, batch_size=64, seq_len=256, lr=1.5e-3, warmup_steps=100,
                                 eval_every=50, patience=8, max_minutes=5.0)),
    # ~5.8M parameters: the model bundled in models/. The repository carries it, so its GGUF is
    # kept near 3 MB: 4.7M ternary weights in TQ2_0 (2.06 bits each, 1.2 MB) and the tied
    # 4096 x 256 embedding in f16 (2 MB). With ~655K training tokens the 20M `gpu` model stops
    # on val after ~450 steps; this one overfits later, so it gets more steps, a slightly higher
    # learning rate (smaller models take one) and a 3-minute guard.
    "bundle": (ModelConfig(vocab_size=4096, hidden_size=256, intermediate_size=768, num_hidden_layers=6,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                           rope_theta=10000.0, dropout=0.1),
               trainer.TrainOptions(steps=2500, batch_size=64, seq_len=256, lr=2e-3, warmup_steps=100,
                                    eval_every=50, patience=8, max_minutes=3.0)),
    # A few seconds on a laptop CPU: exercises every step of the pipeline, learns little.
    "tiny": (ModelConfig(vocab_size=4096, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         rope_theta=10000.0, dropout=0.0),
             trainer.TrainOptions(steps=40, batch_size=8, seq_len=64, lr=3e-3, warmup_steps=5,
                                  eval_every=20, patience=0, max_minutes=2.0, eval_tokens=4096)),
}


def add_override_args(ap: argparse.ArgumentParser, include_model: bool = True) -> None:
    g = ap.add_argument_group("overrides of the preset")
    for f in dataclasses.fields(trainer.TrainOptions):
        g.add_argument("--" + f.name.replace("_", "-"), type=type(f.default) if f.type != "bool" else int,
                       default=None)
    if include_model:
        for f in dataclasses.fields(ModelConfig):
            g.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=None)


def apply_overrides(obj, args):
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(obj)
               if getattr(args, f.name, None) is not None}
    if "compile" in changes:
        changes["compile"] = bool(changes["compile"])
    return dataclasses.replace(obj, **changes)


def exported_form_loss(model: BitNetLM, stream, seq_len, bos_id, device, embedding_dtype=torch.float32) -> float:
    """Held-out loss of the model as exported (frozen codes, f16-rounded scales, the embedding
    rounded to |embedding_dtype|, float32 arithmetic), which is what the HF directory, the GGUF
    file and the goldens hold."""
    import copy

    frozen = copy.deepcopy(model)
    for _, m in frozen.bitlinears():
        m.freeze(torch.float16)
    with torch.no_grad():
        frozen.embed_tokens.weight.copy_(frozen.embed_tokens.weight.to(embedding_dtype).float())
    return trainer.evaluate(frozen, stream, seq_len, bos_id, device, use_autocast=False)


def finish(model, tok, tokens, corpus, cfg, opts, result, out, log, device, card_extra, sample_tokens):
    """Shared tail of train.py and finetune.py: reload the best weights, measure, sample, save."""
    best = result["best"]
    model.load_state_dict(best["state"])
    bos = tok.bos_id
    val_stream, test_stream = trainer.heldout(tokens.val, opts), trainer.heldout(tokens.test, opts)
    unigram = {s: data.unigram_perplexity(tokens.train, stream, cfg.vocab_size)
               for s, stream in (("val", val_stream), ("test", test_stream)) if len(stream)}
    exported_test = exported_form_loss(model, test_stream, opts.seq_len, bos, device)
    # export.py stores the tied embedding in f16 by default (--embedding-dtype); both forms are
    # measured so the run card holds the number for either export.
    exported_test_f16 = exported_form_loss(model, test_stream, opts.seq_len, bos, device, torch.float16)
    final = {
        "best_step": best["step"],
        "val_loss": best["val_loss"], "val_ppl": math.exp(best["val_loss"]),
        "test_loss": best["test_loss"], "test_ppl": math.exp(best["test_loss"]),
        "test_loss_exported_form_fp32": exported_test, "test_ppl_exported_form_fp32": math.exp(exported_test),
        "test_loss_exported_form_f16_embedding": exported_test_f16,
        "test_ppl_exported_form_f16_embedding": math.exp(exported_test_f16),
        "unigram_val_ppl": unigram.get("val"), "unigram_test_ppl": unigram.get("test"),
        "last_train_loss": result["history"][-1]["train_loss"] if result["history"] else None,
    }
    log(f"held-out (test) perplexity {final['test_ppl']:.2f} (as exported: {final['test_ppl_exported_form_fp32']:.2f}, "
        f"with the f16 embedding {final['test_ppl_exported_form_f16_embedding']:.2f}); "
        f"unigram baseline {final['unigram_test_ppl']:.2f}")

    prompts = trainer.heldout_prompts(corpus) + ["Once upon a time", "ROMEO:", "The history of"]
    smp = trainer.samples(model, tok, prompts, sample_tokens, opts.seed)
    with open(os.path.join(out, "samples.txt"), "w") as f:
        for s in smp:
            block = f"--- prompt: {s['prompt']!r}\n[greedy]  {s['prompt']}{s['greedy']}\n[sampled] {s['prompt']}{s['sampled']}\n"
            f.write(block)
            log(block.rstrip())

    trainer.save_checkpoint(os.path.join(out, "ckpt.pt"), cfg, best["state"], card_extra.pop("_tokenizer_dir"),
                            {"step": best["step"], "seed": opts.seed})
    card = {
        **card_extra,
        "seed": opts.seed,
        "model_config": dataclasses.asdict(cfg),
        "train_options": dataclasses.asdict(opts),
        "parameters": model.num_parameters(),
        "tokens": {"train": int(len(tokens.train)), "val": int(len(tokens.val)), "test": int(len(tokens.test)),
                   "evaluated": {"val": int(len(val_stream)), "test": int(len(test_stream))},
                   "per_file": tokens.per_file},
        "steps_run": result["steps_run"], "stop_reason": result["stop_reason"],
        "train_seconds": result["train_seconds"],
        "final": final,
        "samples": smp,
        "checkpoint_sha256": runinfo.sha256_file(os.path.join(out, "ckpt.pt")),
    }
    try:
        import plot

        plot.plot(os.path.join(out, "loss.csv"), os.path.join(out, "loss.png"), card_extra.get("title", ""),
                  math.log(final["unigram_test_ppl"]) if final["unigram_test_ppl"] else None)
        card["plot"] = "loss.png"
    except ImportError as e:
        log(f"no plot ({e}); draw it later with: python training/plot.py loss.csv loss.png")
        card["plot"] = None
    return card


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="gpu")
    ap.add_argument("--data-dir", default=data.DEFAULT_DATA_DIR)
    ap.add_argument("--tokenizer-dir", default=DEFAULT_ASSETS, help="folder with tokenizer.json + tokenizer_config.json")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--sample-tokens", type=int, default=None)
    add_override_args(ap)
    args = ap.parse_args()

    wall = time.time()
    os.makedirs(args.out, exist_ok=True)
    log = trainer.Logger(os.path.join(args.out, "train.log"))
    cfg, opts = PRESETS[args.preset]
    cfg, opts = apply_overrides(cfg, args), apply_overrides(opts, args)
    if opts.seq_len > cfg.max_position_embeddings:
        sys.exit(f"seq_len {opts.seq_len} exceeds max_position_embeddings {cfg.max_position_embeddings}")
    device = trainer.pick_device(args.device)
    determinism = trainer.set_determinism(device, log)
    trainer.seed_everything(opts.seed)

    tok = TextTokenizer(os.path.join(args.tokenizer_dir, "tokenizer.json"))
    if tok.vocab_size != cfg.vocab_size:
        sys.exit(f"tokenizer has {tok.vocab_size} tokens, the model config {cfg.vocab_size}")
    corpus = data.load_corpus(args.data_dir)
    tokens = data.tokenize_corpus(tok, corpus)
    log(f"device {device} ({determinism} determinism); tokens train {len(tokens.train)} val {len(tokens.val)} "
        f"test {len(tokens.test)}")

    model = BitNetLM(cfg).to(device)
    log(f"model: {model.num_parameters() / 1e6:.2f}M parameters, {json.dumps(dataclasses.asdict(cfg))}")
    result = trainer.train(model, tokens, tok.bos_id, opts, device, os.path.join(args.out, "loss.csv"), log)

    card = finish(model, tok, tokens, corpus, cfg, opts, result, args.out, log, device,
                  {"kind": "train", "preset": args.preset, "determinism": determinism,
                   "data": corpus.manifest(), "data_dir_files": list(data.DEFAULT_FILES),
                   "tokenizer_sha256": runinfo.sha256_file(tok.path),
                   "title": f"BitNet b1.58 {model.num_parameters() / 1e6:.1f}M, seed {opts.seed}",
                   "_tokenizer_dir": args.tokenizer_dir},
                  args.sample_tokens or (16 if args.preset == "tiny" else 48))
    card["wall_seconds"] = time.time() - wall
    trainer.write_run_card(os.path.join(args.out, "run_card.json"), card)
    log(f"wrote {args.out}/run_card.json ({card['wall_seconds']:.0f}s)")


if __name__ == "__main__":
    main()
