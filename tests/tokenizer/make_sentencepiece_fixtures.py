#!/usr/bin/env python3
"""Regenerates the SentencePiece tokenizer.model fixtures and their expected ids.

Trains tiny models with the sentencepiece package on a slice of ../shared/data/text and writes,
next to this script in data/:
  spm_bpe_bytefallback.model  BPE, byte fallback, a user-defined piece "<mask>"
  spm_unigram.model           unigram, no byte fallback (unknown characters become <unk>)
  spm_unigram_bytefallback.model  unigram with byte fallback
  sentencepiece_expected.json {model file: {"texts": [...], "ids": [[...], ...], ...}}
The expected ids are sentencepiece's own encode() without BOS/EOS, for hand-picked texts and
held-out WikiText lines. LLaMA-2's tokenizer.model in ../shared/data/tokenizers gets expected ids
too (only ids are stored here, not the model), for the hand-picked texts and llama.cpp's
ggml-vocab-llama-spm vector texts.

Run from anywhere with the project's venv (scripts/bootstrap.sh installs sentencepiece):
  .venv/bin/python tests/tokenizer/make_sentencepiece_fixtures.py
"""
import json
import os
import shutil
import sys
import tempfile

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
OUT = os.path.join(HERE, "data")

TEXTS = [
    "",
    " ",
    "  ",
    "Hello world",
    " Hello world",
    "Hello  world   again",
    "   leading and trailing   ",
    "Once upon a time, there was a little girl named Lily.",
    "ROMEO: What light through yonder window breaks?",
    "tab\tand\nnewline\n\nend",
    "digits 0123456789 and 3.14159, 1,000,000",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
    "\u4f60\u597d\uff0c\u4e16\u754c",
    "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440",
    "emoji \U0001F600\U0001F680 and \u2764\ufe0f",
    "a<mask>b <mask> c",
    "<mask> starts the text",
    "<s> and </s> are control pieces",
    "\u2581already marked",
    "x",
    "!!!???...",
]


def corpus(path):
    """A few tens of KB of real text: Shakespeare, TinyStories and WikiText lines."""
    parts = []
    with open(os.path.join(SHARED, "text", "tinyshakespeare_input.txt"), encoding="utf-8") as f:
        parts.append(f.read(60000))
    with open(os.path.join(SHARED, "text", "cs336_tinystories_sample.txt"), encoding="utf-8") as f:
        parts.append(f.read())
    with open(os.path.join(SHARED, "text", "wikitext-2-raw-v1_wiki.test.raw"), encoding="utf-8") as f:
        parts.append(f.read(40000))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))


def train(text_path, name, **options):
    # The model stores its input and prefix as given: relative names keep paths out of it.
    prefix = os.path.join(OUT, name)
    os.chdir(os.path.dirname(text_path))
    base = dict(
        input=os.path.basename(text_path),
        model_prefix=name,
        character_coverage=1.0,
        num_threads=1,
        shuffle_input_sentence=False,
        minloglevel=2,
    )
    base.update(options)
    spm.SentencePieceTrainer.train(**base)
    shutil.move(name + ".model", prefix + ".model")
    return prefix + ".model"


def held_out_texts():
    """WikiText lines the models were not trained on: real numbers, names and punctuation."""
    with open(os.path.join(SHARED, "text", "wikitext-2-raw-v1_wiki.test.raw"), encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    return [line[:300] for line in lines[2000:2040] if line.strip()]


def vector_texts(inp_path):
    """llama.cpp's tokenizer test texts, split as its test-tokenizer-0 splits them."""
    with open(inp_path, encoding="utf-8", newline="") as f:
        raw = f.read()
    texts = raw.split("\n__ggml_vocab_test__\n")
    return texts[:-1] if texts and texts[-1] == "" else texts


def expected(model_path, texts=TEXTS):
    sp = spm.SentencePieceProcessor(model_file=model_path)
    return {
        "vocab_size": sp.get_piece_size(),
        "bos_id": sp.bos_id(),
        "eos_id": sp.eos_id(),
        "unk_id": sp.unk_id(),
        "texts": texts,
        "ids": [sp.encode(t) for t in texts],
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    # LLaMA's settings: identity normalization, spaces kept as they are, a dummy "▁" prefix.
    llama_like = dict(normalization_rule_name="identity", remove_extra_whitespaces=False,
                      add_dummy_prefix=True)
    with tempfile.TemporaryDirectory() as tmp:
        text = os.path.join(tmp, "corpus.txt")
        corpus(text)
        models = [
            train(text, "spm_bpe_bytefallback", model_type="bpe", vocab_size=600,
                  byte_fallback=True, user_defined_symbols=["<mask>"], **llama_like),
            train(text, "spm_unigram", model_type="unigram", vocab_size=500, **llama_like),
            train(text, "spm_unigram_bytefallback", model_type="unigram", vocab_size=500,
                  byte_fallback=True, **llama_like),
        ]
    result = {os.path.basename(m): expected(m, TEXTS + held_out_texts()) for m in models}
    # LLaMA-2's model also gets llama.cpp's LLaMA SentencePiece vector texts.
    llama_texts = TEXTS + vector_texts(os.path.join(SHARED, "gguf", "ggml-vocab-llama-spm.gguf.inp"))
    path = os.path.join(SHARED, "tokenizers", "llama2_tokenizer.model")
    if os.path.exists(path):
        result["shared:llama2_tokenizer.model"] = expected(path, llama_texts)
    # One text or id list per line: compact, yet a changed id shows as a one-line diff.
    with open(os.path.join(OUT, "sentencepiece_expected.json"), "w", encoding="utf-8") as f:
        f.write("{\n")
        for n, (key, entry) in enumerate(sorted(result.items())):
            f.write(" %s: {\n" % json.dumps(key))
            for field in ("vocab_size", "bos_id", "eos_id", "unk_id"):
                f.write("  %s: %d,\n" % (json.dumps(field), entry[field]))
            for field in ("texts", "ids"):
                rows = [json.dumps(v, ensure_ascii=True, separators=(",", ":")) for v in entry[field]]
                f.write("  %s: [\n   %s\n  ]%s\n" % (json.dumps(field), ",\n   ".join(rows),
                                                      "," if field == "texts" else ""))
            f.write(" }%s\n" % ("," if n + 1 < len(result) else ""))
        f.write("}\n")
    print("wrote", ", ".join(sorted(result)), file=sys.stderr)


if __name__ == "__main__":
    main()
