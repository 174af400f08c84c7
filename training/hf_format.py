"""The Hugging Face BitNet layout: packing of ternary codes and the config.json we write.

transformers' BitNet quantizer (offline mode) stores each q/k/v/o/gate/up/down weight as uint8
[out/4, in]: byte (r, c) holds, in bits 2i..2i+1, the code of output row r + i*(out/4), stored
as w + 1 (0, 1, 2); `weight_scale` float32 [1] is the per-tensor scale. With
`linear_class: autobitlinear` the layer output is multiplied by that scale.
"""
from __future__ import annotations

import numpy as np

LINEAR_NAMES = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def pack_ternary(codes: np.ndarray) -> np.ndarray:
    """int8 codes in {-1, 0, 1}, shape [out, in] -> uint8 [out/4, in]."""
    out = codes.shape[0]
    if out % 4:
        raise ValueError(f"output size {out} is not a multiple of 4")
    rows = out // 4
    u = (codes.astype(np.int16) + 1).astype(np.uint8)
    packed = np.zeros((rows, codes.shape[1]), dtype=np.uint8)
    for i in range(4):
        packed |= u[i * rows:(i + 1) * rows] << np.uint8(2 * i)
    return packed


def unpack_ternary(packed: np.ndarray) -> np.ndarray:
    """uint8 [out/4, in] -> int8 codes [out, in]; rejects the unused code 3."""
    parts = [(packed >> np.uint8(2 * i)) & np.uint8(3) for i in range(4)]
    u = np.concatenate(parts, axis=0)
    if (u == 3).any():
        raise ValueError("packed weight holds code 3, which no ternary value maps to")
    return u.astype(np.int8) - 1


def config_json(cfg, bos_id: int, eos_id: int) -> dict:
    """config.json for BitNetForCausalLM with pre-packed weights (see the module docstring)."""
    return {
        "architectures": ["BitNetForCausalLM"],
        "model_type": "bitnet",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "num_key_value_heads": cfg.num_key_value_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "relu2",
        "max_position_embeddings": cfg.max_position_embeddings,
        "initializer_range": cfg.initializer_range,
        "rms_norm_eps": cfg.rms_norm_eps,
        "use_cache": True,
        "pad_token_id": None,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "tie_word_embeddings": True,
        "attention_bias": False,
        "attention_dropout": 0.0,
        # transformers 5 reads the nested form, 4.x and the released 2B-4T config the flat one.
        "rope_parameters": {"rope_theta": cfg.rope_theta, "rope_type": "default"},
        "rope_theta": cfg.rope_theta,
        "dtype": "float32",
        "quantization_config": {
            "quant_method": "bitnet",
            "linear_class": "autobitlinear",
            "quantization_mode": "offline",
        },
    }
