#!/usr/bin/env bash
# The GPU checks and benchmarks of the PTX backend and the cuda device, on the GPU machine
# (which has the NVIDIA driver, torch and Python, but no LLVM 22 and no network).
#
# What travels to that machine is capped (64 MiB with the repository), and LLVM's and MLIR's
# libraries alone are 51 MiB, so the kit is packed per step:
#
#   benchmarks/device-gpu.sh pack kernels   (here) the Debian packages ternc's code generator
#                     loads (libllvm22, libmlir-22, libz3-4, libedit2), GpuKernelTests and
#                     tern-gpu-gemv from $TERN_BUILD (default build), and, with
#                     BITNET_REPO=<git dir of a microsoft/BitNet clone>, its GPU kernel's source
#   benchmarks/device-gpu.sh pack goldens   tern, CudaRuntimeSmokeTests and sm_90 artifacts
#                     compiled here (two hf-bitnet checkpoints, the ONNX graphs, stories260K) with
#                     their goldens: no LLVM needed there
#   benchmarks/device-gpu.sh pack bench     the packages, ternc (from a build without the ONNX
#                     frontend: protobuf would not fit), tern and make_synthetic_model,
#                     xz-compressed (the 2B-4T artifact is too large to travel: it is made there)
#
# into the git-ignored .devkit-gpu/, then
#
#   benchmarks/device-gpu.sh run [STEP...]  (there, with .devkit-gpu carried) runs the steps
#                                    named (default: every step the kit can run) and writes
#                                    under $OUT:
#     kernels.txt    every GPU kernel against its reference twin on random shapes and data
#     gemv.json      the batch-1 matmul kernels alone (tern-gpu-gemv), streaming their weights
#     bitnet.json    microsoft/BitNet's W2A8 GPU kernel, built there with nvcc, timed the same way
#     goldens.txt    hf-bitnet (transformers), ONNX graphs (ONNX Runtime) and stories260K
#                    (llama.cpp) goldens on the GPU
#     runtime.txt    the cuda device's own tests (greedy decode vs the CPU reference twins)
#     goldens-fused.txt, runtime-fused.txt  the same for artifacts compiled with
#                    --gpu-fuse-decode-attention (decode's rope and attention in one kernel)
#     torch.json     copy bandwidth and torch bf16 GEMVs for the 2B-4T shapes
#     bench-f16.txt, bench-q6.txt  `tern bench --device cuda --json` on the synthetic 2B-4T
#                    model (lm_head f16, 6-bit): prefill 128 and 1024 tokens, decode with and
#                    without CUDA graphs and programmatic dependent launch, and a per-kernel
#                    profile
#   and prints a summary. Each step runs even when an earlier one failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
kit="$root/.devkit-gpu"
out="${OUT:-$root/.devkit-gpu-out}"
build="${TERN_BUILD:-build}"
# shellcheck source=devkit-common.sh
source "$root/benchmarks/devkit-common.sh"

# The sm_90 artifacts and goldens check_goldens.py reads with --prebuilt.
goldens_kit() {
  local art="$kit/artifacts" ternc="$build/bin/ternc"
  mkdir -p "$art" "$kit/data/hf-bitnet"
  compile() { "$ternc" compile "$2" --target=sm_90 "${@:3}" -o "$art/$1.tern" || return 1; }
  # Two of the six checkpoints: one online (f32 master weights), one offline-packed bitlinear.
  for model in tiny_a_online tiny_b_offline_bitlinear; do
    local src="$root/../shared/data/hf-bitnet/$model"
    compile "$model" "$src" --max-batch-rows=4 && mkdir -p "$kit/data/hf-bitnet/$model" &&
      cp "$src/golden.safetensors" "$kit/data/hf-bitnet/$model/"
  done
  compile tiny_b "$root/../shared/data/hf-bitnet/tiny_b_offline_bitlinear"
  for m in "$root/../shared/data/onnx/"*.onnx; do
    compile "$(basename "$m" .onnx)" "$m" --max-batch-rows=4
  done
  for m in tests/onnx/models/*/model.onnx; do
    compile "$(basename "$(dirname "$m")")" "$m" --max-batch-rows=4
  done
  compile stories260K models/stories260K.gguf
  cp "$root/../shared/data/golden/stories260K.greedy.json" "$kit/data/"
  # The same checkpoints with decode's rope and attention fused (--gpu-fuse-decode-attention),
  # which the goldens and runtime steps check as well.
  art="$kit/artifacts-fused"
  mkdir -p "$art"
  for model in tiny_a_online tiny_b_offline_bitlinear; do
    compile "$model" "$root/../shared/data/hf-bitnet/$model" --max-batch-rows=4 \
      --gpu-fuse-decode-attention || return 1
  done
  compile tiny_b "$root/../shared/data/hf-bitnet/tiny_b_offline_bitlinear" \
    --gpu-fuse-decode-attention || return 1
  compile stories260K models/stories260K.gguf --gpu-fuse-decode-attention || return 1
}

# microsoft/BitNet's GPU kernel source, for the `bitnet` step to build with nvcc there and time
# beside ours. Taken from a clone named by $BITNET_REPO (a git directory); skipped without one.
# It only travels in the git-ignored kit: no file of it is committed.
bitnet_source() {
  [ -n "${BITNET_REPO:-}" ] || return 0
  mkdir -p "$kit/bitnet"
  for f in bitnet_kernels.cu bitnet_kernels.h; do
    git --git-dir="$BITNET_REPO" show "HEAD:gpu/bitnet_kernels/$f" >"$kit/bitnet/$f" || return 1
  done
  git --git-dir="$BITNET_REPO" rev-parse HEAD >"$kit/bitnet/COMMIT"
}

pack() {
  local what="${1:-}"
  rm -rf "$kit" && mkdir -p "$kit/bin"
  case "$what" in
    kernels)
      devkit_download_debs "$kit" && cp "$build/tests/gpu/GpuKernelTests" "$build/bin/tern-gpu-gemv" "$kit/bin/" &&
        bitnet_source ;;
    goldens) cp "$build/bin/tern" "$build/tests/cuda/CudaRuntimeSmokeTests" "$kit/bin/" && goldens_kit ;;
    bench)
      # protobuf and libonnx would not fit beside LLVM: this ternc must be built without the
      # ONNX frontend (cmake -DCMAKE_DISABLE_FIND_PACKAGE_Protobuf=ON).
      if ldd "$build/bin/ternc" | grep -q "libprotobuf\|libonnx"; then
        echo "$build/bin/ternc links protobuf/libonnx, which the GPU machine lacks; configure" \
          "a build with -DCMAKE_DISABLE_FIND_PACKAGE_Protobuf=ON and pass it as TERN_BUILD" >&2
        return 1
      fi
      devkit_download_debs "$kit" && cp "$build/bin/ternc" "$build/bin/tern" "$build/bin/make_synthetic_model" "$kit/bin/" ;;
    *) echo "usage: $0 pack kernels|goldens|bench" >&2; return 2 ;;
  esac || return 1
  strip "$kit"/bin/* # symbols are not needed there, and the transfer is capped
  # The kits are within a megabyte of the cap: binaries travel xz-compressed.
  xz -9 "$kit"/bin/*
  grep -qx '/.devkit-gpu/' .git/info/exclude || echo '/.devkit-gpu/' >>.git/info/exclude
  du -sh "$kit"
}

# Whether the kit holds what a step needs.
has() { [ -e "$kit/$1" ]; }

run() {
  mkdir -p "$out"
  devkit_use_debs "$kit" "$root/.devkit-gpu-root"
  local bin="$kit/bin" work=/tmp/tern-gpu
  mkdir -p "$work"
  for packed in "$bin"/*.xz; do [ -e "$packed" ] && xz -dkf "$packed"; done
  nvidia-smi >"$out/nvidia-smi.txt" 2>&1
  if wanted kernels && has bin/GpuKernelTests; then
    echo "== GPU kernels vs reference twins"
    "$bin/GpuKernelTests" --gtest_also_run_disabled_tests 2>&1 | tee "$out/kernels.txt" |
      grep -E "^(FAIL|device|seed|graph)|passed|Failure" | head -60
  fi
  # ONNX graphs against ONNX Runtime: the two shared exports and the tiny ones in tests/onnx
  # (the artifacts are prebuilt, so the shared .onnx files themselves need not travel).
  local onnx=(--onnx "hf-internal-testing__tiny-qwen35-cuda__decoder.onnx=tests/onnx/goldens/tiny-qwen35.golden.safetensors"
              --onnx "hf-internal-testing__tiny-random-gpt2-fp32__past.onnx=tests/onnx/goldens/tiny-gpt2.golden.safetensors")
  for m in tests/onnx/models/*/model.onnx; do onnx+=(--onnx "$m=$(dirname "$m")/golden.safetensors"); done
  if wanted goldens && has artifacts; then
    echo "== goldens on the GPU"
    python3 benchmarks/gpu/check_goldens.py --prebuilt "$kit/artifacts" --tern "$bin/tern" \
      --hf-dir "$kit/data/hf-bitnet" --stories models/stories260K.gguf \
      --stories-golden "$kit/data/stories260K.greedy.json" "${onnx[@]}" --work "$work" 2>&1 |
      tee "$out/goldens.txt"
  fi
  if wanted goldens && has artifacts-fused; then
    echo "== goldens on the GPU, decode attention fused"
    python3 benchmarks/gpu/check_goldens.py --prebuilt "$kit/artifacts-fused" --tern "$bin/tern" \
      --hf-dir "$kit/data/hf-bitnet" --stories models/stories260K.gguf \
      --stories-golden "$kit/data/stories260K.greedy.json" --work "$work" 2>&1 |
      tee "$out/goldens-fused.txt"
  fi
  if wanted runtime && has bin/CudaRuntimeSmokeTests; then
    echo "== cuda device tests"
    TERN_TEST_CUDA_ARTIFACT="$kit/artifacts/tiny_b.tern" "$bin/CudaRuntimeSmokeTests" 2>&1 |
      tee "$out/runtime.txt" | tail -5
    if has artifacts-fused; then
      echo "== cuda device tests, decode attention fused"
      TERN_TEST_CUDA_ARTIFACT="$kit/artifacts-fused/tiny_b.tern" "$bin/CudaRuntimeSmokeTests" 2>&1 |
        tee "$out/runtime-fused.txt" | tail -5
    fi
  fi
  if wanted gemv && has bin/tern-gpu-gemv; then
    echo "== matmul kernels at batch 1"
    "$bin/tern-gpu-gemv" >"$out/gemv.json" 2>&1
    cat "$out/gemv.json"
  fi
  if wanted bitnet && has bitnet/bitnet_kernels.cu; then
    echo "== microsoft/BitNet's GPU kernel ($(cat "$kit/bitnet/COMMIT"))"
    local nvcc
    nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
    (cd "$kit/bitnet" && "$nvcc" -std=c++17 -O3 -Xcudafe --diag_suppress=177 \
      --compiler-options -fPIC --shared bitnet_kernels.cu -lcuda \
      -gencode=arch=compute_90,code=sm_90 -o "$work/libbitnet.so") &&
      python3 benchmarks/gpu/bitnet_gpu_baseline.py "$work/libbitnet.so" >"$out/bitnet.json" 2>&1
    cat "$out/bitnet.json"
  fi
  if wanted torch && { has bin/tern-gpu-gemv || has bin/make_synthetic_model; }; then
    echo "== torch baseline"
    python3 benchmarks/gpu/torch_baseline.py >"$out/torch.json" 2>&1
    cat "$out/torch.json"
  fi
  { wanted bench && has bin/make_synthetic_model; } || return 0
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
  pack) shift; pack "$@" ;;
  run) shift; steps=("$@"); run ;;
  *) echo "usage: $0 pack kernels|goldens|bench | run [STEP...]" >&2; exit 2 ;;
esac
