"""Trains the byte-level BPE tokenizer (Hugging Face `tokenizers`) and loads it for encoding.

The saved tokenizer.json is GPT-2 style: no normalizer, a ByteLevel pre-tokenizer with GPT-2's
split regex and no prefix space, a ByteLevel decoder. That is the form the runtime's byte-level
BPE reader maps to its `GPT2` pre-tokenizer, so every runtime tokenizes exactly as training did.
BOS/EOS are special added tokens (ids 0 and 1); tokenizer_config.json asks for BOS in front of
every text, which is how training windows start.

    python training/tokenizer.py --out training/assets [--vocab-size 4096]
"""
from __future__ import annotations

import argparse
import json
import os

BOS = "<|bos|>"
EOS = "<|eos|>"
SPECIAL_TOKENS = [BOS, EOS]
DEFAULT_ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")


def train_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        # All 256 byte stand-ins up front, so no input is ever out of vocabulary.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    # Lets Hugging Face's own tokenizer add BOS the way tokenizer_config.json says.
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))])
    return tok


def tokenizer_config(model_max_length: int) -> dict:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
    }


def save(tok, out_dir: str, model_max_length: int = 256) -> None:
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(model_max_length), f, indent=2)
        f.write("\n")


class TextTokenizer:
    """Encoding and decoding over a saved tokenizer.json, without BOS/EOS handling."""

    def __init__(self, path: str):
        from tokenizers import Tokenizer

        self.path = path
        self._tok = Tokenizer.from_file(path)
        self.bos_id = self._tok.token_to_id(BOS)
        self.eos_id = self._tok.token_to_id(EOS)
        self.vocab_size = self._tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=True)


def main():
    import data

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_ASSETS, help="folder for tokenizer.json + tokenizer_config.json")
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--data-dir", default=data.DEFAULT_DATA_DIR)
    ap.add_argument("--context", type=int, default=256, help="model_max_length written to the config")
    args = ap.parse_args()
    corpus = data.load_corpus(args.data_dir)
    # Only the training split: held-out text must not shape the vocabulary.
    docs = [doc for f in corpus.files for doc in data.documents(f.train)]
    tok = train_tokenizer(docs, args.vocab_size)
    save(tok, args.out, args.context)
    print(f"wrote {args.out}/tokenizer.json ({tok.get_vocab_size()} tokens)")


if __name__ == "__main__":
    main()
