"""BitNet b1.58 decoder (the bitnet-b1.58-2B-4T architecture) for quantization-aware training."""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclasses.dataclass
class ModelConfig:
    vocab_size: int = 4096
    hidden_size: int = 512
    intermediate_size: int = 1536
    num_hidden_layers: int = 6
    num_attention_heads: int = 8
    num_key_value_heads: int = 2
    max_position_embeddings: int = 256
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    initializer_range: float = 0.02
    # Training only: dropout on each residual branch. Inference graphs have none, so it never
    # reaches the export.
    dropout: float = 0.0

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# --- quantizers -------------------------------------------------------------------------------
# Both are written the way transformers' BitNet integration computes them (float32, multiply by
# the reciprocal, torch.round = half to even), because the exported model is checked against
# runtimes that reproduce exactly that arithmetic.

def weight_scale(w: torch.Tensor) -> torch.Tensor:
    """Per-tensor absmean scale s = mean|W| (clamped at 1e-5), float32, shape []."""
    return w.float().abs().mean().clamp(min=1e-5)


def ternarize(w: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
    """Ternary codes clamp(round(W / s), -1, 1) as float32."""
    s = weight_scale(w) if scale is None else scale
    return (w.float() * (1.0 / s)).round().clamp(-1, 1)


def quantize_activations(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token absmax int8: returns (integer-valued float32 codes, scale = 127 / max|x|)."""
    x = x.float()
    scale = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return (x * scale).round().clamp(-128, 127), scale


class BitLinear(nn.Linear):
    """Linear layer with ternary weights and int8 activations.

    Training keeps float master weights and quantizes both operands at every forward, passing
    gradients straight through the rounding (the quantized value is `x + (q(x) - x).detach()`,
    so d q(x) / dx = 1). After `freeze()` the layer holds the exported codes and scale and
    computes `(q(x) . codes) * scale / s_x` with an exact integer dot product: what transformers'
    offline AutoBitLinear computes from the packed checkpoint, up to float32 rounding.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__(in_features, out_features, bias=False)
        self.frozen_codes: torch.Tensor | None = None  # (out, in) float32 in {-1, 0, 1}
        self.frozen_scale: torch.Tensor | None = None  # () float32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, s = quantize_activations(x)
        if self.frozen_codes is not None:
            # The exact integer dot product, scaled and rounded once to float32, in float64:
            # the layer's defined value, which runtimes with integer kernels reproduce. A float32
            # matmul of the dequantized operands (transformers' way) is off by a few ulps, and
            # an ulp decides the rounding of the next layer's activations when a value sits
            # next to a .5 tie.
            dot = F.linear(q.double(), self.frozen_codes.double())
            return (dot * self.frozen_scale.double() / s.double()).float()
        x_dq = x + ((q / s).to(x.dtype) - x).detach()
        w = self.weight
        ws = weight_scale(w)
        w_dq = w + ((ternarize(w, ws) * ws).to(w.dtype) - w).detach()
        return F.linear(x_dq, w_dq)

    @torch.no_grad()
    def freeze(self, scale_dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """Fixes codes and scale from the master weights; returns (int8 codes, float32 scale).

        |scale_dtype| rounds the stored scale (float16 for GGUF TQ2_0, whose blocks keep an f16
        scale), so every exported format describes the same model."""
        ws = weight_scale(self.weight)
        codes = ternarize(self.weight, ws)
        scale = ws.to(scale_dtype).float()
        self.frozen_codes, self.frozen_scale = codes, scale
        return codes.to(torch.int8), scale.reshape(1)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalize in float32 and cast back before the gain, as LLaMA's RMSNorm does.
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


def rope_tables(cfg: ModelConfig, seq_len: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin [seq, head_dim] for neox-style RoPE: frequency j drives dims j and j + d/2."""
    d = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.int64, device=device).float() / d))
    pos = torch.arange(seq_len, device=device, dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return (x * cos + rotate_half(x) * sin).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d, h, kv = cfg.head_dim, cfg.num_attention_heads, cfg.num_key_value_heads
        self.q_proj = BitLinear(cfg.hidden_size, h * d)
        self.k_proj = BitLinear(cfg.hidden_size, kv * d)
        self.v_proj = BitLinear(cfg.hidden_size, kv * d)
        self.o_proj = BitLinear(h * d, cfg.hidden_size)
        # BitNet's extra norm on the attention output, before o_proj quantizes it.
        self.attn_sub_norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        cfg = self.cfg
        d, h, kv = cfg.head_dim, cfg.num_attention_heads, cfg.num_key_value_heads
        q = self.q_proj(x).view(b, t, h, d).transpose(1, 2)
        k = self.k_proj(x).view(b, t, kv, d).transpose(1, 2)
        v = self.v_proj(x).view(b, t, kv, d).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        # Query head i reads KV head i // (h / kv), the grouping of LLaMA's repeat_kv. An
        # expand (whose backward is a sum) keeps training deterministic on CUDA.
        k = k[:, :, None].expand(b, kv, h // kv, t, d).reshape(b, h, t, d)
        v = v[:, :, None].expand(b, kv, h // kv, t, d).reshape(b, h, t, d)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=d ** -0.5)
        y = y.transpose(1, 2).reshape(b, t, h * d)
        return self.o_proj(self.attn_sub_norm(y))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_proj = BitLinear(cfg.hidden_size, cfg.intermediate_size)
        self.up_proj = BitLinear(cfg.hidden_size, cfg.intermediate_size)
        self.down_proj = BitLinear(cfg.intermediate_size, cfg.hidden_size)
        self.ffn_sub_norm = RMSNorm(cfg.intermediate_size, cfg.rms_norm_eps)

    def forward(self, x):
        return self.down_proj(self.ffn_sub_norm(F.relu(self.gate_proj(x)).square() * self.up_proj(x)))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x, cos, sin):
        x = x + self.dropout(self.self_attn(self.input_layernorm(x), cos, sin))
        return x + self.dropout(self.mlp(self.post_attention_layernorm(x)))


class BitNetLM(nn.Module):
    """Parameter names follow transformers' BitNetForCausalLM minus the `model.` prefix."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.apply(self._init)

    def _init(self, m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=self.cfg.initializer_range)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits [batch, seq, vocab] for token ids [batch, seq], from position 0."""
        t = ids.shape[1]
        if t > self.cfg.max_position_embeddings:
            raise ValueError(f"sequence of {t} tokens exceeds the context of {self.cfg.max_position_embeddings}")
        cos, sin = rope_tables(self.cfg, t, ids.device)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin)
        x = self.norm(x)
        # Tied output embedding, kept in float: BitNet never quantizes the LM head.
        return F.linear(x, self.embed_tokens.weight)

    def bitlinears(self):
        for name, m in self.named_modules():
            if isinstance(m, BitLinear):
                yield name, m

    @torch.no_grad()
    def generate(self, ids: list[int], n: int, temperature: float = 0.0, top_k: int = 0,
                 generator: torch.Generator | None = None) -> list[int]:
        """|ids| followed by |n| tokens; temperature 0 is greedy. Recomputes the whole window
        each step (no KV cache): simple, and fast enough for samples and goldens."""
        device = self.embed_tokens.weight.device
        out = list(ids)
        ctx = self.cfg.max_position_embeddings
        for _ in range(n):
            x = torch.tensor([out[-ctx:]], device=device)
            logits = self(x)[0, -1].float()
            if temperature <= 0:
                nxt = int(logits.argmax())
            else:
                logits = logits / temperature
                if top_k > 0:
                    kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
                    logits = logits.masked_fill(logits < kth, -math.inf)
                probs = torch.softmax(logits, dim=-1)
                nxt = int(torch.multinomial(probs.cpu(), 1, generator=generator))
            out.append(nxt)
        return out
