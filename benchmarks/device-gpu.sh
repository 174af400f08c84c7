#!/usr/bin/env bash
# The GPU checks and benchmarks of the PTX backend and the cuda device, in one call on the GPU
# machine (which has the NVIDIA driver, torch and Python, but no LLVM 22 and no network).
#
#   benchmarks/device-gpu.sh pack   (here) fills the git-ignored .devkit-gpu/ with what the
#                                    other machine lacks: the Debian packages ternc loads
#                                    (libllvm22, libmlir-22, libz3-4, libedit2),
#                                    bin/ (ternc, tern, make_synthetic_model, tern-gpu-gemv, GpuKernelTests,
#                                    CudaRuntimeSmokeTests from $TERN_BUILD, default build) and
#                                    data/ (two hf-bitnet checkpoints with their goldens, and
#                                    stories260K's llama.cpp completion) — about 60 MiB.
#   benchmarks/device-gpu.sh run [STEP...]  (there, with .devkit-gpu carried) runs the steps
#                                    named (default: all) and writes under $OUT:
#     kernels.txt    every GPU kernel against its reference twin on random shapes and data
#     goldens.txt    hf-bitnet (transformers) and stories260K (llama.cpp) goldens on the GPU
#     runtime.txt    the cuda device's own tests (greedy decode vs the CPU reference twins)
#     torch.json     copy bandwidth and torch bf16 GEMVs for the 2B-4T shapes
#     bench-f16.txt, bench-q6.txt  `tern bench --device cuda --json` on the synthetic 2B-4T
#                    model (lm_head f16, 6-bit): prefill 128 and 1024 tokens, decode with and
#                    without CUDA graphs and programmatic dependent launch, and a per-kernel
#                    profile
#     gemv.json      the batch-1 matmul kernels alone (tern-gpu-gemv), streaming their weights
#   and prints a summary. Each step runs even when an earlier one failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
kit="$root/.devkit-gpu"
out="${OUT:-$root/.devkit-gpu-out}"

pack() {
  local build="${TERN_BUILD:-build}"
  rm -rf "$kit" && mkdir -p "$kit/bin" "$kit/data"
  (cd "$kit" && apt-get download libllvm22 libmlir-22 libz3-4 libedit2 >/dev/null) ||
    { echo "apt-get download failed" >&2; return 1; }
  cp "$build/bin/ternc" "$build/bin/tern" "$build/bin/make_synthetic_model" \
    "$build/bin/tern-gpu-gemv" "$kit/bin/"
  cp "$build/tests/gpu/GpuKernelTests" "$build/tests/cuda/CudaRuntimeSmokeTests" "$kit/bin/"
  strip "$kit"/bin/* # symbols are not needed there, and the transfer is capped
  # Two of the six checkpoints: one online (f32 master weights) and one offline-packed
  # bitlinear; the others are the same two models packed differently, and every megabyte
  # counts against the transfer's cap (the repository travels too).
  mkdir -p "$kit/data/hf-bitnet"
  for model in tiny_a_online tiny_b_offline_bitlinear; do
    cp -r "$root/../shared/data/hf-bitnet/$model" "$kit/data/hf-bitnet/"
  done
  cp "$root/../shared/data/golden/stories260K.greedy.json" "$kit/data/"
  grep -qx '/.devkit-gpu/' .git/info/exclude || echo '/.devkit-gpu/' >>.git/info/exclude
  du -sh "$kit"
}

# Whether step $1 is among the steps asked for (all when none was named).
wanted() {
  [ ${#steps[@]} -eq 0 ] && return 0
  local step
  for step in "${steps[@]}"; do [ "$step" = "$1" ] && return 0; done
  return 1
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
  if wanted kernels; then
    echo "== GPU kernels vs reference twins"
    "$bin/GpuKernelTests" --gtest_also_run_disabled_tests 2>&1 | tee "$out/kernels.txt" |
      grep -E "^(FAIL|device|seed|graph)|passed|Failure" | head -60
  fi
  wanted goldens && echo "== goldens on the GPU" && python3 benchmarks/gpu/check_goldens.py --ternc "$bin/ternc" --tern "$bin/tern" \
    --hf-dir "$kit/data/hf-bitnet" --stories models/stories260K.gguf \
    --stories-golden "$kit/data/stories260K.greedy.json" --work "$work" 2>&1 | tee "$out/goldens.txt"
  if wanted runtime; then
    echo "== cuda device tests"
    "$bin/ternc" compile "$kit/data/hf-bitnet/tiny_b_offline_bitlinear" --target=sm_90 \
      -o "$work/tiny_b.tern"
    TERN_TEST_CUDA_ARTIFACT="$work/tiny_b.tern" "$bin/CudaRuntimeSmokeTests" 2>&1 | tee "$out/runtime.txt" | tail -5
  fi
  if wanted gemv; then
    echo "== matmul kernels at batch 1"
    "$bin/tern-gpu-gemv" >"$out/gemv.json" 2>&1
    cat "$out/gemv.json"
  fi
  if wanted torch; then
    echo "== torch baseline"
    python3 benchmarks/gpu/torch_baseline.py >"$out/torch.json" 2>&1
    cat "$out/torch.json"
  fi
  wanted bench || return 0
  echo "== synthetic 2B-4T on the GPU"
  "$bin/make_synthetic_model" -o "$work/2b.gguf" >/dev/null &&
    "$bin/ternc" compile "$work/2b.gguf" --target=sm_90 --max-batch-rows=512 -o "$work/2b-f16.tern" &&
    "$bin/ternc" compile "$work/2b.gguf" --target=sm_90 --max-batch-rows=512 --lm-head=q6 -o "$work/2b-q6.tern"
  # One file per lm_head (at most 8 files come back): a "== <test>" line before each JSON.
  for lm in f16 q6; do
    local file="$out/bench-$lm.txt" model="$work/2b-$lm.tern"
    : >"$file"
    bench() {
      local name=$1
      shift
      echo "== $name" >>"$file"
      "$bin/tern" bench "$model" --device cuda --json "$@" >>"$file" 2>&1
    }
    bench p128-n128 -p 128 -n 128 -r 3
    bench p1024 -p 1024 -n 0 -r 3
    TERN_CUDA_GRAPHS=0 bench n128-no-graphs -p 0 -n 128 -r 3
    TERN_CUDA_PDL=0 bench n128-no-pdl -p 0 -n 128 -r 3
    bench profile -p 128 -n 64 --profile
    echo "$lm:"
    grep -E '^== |"(prefill|decode)_tok_s"|"device"' "$file" | grep -v profile
  done
}

case "${1:-}" in
  pack) pack ;;
  run) shift; steps=("$@"); run ;;
  *) echo "usage: $0 pack | run" >&2; exit 2 ;;
esac
