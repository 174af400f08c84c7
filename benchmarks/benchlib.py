"""Shared helpers for the benchmark scripts: locating tools, running llama-bench and
`tern bench`, and reading tensor sizes out of a GGUF file (for bytes read per token)."""

import json
import os
import shutil
import struct
import subprocess
import sys


class BenchError(Exception):
    """A benchmark step that cannot run; the message says what is missing and how to fix it."""


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_tern_build(explicit=None):
    """The ternc build directory: --build, else $TERN_BUILD, else <repo>/build."""
    path = explicit or os.environ.get("TERN_BUILD") or os.path.join(repo_root(), "build")
    return os.path.abspath(path)


def tool(build_dir, name, hint):
    path = os.path.join(build_dir, "bin", name)
    if not os.access(path, os.X_OK):
        raise BenchError(f"{path} not found: {hint}")
    return path


def llama_cpp_tool(env_var, name):
    """A llama.cpp-style tool from the build directory named by |env_var| (bin/ or the dir itself)."""
    base = os.environ.get(env_var)
    if not base:
        raise BenchError(f"${env_var} is not set: point it at a llama.cpp-style build directory "
                         f"holding bin/{name} (see docs/perf/README.md)")
    for candidate in (os.path.join(base, "bin", name), os.path.join(base, name)):
        if os.access(candidate, os.X_OK):
            return candidate
    raise BenchError(f"${env_var}={base}: neither {base}/bin/{name} nor {base}/{name} exists")


def run(cmd, what):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc.stdout


def llama_bench(binary, model, threads, prompt, gen, reps):
    """Runs llama-bench once for pp|prompt| and tg|gen| and returns {prefill_tok_s, decode_tok_s, ...}."""
    out = run([binary, "-m", model, "-t", str(threads), "-p", str(prompt), "-n", str(gen),
               "-r", str(reps), "-o", "json"], "llama-bench")
    # Old builds print log lines before the JSON array.
    start = out.find("[")
    rows = json.loads(out[start:]) if start >= 0 else []
    result = {"prefill_tok_s": None, "decode_tok_s": None}
    for row in rows:
        if row.get("n_prompt") == prompt and row.get("n_gen", 0) == 0:
            result["prefill_tok_s"] = row.get("avg_ts")
            result["prefill_stddev"] = row.get("stddev_ts")
        elif row.get("n_gen") == gen and row.get("n_prompt", 0) == 0:
            result["decode_tok_s"] = row.get("avg_ts")
            result["decode_stddev"] = row.get("stddev_ts")
        for key in ("build_commit", "model_type", "model_size", "cpu_info"):
            if key in row:
                result[key] = row[key]
    if result["prefill_tok_s"] is None or result["decode_tok_s"] is None:
        raise BenchError(f"llama-bench printed no pp{prompt}/tg{gen} rows for {model}")
    return result


def _first(obj, *paths):
    """The first present value among dotted |paths| in a JSON object."""
    for path in paths:
        node = obj
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                node = None
                break
            node = node[part]
        if node is not None:
            return node
    return None


# Kernels that bind a whole table but read only the rows of their tokens or positions.
GATHER_FAMILIES = ("embedding", "rope")


def decode_bytes_per_token(data):
    """Weight bytes one decode step reads, from `tern bench --profile`'s decode kernels: each
    kernel's bound weight bytes times its calls per token, gathers (one embedding row) left out.
    None without a profile."""
    kernels = _first(data, "profile.decode.kernels")
    if not kernels:
        return None
    return int(sum(k["weight_bytes_per_call"] * k["calls_per_token"] for k in kernels
                   if k.get("family") not in GATHER_FAMILIES))


def kernel_profile(data):
    """Per-kernel time and bandwidth of the decode and prefill tests, largest share first."""
    out = {}
    for test in ("decode", "prefill"):
        kernels = _first(data, f"profile.{test}.kernels") or []
        out[test] = [{key: k.get(key) for key in ("symbol", "family", "share", "gb_per_s",
                                                   "weight_bytes_per_call")}
                     for k in sorted(kernels, key=lambda k: -(k.get("share") or 0))]
    return out


def memory_report(data):
    """Peak resident memory against weights + KV cache + 64 MB, when `tern bench` reports it."""
    keys = ("peak_rss_bytes", "weights_bytes", "kv_cache_bytes", "load_seconds",
            "first_token_seconds", "arena_bytes")
    report = {key: data[key] for key in keys if key in data}
    if "peak_rss_bytes" in report and "weights_bytes" in report and "kv_cache_bytes" in report:
        budget = report["weights_bytes"] + report["kv_cache_bytes"] + 64 * 2**20
        report["budget_bytes"] = budget
        report["within_budget"] = report["peak_rss_bytes"] <= budget
    return report


def tern_bench(binary, artifact, threads, prompt, gen, reps=None, profile=False):
    """Runs `tern bench --json` and normalises its fields (see docs/perf/README.md). The
    per-token byte count needs the profile, so it is always taken (in separate, untimed runs)."""
    cmd = [binary, "bench", artifact, "-p", str(prompt), "-n", str(gen),
           "--threads", str(threads), "--json", "--profile"]
    if reps:
        cmd += ["-r", str(reps)]
    out = run(cmd, "tern bench")
    start = out.find("{")
    if start < 0:
        raise BenchError(f"tern bench printed no JSON object:\n{out[-2000:]}")
    data = json.loads(out[start:out.rfind("}") + 1])
    result = {
        "prefill_tok_s": _first(data, "prefill_tok_s", "pp_tok_s", "prefill.tok_s"),
        "decode_tok_s": _first(data, "decode_tok_s", "tg_tok_s", "decode.tok_s"),
        "prefill_stddev": _first(data, "prefill_tok_s_stddev", "prefill_stddev"),
        "decode_stddev": _first(data, "decode_tok_s_stddev", "decode_stddev"),
        "weight_bytes_per_token": decode_bytes_per_token(data),
        "raw": data,
    }
    if result["prefill_tok_s"] is None or result["decode_tok_s"] is None:
        raise BenchError("tern bench --json lacks prefill_tok_s/decode_tok_s: " + json.dumps(data))
    return result


def gguf_tensors(path):
    """(name, ggml type id, shape innermost-first, byte size) of every tensor in a GGUF file.

    Sizes come from the gaps between data offsets, so types this script does not know
    (k-quants, i2_s) are measured too; alignment padding (< alignment bytes) is included."""
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise BenchError(f"{path}: not a GGUF file")
        version, = struct.unpack("<I", f.read(4))
        if version not in (2, 3):
            raise BenchError(f"{path}: GGUF version {version} not supported")
        n_tensors, n_kv = struct.unpack("<QQ", f.read(16))

        def read_str():
            n, = struct.unpack("<Q", f.read(8))
            return f.read(n).decode("utf-8", "replace")

        fixed = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

        def read_value(vtype):
            if vtype in fixed:
                raw = f.read(fixed[vtype])
                return int.from_bytes(raw, "little")
            if vtype == 8:
                return read_str()
            if vtype == 9:
                etype, count = struct.unpack("<IQ", f.read(12))
                if etype in fixed:
                    f.seek(fixed[etype] * count, 1)
                else:
                    for _ in range(count):
                        read_value(etype)
                return None
            raise BenchError(f"{path}: unknown metadata type {vtype}")

        alignment = 32
        for _ in range(n_kv):
            key = read_str()
            vtype, = struct.unpack("<I", f.read(4))
            value = read_value(vtype)
            if key == "general.alignment":
                alignment = value
        infos = []
        for _ in range(n_tensors):
            name = read_str()
            n_dims, = struct.unpack("<I", f.read(4))
            shape = struct.unpack(f"<{n_dims}Q", f.read(8 * n_dims))
            ttype, offset = struct.unpack("<IQ", f.read(12))
            infos.append([name, ttype, list(shape), offset])
        data_start = (f.tell() + alignment - 1) // alignment * alignment
        file_size = os.fstat(f.fileno()).st_size
    ends = sorted(info[3] for info in infos) + [file_size - data_start]
    next_offset = {off: ends[i + 1] for i, off in enumerate(ends[:-1])}
    return [(name, ttype, shape, next_offset[offset] - offset)
            for name, ttype, shape, offset in infos]


def gguf_weight_bytes_per_token(path):
    """Weight bytes one decode step reads: every layer tensor and norm once; the output
    projection (output.weight, else the tied token_embd.weight) once; the embedding row
    lookup is one row and is counted only when the output is untied."""
    tensors = {name: (shape, size) for name, _, shape, size in gguf_tensors(path)}
    total = 0
    for name, (shape, size) in tensors.items():
        if name == "token_embd.weight":
            if "output.weight" in tensors:
                rows = shape[1] if len(shape) > 1 else 1
                total += size // max(rows, 1)
            else:
                total += size
        else:
            total += size
    return total


def which(name):
    return shutil.which(name)


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)
