"""Continues training a checkpoint on new text (full fine-tuning: every weight, fresh AdamW).

    python training/finetune.py CKPT.pt --text new1.txt [new2.txt ...] --out runs/ft [--steps 300]

The new files are split like the training corpus (first 90% train, 5% val, last 5% test).
The checkpoint's tokenizer and model shape are kept. Step 0 of loss.csv is the starting
checkpoint on the new held-out text. Outputs as train.py: ckpt.pt, loss.csv, loss.png,
samples.txt, run_card.json, train.log.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import trainer  # first: sets CUBLAS_WORKSPACE_CONFIG before torch touches CUDA

import data
import runinfo
import train
from tokenizer import TextTokenizer

DEFAULTS = trainer.TrainOptions(steps=300, batch_size=32, seq_len=256, lr=3e-4, warmup_steps=20,
                                eval_every=25, patience=6, max_minutes=5.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--text", nargs="+", required=True, help="UTF-8 text files to fine-tune on")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dropout", type=float, default=None, help="residual dropout (default: the checkpoint's)")
    ap.add_argument("--sample-tokens", type=int, default=48)
    train.add_override_args(ap, include_model=False)
    args = ap.parse_args()

    wall = time.time()
    os.makedirs(args.out, exist_ok=True)
    log = trainer.Logger(os.path.join(args.out, "train.log"))
    opts = train.apply_overrides(DEFAULTS, args)
    device = trainer.pick_device(args.device)
    determinism = trainer.set_determinism(device, log)
    trainer.seed_everything(opts.seed)

    model, ckpt = trainer.load_checkpoint(args.checkpoint, "cpu")
    cfg = model.cfg
    if args.dropout is not None:
        cfg = dataclasses.replace(cfg, dropout=args.dropout)
        for layer in model.layers:
            layer.dropout.p = args.dropout
        model.cfg = cfg
    opts = dataclasses.replace(opts, seq_len=min(opts.seq_len, cfg.max_position_embeddings))
    model = model.to(device)
    tok_dir = os.path.join(args.out, "tokenizer")
    trainer.write_tokenizer_files(ckpt, tok_dir)
    tok = TextTokenizer(os.path.join(tok_dir, "tokenizer.json"))

    corpus = data.load_paths(args.text)
    tokens = data.tokenize_corpus(tok, corpus)
    if len(tokens.train) <= opts.seq_len:
        sys.exit(f"only {len(tokens.train)} training tokens; need more than seq_len {opts.seq_len}")
    log(f"device {device} ({determinism} determinism); fine-tuning {args.checkpoint} (step {ckpt.get('step')}) "
        f"on {[f.name for f in corpus.files]}: tokens train {len(tokens.train)} val {len(tokens.val)} "
        f"test {len(tokens.test)}")
    result = trainer.train(model, tokens, tok.bos_id, opts, device, os.path.join(args.out, "loss.csv"), log)

    card = train.finish(model, tok, tokens, corpus, cfg, opts, result, args.out, log, device,
                        {"kind": "finetune", "determinism": determinism,
                         "init_checkpoint": {"path": os.path.basename(args.checkpoint),
                                             "sha256": runinfo.sha256_file(args.checkpoint),
                                             "step": ckpt.get("step")},
                         "data": corpus.manifest(),
                         "tokenizer_sha256": runinfo.sha256_file(tok.path),
                         "title": f"fine-tuning on {', '.join(f.name for f in corpus.files)}",
                         "_tokenizer_dir": tok_dir},
                        args.sample_tokens)
    card["wall_seconds"] = time.time() - wall
    trainer.write_run_card(os.path.join(args.out, "run_card.json"), card)
    log(f"wrote {args.out}/run_card.json ({card['wall_seconds']:.0f}s)")


if __name__ == "__main__":
    main()
