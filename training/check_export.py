"""Checks an exported model through ternc and the tern runtime against its PyTorch goldens.

    python training/check_export.py EXPORT_DIR [--gguf FILE.gguf] [--bin DIR_WITH_TERNC_AND_TERN]
    python training/check_export.py models/NAME --ternc PATH --tern PATH     # a bundled model

EXPORT_DIR holds golden.safetensors (and tokenizer.json + tokenizer_config.json, unless it is a
bundled GGUF-only folder, whose tokenizer is read from the GGUF), and either the
Hugging Face files (config.json + model.safetensors, as export.py writes them), or a model.gguf
(as bundle.py lays out models/NAME), or both. Needs numpy and safetensors only (no PyTorch), so
it runs as a ctest with the project's Python.

For the Hugging Face directory and the GGUF file (--gguf, else EXPORT_DIR/model.gguf), each
`ternc compile` for the host CPU, then for every golden prompt
  - `ternc tokenize` of the prompt text gives the golden input ids (BOS first);
  - `tern logits` of the prompt and its golden greedy continuation: over the prompt positions,
    max |tern - torch| <= 2e-3 * max |torch|; at every later position the argmax is the next
    golden token (greedy decoding is teacher forcing on its own output);
  - `tern run --temp 0` prints the prompt followed by the golden greedy text (the KV-cache
    decode path, and detokenization).
Finally prints one sampled `tern run -n 32` completion. Ends with `N passed, N failed`; exit
status 1 on any failure, 77 (ctest's skip) with --missing-ok when EXPORT_DIR is absent.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from safetensors.numpy import load_file
    from safetensors import safe_open
except ImportError as e:  # a ctest skip, as the other Python cross-checks do
    print(f"skipped: {e}")
    sys.exit(77)

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TOLERANCE = 2e-3


def run_bytes(cmd: list[str]) -> bytes:
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr.decode(errors='replace').strip()}")
    return r.stdout


def run(cmd: list[str]) -> str:
    return run_bytes(cmd).decode("utf-8", errors="replace")


def byte_level_chars() -> dict[str, int]:
    """Byte-level BPE spells byte b as itself when it is a printable Latin-1 character
    ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) and as chr(256 + n) for the n-th other byte."""
    printable = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    char_to_byte, n = {}, 0
    for b in range(256):
        if b in printable:
            char_to_byte[chr(b)] = b
        else:
            char_to_byte[chr(256 + n)] = b
            n += 1
    return char_to_byte


def gguf_tokenizer(gguf_path: str) -> tuple[list[bytes], int | None]:
    """Token bytes and the EOS id from a GGUF file's own tokenizer metadata (a bundled model
    folder holds the GGUF alone). Control tokens (type 3) stand for no bytes."""
    import gguf as gguf_package  # the project's venv has it; only this path needs it
    reader = gguf_package.GGUFReader(gguf_path)
    fields = reader.fields
    tokens = [bytes(fields["tokenizer.ggml.tokens"].parts[i]).decode("utf-8")
              for i in fields["tokenizer.ggml.tokens"].data]
    types = [int(fields["tokenizer.ggml.token_type"].parts[i][0])
             for i in fields["tokenizer.ggml.token_type"].data]
    char_to_byte = byte_level_chars()
    pieces = [b"" if kind == 3 else bytes(char_to_byte[c] for c in text)
              for text, kind in zip(tokens, types)]
    eos = fields.get("tokenizer.ggml.eos_token_id")
    return pieces, (int(eos.parts[eos.data[0]][0]) if eos else None)


def token_bytes(export_dir: str) -> list[bytes]:
    """The bytes each token id stands for (b"" for special tokens), from tokenizer.json."""
    char_to_byte = byte_level_chars()
    with open(os.path.join(export_dir, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    out = [b""] * (max(tj["model"]["vocab"].values()) + 1)
    for text, i in tj["model"]["vocab"].items():
        out[i] = bytes(char_to_byte[c] for c in text)
    for a in tj.get("added_tokens", []):
        if a["id"] >= len(out):
            out.extend([b""] * (a["id"] + 1 - len(out)))
        out[a["id"]] = b"" if a.get("special") else a["content"].encode("utf-8")
    return out


def eos_token_id(export_dir: str) -> int | None:
    """From config.json when the Hugging Face files are there, else tokenizer_config.json's
    eos_token looked up in tokenizer.json."""
    config = os.path.join(export_dir, "config.json")
    if os.path.isfile(config):
        with open(config) as f:
            return json.load(f).get("eos_token_id")
    with open(os.path.join(export_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        eos = json.load(f).get("eos_token")
    with open(os.path.join(export_dir, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    ids = {a["content"]: a["id"] for a in tj.get("added_tokens", [])}
    ids.update(tj["model"]["vocab"])
    return ids.get(eos)


def find_bin(name: str, bin_dir: str | None, explicit: str | None = None) -> str:
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            sys.exit(f"{name}: {explicit} is not an executable file")
        return explicit
    candidates = [os.path.join(bin_dir, name)] if bin_dir else []
    candidates += [os.path.join(REPO, d, "bin", name) for d in ("build", "build-lead")]
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    found = shutil.which(name)
    if not found:
        sys.exit(f"cannot find {name}: build it or pass --bin")
    return found


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok: bool, what: str, detail: str = "") -> bool:
        self.passed += ok
        self.failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {what}{'  ' + detail if detail else ''}", flush=True)
        return ok


def load_goldens(export_dir: str):
    path = os.path.join(export_dir, "golden.safetensors")
    tensors = load_file(path)
    with safe_open(path, "np") as f:
        meta = f.metadata() or {}
    prompts = sorted({k.split(".")[0] for k in tensors}, key=lambda p: int(p[1:]))
    return [(p, meta.get(p + ".text"), meta.get(p + ".greedy_text"), tensors[p + ".input_ids"].reshape(-1),
             tensors[p + ".logits"], tensors[p + ".greedy"].reshape(-1)) for p in prompts]


def check_prompt(label: str, tag: str, artifact: str, golden, pieces: list[bytes], ternc: str, tern: str,
                 work: str, threads: int, eos_id: int | None, check: Checks) -> None:
    name, text, _, ids, ref, greedy = golden
    if text is not None:
        got = [int(t) for t in run([ternc, "tokenize", artifact, "--text", text]).split()]
        check(got == ids.tolist(), f"{tag}: ternc tokenize {text!r}", "" if got == ids.tolist()
              else f"got {got}, golden {ids.tolist()}")

    out = os.path.join(work, f"{label}.{name}.safetensors")
    run([tern, "logits", artifact, "--tokens", ",".join(str(int(t)) for t in greedy), "-o", out,
         "-t", str(threads)])
    logits = load_file(out)["logits"].reshape(len(greedy), -1)
    n = len(ids)
    diff = float(np.abs(logits[:n] - ref).max())
    scale = float(np.abs(ref).max())
    check(diff <= TOLERANCE * scale, f"{tag}: logits of {n} positions",
          f"max|diff| {diff:.3g} = {diff / scale:.2e} of max|ref| {scale:.3g}")
    argmax = logits[n - 1:-1].argmax(axis=-1)
    want = greedy[n:]
    agree = int((argmax == want).sum())
    detail = f"{agree}/{len(want)} greedy tokens"
    if agree < len(want):
        i = int(np.nonzero(argmax != want)[0][0])
        row = logits[n - 1 + i]
        detail += (f"; first difference at +{i}: tern {int(argmax[i])} ({row[argmax[i]]:.4f}) vs golden "
                   f"{int(want[i])} ({row[want[i]]:.4f})")
    check(agree == len(want), f"{tag}: greedy tokens (teacher-forced argmax)", detail)

    if text is not None:
        cont = greedy[n:].tolist()
        if eos_id is not None and eos_id in cont:
            cont = cont[:cont.index(eos_id)]  # generation ends there
        printed = run_bytes([tern, "run", artifact, "-p", text, "-n", str(len(cont)), "--temp", "0",
                             "-t", str(threads)])
        # Bytes, not text: a token may end in the middle of a UTF-8 character.
        expect = text.encode("utf-8") + b"".join(pieces[t] for t in cont)
        ok = printed.rstrip(b"\n") == expect.rstrip(b"\n")
        check(ok, f"{tag}: tern run --temp 0 -n {len(cont)}", "" if ok else f"printed {printed!r}, golden {expect!r}")


def check_model(label: str, source: str, goldens, pieces: list[bytes], ternc: str, tern: str, work: str,
                threads: int, eos_id: int | None, check: Checks) -> None:
    artifact = os.path.join(work, label + ".tern")
    try:
        run([ternc, "compile", source, "-o", artifact, "--target=native"])
        check(True, f"{label}: ternc compile {os.path.basename(source)}")
    except RuntimeError as e:
        check(False, f"{label}: ternc compile", str(e))
        return
    for golden in goldens:
        tag = f"{label} {golden[0]}"
        try:
            check_prompt(label, tag, artifact, golden, pieces, ternc, tern, work, threads, eos_id, check)
        except RuntimeError as e:  # a tool failed: count it and go on, so the summary line still comes
            check(False, f"{tag}: {e}")

    try:
        demo = goldens[-1][1] or "Once upon a time"
        printed = run([tern, "run", artifact, "-p", demo, "-n", "32", "--seed", "1", "-t", str(threads)])
        print(f"      {label}: tern run -p {demo!r} -n 32 --seed 1:\n{printed.rstrip()}\n")
        check(len(printed) > len(demo), f"{label}: tern run -n 32 printed text")
    except RuntimeError as e:
        check(False, f"{label}: tern run -n 32", str(e))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export_dir")
    ap.add_argument("--gguf", default=None, help="GGUF file to check (default: EXPORT_DIR/model.gguf if present)")
    ap.add_argument("--bin", default=None, help="folder with ternc and tern (default: build*/bin, PATH)")
    ap.add_argument("--ternc", default=None, help="the ternc binary (overrides --bin)")
    ap.add_argument("--tern", default=None, help="the tern binary (overrides --bin)")
    ap.add_argument("--missing-ok", action="store_true", help="exit 77 (skip) when EXPORT_DIR does not exist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", default=None, help="keep artifacts and logits here instead of a temp folder")
    args = ap.parse_args()

    if args.missing_ok and not os.path.isdir(args.export_dir):
        print(f"skipped: {args.export_dir} does not exist")
        sys.exit(77)
    ternc, tern = find_bin("ternc", args.bin, args.ternc), find_bin("tern", args.bin, args.tern)
    has_hf = all(os.path.isfile(os.path.join(args.export_dir, n)) for n in ("config.json", "model.safetensors"))
    gguf = args.gguf
    if gguf is None and os.path.isfile(os.path.join(args.export_dir, "model.gguf")):
        gguf = os.path.join(args.export_dir, "model.gguf")
    if not has_hf and gguf is None:
        sys.exit(f"{args.export_dir}: neither config.json + model.safetensors nor model.gguf to check")
    goldens = load_goldens(args.export_dir)
    if os.path.isfile(os.path.join(args.export_dir, "tokenizer.json")):
        eos_id = eos_token_id(args.export_dir)
        pieces = token_bytes(args.export_dir)
    else:  # a bundled folder: the GGUF carries the tokenizer
        pieces, eos_id = gguf_tokenizer(gguf)
    work = args.keep or tempfile.mkdtemp(prefix="check_export.")
    os.makedirs(work, exist_ok=True)
    check = Checks()
    if has_hf:
        check_model("hf", args.export_dir, goldens, pieces, ternc, tern, work, args.threads, eos_id, check)
    if gguf:
        check_model("gguf", gguf, goldens, pieces, ternc, tern, work, args.threads, eos_id, check)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{check.passed} passed, {check.failed} failed")
    sys.exit(1 if check.failed else 0)


if __name__ == "__main__":
    main()
