"""Writes a GGUF file from an exported Hugging Face BitNet directory (numpy, safetensors, gguf;
no torch), so it can run wherever the `gguf` package is, independently of training.

    python training/gguf_export.py EXPORT_DIR OUT.gguf

Architecture `bitnet-b1.58`: bitnet.cpp's name for this graph (relu²-gated FFN, sub-norms,
neox RoPE, output tied to token_embd when `output.weight` is absent). llama.cpp's plain
`bitnet` architecture would be read as a SiLU-gated FFN, a different model. Ternary weights are
TQ2_0; every 256-weight block gets the tensor's scale as its f16 `d` (the export has already
rounded the scale to f16, so nothing changes). The embedding (also the tied output) keeps the
dtype of the export, F16 or F32 (bitnet-b1.58-2B-4T's GGUF stores it as F16); norms are F32.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

import hf_format

ARCH = "bitnet-b1.58"
TQ2_0_BLOCK = 256
# GGUF names for the Hugging Face per-layer tensors.
LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.attn_sub_norm": "attn_sub_norm",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "mlp.ffn_sub_norm": "ffn_sub_norm",
}
TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER_DEFINED = 1, 3, 4


def pack_tq2_0(codes: np.ndarray, scale: float) -> np.ndarray:
    """int8 codes [rows, cols] -> TQ2_0 bytes [rows, cols/256*66].

    Per block of 256: qs[64] then f16 d. Byte 32c + m (c = 0, 1; m = 0..31) holds weights
    128c + 32n + m (n = 0..3) in bits 2n..2n+1, each as code + 1."""
    rows, cols = codes.shape
    if cols % TQ2_0_BLOCK:
        raise ValueError(f"row length {cols} is not a multiple of {TQ2_0_BLOCK} (TQ2_0 block)")
    u = (codes.astype(np.int16) + 1).astype(np.uint8).reshape(rows, cols // TQ2_0_BLOCK, 2, 4, 32)
    qs = np.zeros((rows, cols // TQ2_0_BLOCK, 2, 32), dtype=np.uint8)
    for n in range(4):
        qs |= u[:, :, :, n, :] << np.uint8(2 * n)
    d = np.full((rows, cols // TQ2_0_BLOCK, 1), scale, dtype=np.float16).view(np.uint8)
    blocks = np.concatenate([qs.reshape(rows, cols // TQ2_0_BLOCK, 64), d], axis=2)
    return blocks.reshape(rows, -1)


def read_tokenizer(export_dir: str) -> dict:
    with open(os.path.join(export_dir, "tokenizer.json")) as f:
        tj = json.load(f)
    with open(os.path.join(export_dir, "tokenizer_config.json")) as f:
        tc = json.load(f)
    vocab = dict(tj["model"]["vocab"])
    types = {}
    for a in tj.get("added_tokens", []):
        vocab[a["content"]] = a["id"]
        types[a["id"]] = TOKEN_CONTROL if a.get("special") else TOKEN_USER_DEFINED
    n = max(vocab.values()) + 1
    tokens = [None] * n
    for text, i in vocab.items():
        tokens[i] = text
    if any(t is None for t in tokens):
        raise ValueError("tokenizer ids are not contiguous")
    merges = [m if isinstance(m, str) else f"{m[0]} {m[1]}" for m in tj["model"]["merges"]]
    return {
        "tokens": tokens,
        "types": [types.get(i, TOKEN_NORMAL) for i in range(n)],
        "merges": merges,
        "bos": vocab[tc["bos_token"]],
        "eos": vocab[tc["eos_token"]],
        "add_bos": bool(tc.get("add_bos_token", False)),
        "add_eos": bool(tc.get("add_eos_token", False)),
    }


def write_gguf(export_dir: str, out_path: str, name: str = "ternc BitNet b1.58") -> None:
    import gguf
    from safetensors.numpy import load_file

    with open(os.path.join(export_dir, "config.json")) as f:
        cfg = json.load(f)
    tensors = load_file(os.path.join(export_dir, "model.safetensors"))
    tok = read_tokenizer(export_dir)
    head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]

    w = gguf.GGUFWriter(out_path, ARCH)
    w.add_name(name)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_freq_base(cfg["rope_parameters"]["rope_theta"] if "rope_parameters" in cfg else cfg["rope_theta"])
    w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_TQ2_0)

    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")  # GPT-2's split regex, as tokenizer.json's ByteLevel pre-tokenizer
    w.add_token_list(tok["tokens"])
    w.add_token_types(tok["types"])
    w.add_token_merges(tok["merges"])
    w.add_bos_token_id(tok["bos"])
    w.add_eos_token_id(tok["eos"])
    w.add_add_bos_token(tok["add_bos"])
    w.add_add_eos_token(tok["add_eos"])

    def f32(name, arr):
        w.add_tensor(name, np.ascontiguousarray(arr, dtype=np.float32))

    emb = tensors["model.embed_tokens.weight"]
    if emb.dtype not in (np.float16, np.float32):
        raise ValueError(f"model.embed_tokens.weight is {emb.dtype}; expected float16 or float32")
    # As stored: widening or narrowing here would make the file disagree with the goldens.
    w.add_tensor("token_embd.weight", np.ascontiguousarray(emb))
    f32("output_norm.weight", tensors["model.norm.weight"])
    for i in range(cfg["num_hidden_layers"]):
        for hf, gg in LAYER_NAMES.items():
            src = f"model.layers.{i}.{hf}.weight"
            dst = f"blk.{i}.{gg}.weight"
            if hf in hf_format.LINEAR_NAMES:
                codes = hf_format.unpack_ternary(tensors[src])
                scale = float(tensors[f"model.layers.{i}.{hf}.weight_scale"].reshape(-1)[0])
                if np.float32(np.float16(scale)) != np.float32(scale):
                    raise ValueError(f"{src}: scale {scale!r} is not an f16 value; TQ2_0 would change it")
                data = pack_tq2_0(codes, scale)
                w.add_tensor(dst, data, raw_shape=data.shape, raw_dtype=gguf.GGMLQuantizationType.TQ2_0)
            else:
                f32(dst, tensors[src])

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export_dir")
    ap.add_argument("out")
    args = ap.parse_args()
    write_gguf(args.export_dir, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
