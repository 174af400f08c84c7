#!/usr/bin/env bash
# Compares ternc with llama.cpp on models/stories260K.gguf at one thread, in one run:
# llama-bench and `tern bench` (pp128, tg64, 5 repetitions each) on the artifact `ternc compile` makes
# for this host, printed as a markdown table with the ratios ours / llama.cpp.
#
# Environment: LLAMA_CPP_BUILD  llama.cpp build directory holding bin/llama-bench (required)
#              TERN_BUILD       ternc build directory holding bin/ternc and bin/tern (default: build)
#              THREADS          threads for both engines (default 1)
#              MODEL            GGUF file (default: models/stories260K.gguf)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
export BENCH_DIR="$here"
export BENCH_THREADS="${THREADS:-1}"
export BENCH_MODEL="${MODEL:-$root/models/stories260K.gguf}"

if [[ -z "${LLAMA_CPP_BUILD:-}" ]]; then
  echo "error: LLAMA_CPP_BUILD is not set: point it at a llama.cpp build directory holding bin/llama-bench (see docs/perf/README.md)" >&2
  exit 1
fi
if [[ ! -f "$BENCH_MODEL" ]]; then
  echo "error: $BENCH_MODEL not found" >&2
  exit 1
fi

BENCH_WORK="$(mktemp -d)"
export BENCH_WORK
trap 'rm -rf "$BENCH_WORK"' EXIT

python3 - <<'PY'
import os, sys
sys.path.insert(0, os.environ["BENCH_DIR"])
import benchlib as bl

model = os.environ["BENCH_MODEL"]
threads = int(os.environ["BENCH_THREADS"])
prompt, gen, reps = 128, 64, 5  # the model's context is 512: pp128 + tg64 fits

try:
    llama = bl.llama_bench(bl.llama_cpp_tool("LLAMA_CPP_BUILD", "llama-bench"), model, threads,
                           prompt, gen, reps)
except bl.BenchError as e:
    bl.fail(str(e))

ours, why = None, None
try:
    build = bl.find_tern_build()
    ternc = bl.tool(build, "ternc", "build ternc (cmake --build <build> --target ternc) or set TERN_BUILD")
    tern = bl.tool(build, "tern", "build the runtime CLI (--target tern) or set TERN_BUILD")
    artifact = os.path.join(os.environ["BENCH_WORK"], "model.tern")
    bl.run([ternc, "compile", model, "-o", artifact, "--target=native"], "ternc compile")
    ours = bl.tern_bench(tern, artifact, threads, prompt, gen, reps)
except bl.BenchError as e:
    why = str(e)

def cell(v):
    return "n/a" if v is None else f"{v:.2f}"

def pm(mean, stddev):
    return cell(mean) if mean is None or stddev is None else f"{cell(mean)} ± {cell(stddev)}"

def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}x"

name = os.path.basename(model)
print(f"{name}, {threads} thread(s), pp{prompt} / tg{gen}, llama.cpp {llama.get('build_commit', '?')}\n")
print(f"| engine | prefill pp{prompt} tok/s | decode tg{gen} tok/s |")
print("|---|---:|---:|")
print(f"| llama.cpp | {pm(llama['prefill_tok_s'], llama.get('prefill_stddev'))} "
      f"| {pm(llama['decode_tok_s'], llama.get('decode_stddev'))} |")
op = ours["prefill_tok_s"] if ours else None
od = ours["decode_tok_s"] if ours else None
print(f"| ternc | {pm(op, ours and ours['prefill_stddev'])} "
      f"| {pm(od, ours and ours['decode_stddev'])} |")
print(f"| ternc / llama.cpp | {ratio(op, llama['prefill_tok_s'])} | {ratio(od, llama['decode_tok_s'])} |")
if why:
    print(f"\nternc side did not run: {why}", file=sys.stderr)
    sys.exit(1)
PY
