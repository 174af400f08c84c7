"""Draws a loss CSV (train.py / finetune.py) as a PNG: train, val and test loss against step.

    python training/plot.py OUT/loss.csv OUT/loss.png [--title TEXT] [--unigram NATS]
"""
from __future__ import annotations

import argparse
import csv
import math


def read_csv(path: str) -> dict[str, list]:
    cols: dict[str, list] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                cols.setdefault(k, []).append(float(v) if v not in ("", None) else math.nan)
    return cols


def plot(csv_path: str, png_path: str, title: str = "", unigram_loss: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on the training machines
    import matplotlib.pyplot as plt

    c = read_csv(csv_path)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for key, label in (("train_loss", "train (mean since last eval)"), ("val_loss", "val"),
                       ("test_loss", "test (held-out)")):
        pts = [(s, v) for s, v in zip(c["step"], c[key]) if not math.isnan(v)]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, marker="." if len(pts) < 60 else None)
    if unigram_loss is not None:
        ax.axhline(unigram_loss, color="gray", linestyle="--", label=f"unigram baseline (test, ppl {math.exp(unigram_loss):.0f})")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title or "BitNet b1.58 training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("png")
    ap.add_argument("--title", default="")
    ap.add_argument("--unigram", type=float, default=None, help="unigram baseline loss (nats) to draw")
    args = ap.parse_args()
    plot(args.csv, args.png, args.title, args.unigram)


if __name__ == "__main__":
    main()
