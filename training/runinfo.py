"""What a run card records about the environment: library versions, device, git commit."""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys

REPO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("torch", "numpy", "tokenizers", "safetensors", "matplotlib", "gguf"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    try:
        import torch

        out["cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            out["device"] = torch.cuda.get_device_name(0)
    except Exception:
        pass
    return out


def git_commit() -> dict:
    """HEAD and whether the tree differs from it; None where git or the .git folder is absent
    (a copied tree)."""
    def git(*args):
        r = subprocess.run(["git", "-C", REPO_ROOT, *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--", "training")
    return {"commit": head, "training_dir_modified": None if status is None else bool(status)}


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def command_line() -> str:
    return " ".join([os.path.basename(sys.executable)] + sys.argv)
