"""Text corpus: files, their SHA-256, the fixed train/val/test split, token streams and batches.

Each file is cut at line boundaries into train (first 90%), val (next 5%: picks the best
checkpoint) and test (last 5%: the held-out perplexity that is reported). The cut depends on
the file alone, so it never moves between runs. `<|endoftext|>` in a text separates documents
(TinyStories' convention); documents and files are joined with the EOS token.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
# A copy in training/data (git-ignored; what travels to a machine without ../shared) wins over
# the shared test material beside the checkout.
DEFAULT_DATA_DIR = next((d for d in (os.path.join(_HERE, "data"),
                                     os.path.normpath(os.path.join(_HERE, "..", "..", "shared", "data", "text")))
                         if os.path.isdir(d)), os.path.join(_HERE, "data"))
DEFAULT_FILES = (
    "tinyshakespeare_input.txt",
    "wikitext-2-raw-v1_wiki.test.raw",
    "cs336_tinystories_sample.txt",
)
DOC_SEPARATOR = "<|endoftext|>"
VAL_FRACTION = 0.05
TEST_FRACTION = 0.05


@dataclasses.dataclass
class FileSplit:
    name: str
    sha256: str
    n_bytes: int
    train: str
    val: str
    test: str


@dataclasses.dataclass
class Corpus:
    files: list[FileSplit]

    def manifest(self) -> dict:
        """What a run card records about its data."""
        return {f.name: {"sha256": f.sha256, "bytes": f.n_bytes,
                         "chars": {"train": len(f.train), "val": len(f.val), "test": len(f.test)}}
                for f in self.files}


def line_cut(text: str, fraction_from_end: float) -> int:
    """Index of the last line start at or before len(text) * (1 - fraction_from_end), so even
    a short file whose last line is long keeps some held-out text."""
    pos = int(len(text) * (1.0 - fraction_from_end))
    return text.rfind("\n", 0, pos) + 1


def split_text(text: str) -> tuple[str, str, str]:
    test_at = line_cut(text, TEST_FRACTION)
    val_at = line_cut(text, TEST_FRACTION + VAL_FRACTION)
    val_at = min(val_at, test_at)
    return text[:val_at], text[val_at:test_at], text[test_at:]


def load_file(path: str) -> FileSplit:
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    train, val, test = split_text(text)
    return FileSplit(os.path.basename(path), hashlib.sha256(raw).hexdigest(), len(raw), train, val, test)


def load_corpus(data_dir: str = DEFAULT_DATA_DIR, names=DEFAULT_FILES) -> Corpus:
    return Corpus([load_file(os.path.join(data_dir, n)) for n in names])


def load_paths(paths: list[str]) -> Corpus:
    return Corpus([load_file(p) for p in paths])


def documents(text: str) -> list[str]:
    docs = [d.strip("\n") for d in text.split(DOC_SEPARATOR)]
    return [d for d in docs if d]


def encode_split(tok, text: str) -> list[int]:
    """Token ids of one split of one file: its documents, each followed by EOS."""
    ids: list[int] = []
    for doc in documents(text):
        ids.extend(tok.encode(doc))
        ids.append(tok.eos_id)
    return ids


@dataclasses.dataclass
class TokenData:
    train: np.ndarray          # (n_train,) int64, all files' train splits in file order
    val: np.ndarray            # (n_val,) int64
    test: np.ndarray           # (n_test,) int64
    per_file: dict             # name -> {"train": n, "val": n, "test": n} token counts


def tokenize_corpus(tok, corpus: Corpus) -> TokenData:
    parts = {"train": [], "val": [], "test": []}
    per_file = {}
    for f in corpus.files:
        counts = {}
        for split in parts:
            ids = encode_split(tok, getattr(f, split))
            parts[split].extend(ids)
            counts[split] = len(ids)
        per_file[f.name] = counts
    arr = {k: np.asarray(v, dtype=np.int64) for k, v in parts.items()}
    return TokenData(arr["train"], arr["val"], arr["test"], per_file)


class BatchSampler:
    """Random training windows in a fixed order: the offsets come from one seeded generator.

    A window is BOS followed by `seq_len` consecutive stream tokens; the model reads
    [BOS, t0 .. t(n-2)] and predicts [t0 .. t(n-1)], the same framing as inference (BOS, then
    the prompt)."""

    def __init__(self, stream: np.ndarray, seq_len: int, batch_size: int, bos_id: int, seed: int):
        if len(stream) <= seq_len:
            raise ValueError(f"training stream of {len(stream)} tokens is shorter than one window ({seq_len})")
        self.stream, self.seq_len, self.batch_size, self.bos_id = stream, seq_len, batch_size, bos_id
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        starts = self.rng.integers(0, len(self.stream) - self.seq_len + 1, size=self.batch_size)
        windows = np.stack([self.stream[s:s + self.seq_len] for s in starts])
        x = np.concatenate([np.full((self.batch_size, 1), self.bos_id, dtype=np.int64), windows[:, :-1]], axis=1)
        return x, windows


def eval_windows(stream: np.ndarray, seq_len: int, bos_id: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Non-overlapping windows covering every token of |stream| exactly once (the last may be
    short), each read after BOS, like training windows."""
    out = []
    for s in range(0, len(stream), seq_len):
        y = stream[s:s + seq_len]
        x = np.concatenate([[bos_id], y[:-1]]).astype(np.int64)
        out.append((x, y))
    return out


def unigram_log_probs(train: np.ndarray, vocab_size: int) -> np.ndarray:
    """log p(token) from training-split frequencies with add-one smoothing (so held-out tokens
    never seen in training still get a finite cost)."""
    counts = np.bincount(train, minlength=vocab_size).astype(np.float64) + 1.0
    return np.log(counts / counts.sum())


def unigram_perplexity(train: np.ndarray, heldout: np.ndarray, vocab_size: int) -> float:
    lp = unigram_log_probs(train, vocab_size)
    return float(np.exp(-lp[heldout].mean()))
