"""Writes the held-out test split of the corpus as one plain text file, for perplexity tools;
and the window walk of `tern perplexity` over a token sequence, which the tools that reproduce
its numbers share.

    python training/heldout.py OUT.txt [--data-dir DIR]

The text is, in data.py's file order, every document of each file's test part (data.py's cut:
the last 5% of the file at a line start; documents as `data.documents` gives them: split at
`<|endoftext|>`, outer newlines stripped, empty ones dropped), joined by a blank line ("\\n\\n")
and ended by one "\\n". UTF-8, line endings as in the source files (WikiText-2 keeps its CRLF).

Why not the training framing (each document followed by the EOS token): a text file has no
way to spell a special token — `tern perplexity` and Hugging Face tokenizers both read
`<|eos|>` in text as ordinary characters — so a blank line, the paragraph break these texts
already use, stands in for the document boundary. The bytes depend only on the corpus files,
so their SHA-256 identifies the text (perplexity.json records it). numpy only (via data.py).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402

DOCUMENT_JOIN = "\n\n"


def heldout_text(corpus: data.Corpus) -> str:
    docs = [doc for f in corpus.files for doc in data.documents(f.test)]
    return DOCUMENT_JOIN.join(docs) + "\n"


def heldout_bytes(data_dir: str) -> tuple[bytes, dict]:
    """The held-out text as UTF-8 and {file name: SHA-256} of the corpus files it came from."""
    corpus = data.load_corpus(data_dir)
    return heldout_text(corpus).encode("utf-8"), {f.name: f.sha256 for f in corpus.files}


def write_heldout(out_path: str, data_dir: str) -> dict:
    raw, sources = heldout_bytes(data_dir)
    with open(out_path, "wb") as f:
        f.write(raw)
    return {"sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw), "sources": sources}


def windows(total: int, ctx: int, stride: int) -> list[tuple[int, int, int]]:
    """(begin, end, first scored position) of each window `tern perplexity` evaluates over
    |total| tokens: windows of |ctx| tokens every |stride|, the last one ending at the last
    token; each scores the positions from the first one no earlier window scored, and never its
    own first position (that token has nothing before it in the window)."""
    out, prev_end, begin = [], 0, 0
    while begin < total:
        end = min(begin + ctx, total)
        out.append((begin, end, max(prev_end, begin + 1)))
        prev_end = end
        if end == total:
            break
        begin += stride
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--data-dir", default=data.DEFAULT_DATA_DIR)
    args = ap.parse_args()
    info = write_heldout(args.out, args.data_dir)
    print(f"{info['sha256']}  {info['bytes']} bytes  {args.out}")


if __name__ == "__main__":
    main()
