#!/usr/bin/env bash
# The GPU checks and benchmarks of the PTX backend and the cuda device, in one call on the GPU
# machine (which has the NVIDIA driver, torch and Python, but no LLVM 22 and no network).
#
#   benchmarks/device-gpu.sh pack   (here) fills the git-ignored .devkit-gpu/ with what the
#                                    other machine lacks: the Debian packages ternc loads
#                                    (libllvm22, libmlir-22, liblld-22, libz3-4, libedit2),
#                                    bin/ (ternc, tern, make_synthetic_model, GpuKernelTests,
#                                    CudaRuntimeTests from $TERN_BUILD, default build) and
#                                    data/ (the hf-bitnet checkpoints with their goldens and
#                                    stories260K's llama.cpp completion) — about 60 MiB.
#   benchmarks/device-gpu.sh run    (there, with .devkit-gpu carried) writes under $OUT:
#     kernels.txt    every GPU kernel against its reference twin on random shapes and data
#     goldens.txt    hf-bitnet (transformers) and stories260K (llama.cpp) goldens on the GPU
#     runtime.txt    the cuda device's own tests (greedy decode vs the CPU reference twins)
#     torch.json     copy bandwidth and torch bf16 GEMVs for the 2B-4T shapes
#     bench-*.json   `tern bench --device cuda --json` on the synthetic 2B-4T model: prefill
#                    128 and 1024 tokens, decode, with and without CUDA graphs, and a profile
#   and prints a summary. Each step runs even when an earlier one failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
kit="$root/.devkit-gpu"
out="${OUT:-$root/.devkit-gpu-out}"

pack() {
  local build="${TERN_BUILD:-build}"
  rm -rf "$kit" && mkdir -p "$kit/bin" "$kit/data"
  (cd "$kit" && apt-get download libllvm22 libmlir-22 liblld-22 libz3-4 libedit2 >/dev/null) ||
    { echo "apt-get download failed" >&2; return 1; }
  cp "$build/bin/ternc" "$build/bin/tern" "$build/bin/make_synthetic_model" "$kit/bin/"
  cp "$build/tests/gpu/GpuKernelTests" "$kit/bin/"
  local runtime_test
  runtime_test=$(find "$build/tests" -name CudaRuntimeTests -type f | head -1)
  [ -n "$runtime_test" ] && cp "$runtime_test" "$kit/bin/"
  cp -r "$root/../shared/data/hf-bitnet" "$kit/data/"
  cp "$root/../shared/data/golden/stories260K.greedy.json" "$kit/data/"
  grep -qx '/.devkit-gpu/' .git/info/exclude || echo '/.devkit-gpu/' >>.git/info/exclude
  du -sh "$kit"
}

run() {
  mkdir -p "$out"
  local libs="$root/.devkit-gpu-root"
  mkdir -p "$libs"
  for deb in "$kit"/*.deb; do dpkg -x "$deb" "$libs"; done
  export LD_LIBRARY_PATH="$libs/usr/lib/x86_64-linux-gnu:$libs/usr/lib/llvm-22/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local bin="$kit/bin" work=/tmp/tern-gpu
  mkdir -p "$work"
  nvidia-smi >"$out/nvidia-smi.txt" 2>&1
  echo "== GPU kernels vs reference twins"
  "$bin/GpuKernelTests" 2>&1 | tee "$out/kernels.txt" | grep -E "^(FAIL|device|seed)|passed|Failure" | head -60
  echo "== goldens on the GPU"
  python3 benchmarks/gpu/check_goldens.py --ternc "$bin/ternc" --tern "$bin/tern" \
    --hf-dir "$kit/data/hf-bitnet" --stories models/stories260K.gguf \
    --stories-golden "$kit/data/stories260K.greedy.json" --work "$work" 2>&1 | tee "$out/goldens.txt"
  if [ -x "$bin/CudaRuntimeTests" ]; then
    echo "== cuda device tests"
    "$bin/ternc" compile "$kit/data/hf-bitnet/tiny_b_online" --target=sm_90 -o "$work/tiny_b.tern"
    TERN_TEST_CUDA_ARTIFACT="$work/tiny_b.tern" "$bin/CudaRuntimeTests" 2>&1 | tee "$out/runtime.txt" | tail -5
  fi
  echo "== torch baseline"
  python3 benchmarks/gpu/torch_baseline.py >"$out/torch.json" 2>"$out/torch.err"; tail -3 "$out/torch.json"
  echo "== synthetic 2B-4T on the GPU"
  "$bin/make_synthetic_model" -o "$work/2b.gguf" >/dev/null &&
    "$bin/ternc" compile "$work/2b.gguf" --target=sm_90 --max-batch-rows=512 -o "$work/2b-f16.tern" &&
    "$bin/ternc" compile "$work/2b.gguf" --target=sm_90 --max-batch-rows=512 --lm-head=q6 -o "$work/2b-q6.tern"
  for lm in f16 q6; do
    "$bin/tern" bench "$work/2b-$lm.tern" --device cuda -p 128 -n 128 -r 3 --json >"$out/bench-$lm-p128.json" 2>&1
    "$bin/tern" bench "$work/2b-$lm.tern" --device cuda -p 1024 -n 0 -r 3 --json >"$out/bench-$lm-p1024.json" 2>&1
    TERN_CUDA_GRAPHS=0 "$bin/tern" bench "$work/2b-$lm.tern" --device cuda -p 0 -n 128 -r 3 --json \
      >"$out/bench-$lm-nographs.json" 2>&1
    "$bin/tern" bench "$work/2b-$lm.tern" --device cuda -p 128 -n 64 --profile --json \
      >"$out/bench-$lm-profile.json" 2>&1
    echo "$lm:"; grep -h -E '"(prefill|decode)_tok_s"' "$out/bench-$lm-p128.json" "$out/bench-$lm-p1024.json" "$out/bench-$lm-nographs.json"
  done
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: $0 pack | run" >&2; exit 2 ;;
esac
