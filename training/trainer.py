"""The training loop shared by train.py and finetune.py: determinism, AdamW + cosine schedule,
periodic held-out evaluation, CSV log, best-checkpoint tracking, samples and the run card."""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time

# cuBLAS reads this when its first handle is made; deterministic GEMMs need it set before that.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import numpy as np
import torch
import torch.nn.functional as F

import data
import runinfo
from model import BitNetLM, ModelConfig

CSV_FIELDS = ["step", "tokens", "lr", "train_loss", "val_loss", "test_loss", "elapsed_s"]


@dataclasses.dataclass
class TrainOptions:
    steps: int = 1500
    batch_size: int = 64
    seq_len: int = 256
    lr: float = 1.5e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every: int = 50
    # Stop when val loss has not improved for this many evaluations (0: never). The data is a
    # few MB, so a long run only memorizes it; the best-val checkpoint is the one exported.
    patience: int = 8
    max_minutes: float = 0.0  # 0: no wall-clock limit
    # Evaluate on the first N tokens of val/test only (0: all); for quick CPU tests.
    eval_tokens: int = 0
    seed: int = 1234
    compile: bool = False


def heldout(stream: np.ndarray, opts: TrainOptions) -> np.ndarray:
    return stream[:opts.eval_tokens] if opts.eval_tokens > 0 else stream


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)  # also seeds every CUDA device
    np.random.seed(seed)


def set_determinism(device: torch.device, log) -> str:
    """Turns on deterministic kernels. Strict mode is needed for attention: with warn_only,
    PyTorch keeps the non-deterministic flash/memory-efficient backward and only warns. A
    one-batch probe finds out whether every op here has a deterministic kernel; if one does
    not, the run goes on with warnings instead of failing."""
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.use_deterministic_algorithms(True)
    # Head size 64 and grouped KV like the real model, so attention picks the same kernels.
    probe = BitNetLM(ModelConfig(vocab_size=64, hidden_size=128, intermediate_size=256, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=16)).to(device)
    ids = torch.randint(0, 64, (2, 16), device=device)
    try:
        with autocast(device):
            loss = F.cross_entropy(probe(ids).flatten(0, 1).float(), ids.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(probe.parameters(), 1.0)
        make_optimizer(probe, TrainOptions(), device).step()
        return "strict"
    except RuntimeError as e:
        log(f"deterministic algorithms unavailable ({str(e).splitlines()[0]}); continuing with warn_only")
        torch.use_deterministic_algorithms(True, warn_only=True)
        return "warn_only"


def autocast(device: torch.device):
    # bf16 on GPU; CPU runs stay in float32 (they are only the quick tests).
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=True) if device.type == "cuda" \
        else torch.autocast("cpu", enabled=False)


def make_optimizer(model: BitNetLM, opts: TrainOptions, device: torch.device) -> torch.optim.AdamW:
    # Decay matrices (linear master weights, the embedding); never the norm gains.
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": opts.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=opts.lr, betas=(opts.beta1, opts.beta2),
                             fused=device.type == "cuda")


def lr_at(step: int, opts: TrainOptions) -> float:
    """Linear warmup, then cosine from lr down to lr * min_lr_ratio at the last step."""
    if step < opts.warmup_steps:
        return opts.lr * (step + 1) / opts.warmup_steps
    span = max(1, opts.steps - opts.warmup_steps)
    progress = min(1.0, (step - opts.warmup_steps) / span)
    floor = opts.lr * opts.min_lr_ratio
    return floor + (opts.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate(model: BitNetLM, stream: np.ndarray, seq_len: int, bos_id: int, device: torch.device,
             batch_size: int = 32, use_autocast: bool = True) -> float:
    """Mean cross-entropy (nats/token) over every token of |stream|, in non-overlapping windows."""
    if len(stream) == 0:
        return float("nan")
    was_training = model.training
    model.eval()
    windows = data.eval_windows(stream, seq_len, bos_id)
    total, count = 0.0, 0
    # Group equal lengths so full windows batch together; only the last one is short.
    by_len: dict[int, list] = {}
    for x, y in windows:
        by_len.setdefault(len(x), []).append((x, y))
    for group in by_len.values():
        for i in range(0, len(group), batch_size):
            chunk = group[i:i + batch_size]
            x = torch.from_numpy(np.stack([c[0] for c in chunk])).to(device)
            y = torch.from_numpy(np.stack([c[1] for c in chunk])).to(device)
            if use_autocast:
                with autocast(device):
                    logits = model(x)
            else:
                logits = model(x)
            total += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
    model.train(was_training)
    return total / count


def cpu_state(model: BitNetLM) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class Logger:
    """Prints and appends to a log file; the GPU script keeps that file."""

    def __init__(self, path: str | None):
        self.f = open(path, "a") if path else None

    def __call__(self, msg: str) -> None:
        print(msg, flush=True)
        if self.f:
            self.f.write(msg + "\n")
            self.f.flush()


def train(model: BitNetLM, tokens: data.TokenData, bos_id: int, opts: TrainOptions, device: torch.device,
          csv_path: str, log) -> dict:
    """Runs the loop; returns the best-val state dict (on CPU) and the loss history."""
    sampler = data.BatchSampler(tokens.train, opts.seq_len, opts.batch_size, bos_id, opts.seed)
    optimizer = make_optimizer(model, opts, device)
    step_fn = torch.compile(model) if opts.compile else model
    model.train()

    with open(csv_path, "w", newline="") as f:
        csv.writer(f).writerow(CSV_FIELDS)

    def run_eval(step, train_loss, elapsed):
        val = evaluate(model, heldout(tokens.val, opts), opts.seq_len, bos_id, device)
        test = evaluate(model, heldout(tokens.test, opts), opts.seq_len, bos_id, device)
        row = [step, step * opts.batch_size * opts.seq_len, f"{lr_at(max(step - 1, 0), opts):.6g}",
               f"{train_loss:.5f}" if train_loss == train_loss else "", f"{val:.5f}", f"{test:.5f}", f"{elapsed:.1f}"]
        with open(csv_path, "a", newline="") as f:
            csv.writer(f).writerow(row)
        log(f"step {step:5d}  train {train_loss:.4f}  val {val:.4f} (ppl {math.exp(val):.1f})  "
            f"test {test:.4f} (ppl {math.exp(test):.1f})  {elapsed:.0f}s")
        return val, test

    start = time.time()
    best = {"val_loss": float("inf"), "step": 0, "state": None, "test_loss": float("nan")}
    history = []
    running, running_n = 0.0, 0
    evals_since_best = 0
    val, test = run_eval(0, float("nan"), 0.0)
    best.update(val_loss=val, test_loss=test, step=0, state=cpu_state(model))
    stop_reason = "steps"
    step = 0
    for step in range(1, opts.steps + 1):
        lr = lr_at(step - 1, opts)
        for g in optimizer.param_groups:
            g["lr"] = lr
        x, y = sampler.next()
        x = torch.from_numpy(x).to(device, non_blocking=True)
        y = torch.from_numpy(y).to(device, non_blocking=True)
        with autocast(device):
            logits = step_fn(x)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if opts.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
        optimizer.step()
        running += loss.detach()  # summed on the device: no host sync every step
        running_n += 1

        minutes = (time.time() - start) / 60.0
        out_of_time = opts.max_minutes > 0 and minutes >= opts.max_minutes
        if step % opts.eval_every == 0 or step == opts.steps or out_of_time:
            train_loss = float(running) / running_n
            running, running_n = 0.0, 0
            val, test = run_eval(step, train_loss, time.time() - start)
            history.append({"step": step, "train_loss": train_loss, "val_loss": val, "test_loss": test})
            # Without val text (a short fine-tuning file) the latest weights are kept.
            if val < best["val_loss"] or math.isnan(val):
                best.update(val_loss=val, test_loss=test, step=step, state=cpu_state(model))
                evals_since_best = 0
            else:
                evals_since_best += 1
            if out_of_time:
                stop_reason = f"time limit ({opts.max_minutes} min)"
                break
            if opts.patience > 0 and evals_since_best >= opts.patience:
                stop_reason = f"val loss flat for {opts.patience} evaluations"
                break
    log(f"stopped after step {step}: {stop_reason}; best val at step {best['step']}")
    return {"best": best, "history": history, "steps_run": step, "stop_reason": stop_reason,
            "train_seconds": time.time() - start}


def save_checkpoint(path: str, cfg: ModelConfig, state: dict, tokenizer_dir: str, extra: dict) -> None:
    """Float master weights + config + the tokenizer files, so export and fine-tuning need
    nothing else."""
    with open(os.path.join(tokenizer_dir, "tokenizer.json")) as f:
        tok_json = f.read()
    with open(os.path.join(tokenizer_dir, "tokenizer_config.json")) as f:
        tok_cfg = f.read()
    torch.save({"config": dataclasses.asdict(cfg), "model": state, "tokenizer_json": tok_json,
                "tokenizer_config_json": tok_cfg, **extra}, path)


def load_checkpoint(path: str, device="cpu") -> tuple[BitNetLM, dict]:
    ckpt = torch.load(path, map_location=device, weights_only=False)
    model = BitNetLM(ModelConfig.from_dict(ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(device), ckpt


def write_tokenizer_files(ckpt: dict, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
        f.write(ckpt["tokenizer_json"])
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        f.write(ckpt["tokenizer_config_json"])


def samples(model: BitNetLM, tok, prompts: list[str], n: int, seed: int) -> list[dict]:
    """Greedy and sampled (temperature 0.8, top-k 40, seeded) continuations of each prompt."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    out = []
    for p in prompts:
        ids = [tok.bos_id] + tok.encode(p)
        greedy = model.generate(ids, n)
        sampled = model.generate(ids, n, temperature=0.8, top_k=40, generator=g)
        out.append({"prompt": p, "greedy": tok.decode(greedy[len(ids):]),
                    "sampled": tok.decode(sampled[len(ids):])})
    return out


def heldout_prompts(corpus: data.Corpus, n_words: int = 6) -> list[str]:
    """The first words of each file's test split: text the model never trained on."""
    prompts = []
    for f in corpus.files:
        for line in f.test.splitlines():
            words = line.split(" ")
            if len([w for w in words if w]) >= n_words:
                prompts.append(" ".join(words[:n_words + (1 if words[0] == "" else 0)]).rstrip())
                break
    return prompts


def write_run_card(path: str, card: dict) -> None:
    card = {"environment": runinfo.versions(), "git": runinfo.git_commit(),
            "command": runinfo.command_line(), **card}
    with open(path, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
